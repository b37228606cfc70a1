"""Data-parallel learning (agent_runtime/distributed.py): 2 gloo ranks on CPU, the tiny model, the toy task.

One spawn of two real ranks (torch.multiprocessing, a real gloo process group) runs the trainer; the
tests compare what they recorded with one process trained on the union of both ranks' rollouts.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from agent_runtime.buffer import Rollout
from agent_runtime.config import load_config

TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false", "env.in_process=true"]
# Per rank: 4 envs x 4 steps = 16 decisions, one minibatch of all of them (the union's minibatch is 32).
PER_RANK = [
    "env.num_envs=4",
    "run.num_steps=4",
    "ppo.minibatch_size=16",
    "ppo.micro_batch_size=16",
    "ppo.update_epochs=1",
]
UPDATES = 2


def _cfg(out: Path, *extra: str) -> Any:
    return load_config("toy", [*TINY, *PER_RANK, f"run.output_dir={out}", "checkpoint.every=0", *extra])


class InOrder:
    """A minibatch order that keeps the rollout's order (a stand-in for ``np.random.Generator``).

    Both sides of the comparison then sum the same decisions in the same order. With another order
    the fp32 rounding differs, and Adam's first step, ``g / (|g| + 1e-5)``, turns that rounding of
    near-zero gradients into parameter differences near 1e-6."""

    def permutation(self, n: int) -> np.ndarray:
        return np.arange(n)


def _trainable(policy: Any) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).clone() for p in policy.actor_parameters() + policy.critic_parameters()])


def _rank(rank: int, world: int, port: int, out: str) -> None:
    """One rank: train UPDATES updates (recording rollouts and parameters), then one update with target_kl."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from agent_runtime.trainer import Trainer

    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        t = Trainer(_cfg(Path(out), f"run.total_decisions={UPDATES * 16 * world}", "run.name=equal"))
        rec: dict[str, Any] = {"initial": _trainable(t.policy), "rollouts": [], "params": [], "stats": []}
        learn = t.algo.learn

        def recording(rollout: Rollout, rng: np.random.Generator) -> dict[str, float]:
            rec["rollouts"].append(rollout)
            out = learn(rollout, InOrder())  # type: ignore[arg-type]
            rec["params"].append(_trainable(t.policy))
            rec["stats"].append(out)
            return out

        t.algo.learn = recording  # type: ignore[method-assign]
        rec["counters"] = t.train()["counters"]
        rec["rng_saved"] = (t.sample_gen.get_state(), t.np_rng.bit_generator.state, torch.get_rng_state())
        dist.barrier()  # rank 0 has written the final checkpoint
        again = Trainer(_cfg(Path(out), f"run.total_decisions={UPDATES * 16 * world}", "run.name=equal",
                             "checkpoint.resume=auto"))  # fmt: skip
        rec["rng_resumed"] = (again.sample_gen.get_state(), again.np_rng.bit_generator.state, torch.get_rng_state())
        rec["resumed_params"] = _trainable(again.policy)
        again.close()

        # Target KL: rank 1's recorded log-probs are off by 0.5 (its approximate KL ~0.15), rank 0's are
        # exact (KL 0 on the first minibatch). The global KL (~0.07) is over 0.01: both stop after one step.
        t2 = Trainer(
            _cfg(Path(out), f"run.total_decisions={16 * world}", "run.name=kl", "ppo.target_kl=0.01",
                 "ppo.update_epochs=4"),
        )  # fmt: skip
        learn2 = t2.algo.learn

        def shifted(rollout: Rollout, rng: np.random.Generator) -> dict[str, float]:
            for tr in rollout.transitions():
                tr.logp -= 0.5 * rank
            out = learn2(rollout, rng)
            rec["kl_stats"] = out
            return out

        t2.algo.learn = shifted  # type: ignore[method-assign]
        t2.train()
        torch.save(rec, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("dp")
    mp.start_processes(_rank, args=(2, _free_port(), str(out)), nprocs=2, join=True, start_method="spawn")
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


def _union(a: Rollout, b: Rollout) -> Rollout:
    u = Rollout(a.num_envs + b.num_envs)
    u.steps = a.steps + b.steps
    u.last = list(a.last) + list(b.last)  # type: ignore[assignment]
    u.episodes = a.episodes + b.episodes
    return u


def test_one_update_equals_one_process_on_the_union_of_both_batches(two_ranks):
    out, (r0, r1) = two_ranks
    from agent_runtime.algos.base import make_algorithm
    from agent_runtime.trainer import build_policy, seed_everything

    # The union in one minibatch, in micro-batches of each rank's decisions.
    cfg = _cfg(out, "ppo.minibatch_size=32", "ppo.micro_batch_size=16")
    seed_everything(cfg.run.seed)
    policy = build_policy(cfg)
    algo = make_algorithm(cfg, policy)
    assert torch.equal(_trainable(policy), r0["initial"]) and torch.equal(r0["initial"], r1["initial"])
    batch0, batch1 = r0["rollouts"][0], r1["rollouts"][0]
    assert len(batch0) == len(batch1) == 16
    assert [t.action for t in batch0.transitions()] != [t.action for t in batch1.transitions()]  # own data
    algo.learn(_union(batch0, batch1), InOrder())  # type: ignore[arg-type]
    moved = (r0["params"][0] - r0["initial"]).abs().max().item()
    diff = (_trainable(policy) - r0["params"][0]).abs().max().item()
    assert moved > 1e-3 and diff < 1e-6, (moved, diff)


def test_ranks_hold_identical_parameters_after_every_update(two_ranks):
    _, (r0, r1) = two_ranks
    assert len(r0["params"]) == len(r1["params"]) == UPDATES
    for u, (p0, p1) in enumerate(zip(r0["params"], r1["params"])):
        assert torch.equal(p0, p1), f"update {u + 1}: ranks differ by {(p0 - p1).abs().max().item()}"
    assert not torch.equal(r0["params"][0], r0["params"][-1])  # and they did learn
    # Global counters: 2 ranks x 4 envs x 4 steps per update; every toy episode is one decision.
    assert r0["counters"] == r1["counters"] == {"decisions": UPDATES * 32, "updates": UPDATES, "episodes": UPDATES * 32}


def test_a_target_kl_stop_on_one_ranks_data_stops_both(two_ranks):
    _, (r0, r1) = two_ranks
    for r in (r0, r1):
        s = r["kl_stats"]
        assert s["early_stop"] == 1.0 and s["actor_steps"] == 1.0, s  # of 4 epochs x 1 minibatch planned
        assert s["approx_kl"] == pytest.approx(((np.exp(0.5) - 1) - 0.5) / 2, rel=0.05)  # the global mean


def test_each_rank_takes_every_nth_connect_address_and_needs_one():
    from agent_runtime.distributed import share_of

    addrs = ["tcp://a:1", "tcp://a:2", "tcp://b:1", "tcp://b:2", "tcp://c:1"]
    assert share_of(addrs, 0, 2) == ["tcp://a:1", "tcp://b:1", "tcp://c:1"]
    assert share_of(addrs, 1, 2) == ["tcp://a:2", "tcp://b:2"]
    assert share_of([], 1, 2) == []
    with pytest.raises(ValueError, match="2 --connect address.*3 ranks"):
        share_of(addrs[:2], 0, 3)


def test_run_nproc_re_executes_the_same_command_under_torchrun():
    from agent_runtime.cli import NPROC_FLAGS, _without_flags
    from agent_runtime.distributed import relaunch_argv

    argv = ["run", "--nproc", "2", "--config", "toy", "--nproc=3", "--num-envs", "4"]
    assert _without_flags(argv, NPROC_FLAGS) == ["run", "--config", "toy", "--num-envs", "4"]
    cmd = relaunch_argv(2, _without_flags(argv, NPROC_FLAGS))
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert cmd[6:] == ["agent_runtime.cli", "run", "--config", "toy", "--num-envs", "4"]


def test_resume_auto_restores_every_rank_with_its_own_rng_state(two_ranks):
    _, (r0, r1) = two_ranks
    for r in (r0, r1):
        (gen, np_state, torch_state), (gen2, np_state2, torch_state2) = r["rng_saved"], r["rng_resumed"]
        assert torch.equal(gen, gen2) and np_state == np_state2 and torch.equal(torch_state, torch_state2)
        assert torch.equal(r["resumed_params"], r0["params"][-1])
    assert not torch.equal(r0["rng_saved"][0], r1["rng_saved"][0])  # each rank its own
    assert r0["rng_saved"][1] != r1["rng_saved"][1]


def test_rank_0_logs_every_ranks_episodes(two_ranks):
    out, _ = two_ranks
    import json

    records = [json.loads(x) for x in (out / "equal" / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == UPDATES * 32  # one decision per toy episode, 2 ranks x 16 per update
    assert sum(r.get("rank") == 1 for r in records) == UPDATES * 16
