"""The runtime loop end to end: learning on the toy task, resume, the loop over a real bridge."""

from __future__ import annotations

import json
import shutil

import pytest

from agent_runtime.checkpoint import list_checkpoints
from agent_runtime.config import load_config
from agent_runtime.evaluate import evaluate
from agent_runtime.trainer import Trainer

# Settings with which the tiny random model learns the toy task (see configs/toy.yaml).
TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false"]
SEEDS = list(range(5000, 5064))


def _cfg(tmp_path, *extra):
    return load_config("toy", [*TINY, f"run.output_dir={tmp_path}", "env.in_process=true", *extra])


@pytest.mark.slow
def test_ppo_lifts_toy_success_from_chance_to_090(tmp_path):
    """24 PPO updates (1536 decisions, seed 0) take greedy success from chance (~0.25) to >= 0.9."""
    cfg = _cfg(tmp_path, "run.total_decisions=1536", "checkpoint.every=0")
    before = evaluate(cfg, "zero-shot", SEEDS).success_rate
    assert before <= 0.45  # four doors: chance is 0.25
    Trainer(cfg).train()
    after = evaluate(cfg, "checkpoint", SEEDS, checkpoint=str(tmp_path / "toy")).success_rate
    assert after >= 0.9, (before, after)
    updates = [json.loads(x) for x in (tmp_path / "toy" / "updates.jsonl").read_text().splitlines()]
    assert len(updates) == 24 and updates[-1]["decisions"] == 1536
    episodes = (tmp_path / "toy" / "episodes.jsonl").read_text().splitlines()
    assert len(episodes) == 1536  # one decision per toy episode


def test_resume_continues_with_the_same_step_count(tmp_path):
    cfg = _cfg(tmp_path, "run.total_decisions=128", "checkpoint.every=1", "run.num_steps=4", "env.num_envs=4")
    Trainer(cfg).train()
    ckpts = list_checkpoints(tmp_path / "toy" / "checkpoints")
    assert [c.name for c in ckpts][-1] == "step-000000128"
    # "Killed" after 128 decisions: resume and go on to 192.
    cfg2 = _cfg(tmp_path, "run.total_decisions=192", "checkpoint.every=1", "run.num_steps=4", "env.num_envs=4", "checkpoint.resume=auto")
    t = Trainer(cfg2)
    assert t.counters["decisions"] == 128 and t.counters["updates"] == 8
    out = t.train()
    assert out["counters"]["decisions"] == 192 and out["counters"]["updates"] == 12
    assert [u["update"] for u in out["updates"]] == [9, 10, 11, 12]


def test_resume_from_an_older_checkpoint_drops_the_logs_after_it(tmp_path):
    """A run killed after its last checkpoint: the resumed run's logs hold each decision once."""
    cfg = _cfg(tmp_path, "run.total_decisions=64", "checkpoint.every=2", "run.num_steps=4", "env.num_envs=4")
    Trainer(cfg).train()
    run = tmp_path / "toy"
    for c in list_checkpoints(run / "checkpoints")[1:]:
        shutil.rmtree(c)  # as if killed after decision 64 with the checkpoint of decision 32 the last one
    assert [c.name for c in list_checkpoints(run / "checkpoints")] == ["step-000000032"]
    cfg2 = _cfg(tmp_path, "run.total_decisions=64", "checkpoint.every=2", "run.num_steps=4", "env.num_envs=4", "checkpoint.resume=auto")
    Trainer(cfg2).train()
    updates = [json.loads(line) for line in (run / "updates.jsonl").read_text().splitlines()]
    assert [u["update"] for u in updates] == [1, 2, 3, 4]
    assert [u["decisions"] for u in updates] == [16, 32, 48, 64]
    episodes = [json.loads(line)["decisions"] for line in (run / "episodes.jsonl").read_text().splitlines()]
    assert episodes == sorted(episodes) and episodes


def test_resume_auto_without_a_checkpoint_starts_fresh(tmp_path):
    t = Trainer(_cfg(tmp_path, "run.total_decisions=8", "run.num_steps=1", "checkpoint.resume=auto"))
    assert t.counters == {"decisions": 0, "updates": 0, "episodes": 0}
    t.close()


def test_loop_over_a_spawned_bridge_server(tmp_path):
    """The same loop with the toy simulator in its own server process (ZeroMQ)."""
    cfg = load_config("toy", [*TINY, f"run.output_dir={tmp_path}", "run.total_decisions=32", "run.num_steps=4", "env.num_envs=4"])
    t = Trainer(cfg)
    out = t.train()
    assert out["counters"]["decisions"] == 32
    assert len((tmp_path / "toy" / "episodes.jsonl").read_text().splitlines()) == 32


def test_training_survives_a_killed_simulator(tmp_path, caplog):
    """kill -9 of a spawned server mid-rollout: it is restarted, its partial episode dropped, training goes on."""
    import logging
    import os
    import signal

    cfg = load_config("toy", [*TINY, f"run.output_dir={tmp_path}", "run.total_decisions=64", "run.num_steps=4",
                              "env.num_envs=4", "env.envs_per_server=2", "env.options.steps=3"])  # fmt: skip
    t = Trainer(cfg)
    first_pid = t.venv.processes[0].pid
    killed = []
    act = t.collector._round

    def round_then_kill(rollout, live=None):
        if t.counters["decisions"] == 8 and not killed:
            os.kill(first_pid, signal.SIGKILL)
            killed.append(first_pid)
        return act(rollout, live)

    t.collector._round = round_then_kill
    with caplog.at_level(logging.WARNING):
        out = t.train()
    assert killed and out["counters"]["decisions"] == 64
    assert "dropped its partial episode" in caplog.text
    episodes = [json.loads(x) for x in (tmp_path / "toy" / "episodes.jsonl").read_text().splitlines()]
    assert all(e["length"] == 3 for e in episodes)  # no truncated, half-dropped episode was logged


def test_build_policy_starts_from_the_same_init_whatever_the_callers_rng(tmp_path):
    """The LoRA A matrices and the value head are random: build_policy seeds them from run.seed, so a policy
    built before a Trainer (as evaluations and the learning test do) trains from the same start every run."""
    import torch

    from agent_runtime.trainer import build_policy

    def cfg_of(seed: int):  # the default model: unlike the tiny test models, loading it consumes no seed
        return load_config("toy", [f"run.output_dir={tmp_path}", f"run.seed={seed}", "model.threads=2",
                                   "model.name=smollm2-135m-instruct", "lora.top_layers=2"])

    cfg = cfg_of(3)
    torch.manual_seed(123)
    a = build_policy(cfg)
    torch.rand(1000)  # the caller's RNG moves on
    b = build_policy(cfg)
    wa = {n: p.detach().clone() for n, p in a.named_parameters() if p.requires_grad}
    wb = {n: p.detach() for n, p in b.named_parameters() if p.requires_grad}
    assert wa.keys() == wb.keys() and any("lora_A" in n for n in wa) and any("value_head" in n for n in wa)
    assert all(torch.equal(wa[n], wb[n]) for n in wa)
    c = build_policy(cfg_of(4))
    assert not all(torch.equal(wa[n], p.detach()) for n, p in c.named_parameters() if n in wa)


def test_the_same_seed_gives_the_same_training_run_over_spawned_simulators(tmp_path):
    """Seeded init, sampling and minibatch order, and simulators stepped in env order whatever process answers
    first: two runs of the same config end with the same episodes and the same weights."""
    import torch

    def run(name: str) -> tuple[list[dict], dict[str, torch.Tensor]]:
        cfg = load_config("toy", [*TINY, f"run.output_dir={tmp_path}", f"run.name={name}", "run.seed=5",
                                  "env.in_process=false", "env.num_envs=4", "env.envs_per_server=2",
                                  "run.total_decisions=64", "run.num_steps=8", "ppo.update_epochs=2",
                                  "checkpoint.every=0"])  # fmt: skip
        trainer = Trainer(cfg)
        trainer.train()
        eps = [json.loads(x) for x in (tmp_path / name / "episodes.jsonl").read_text().splitlines()]
        weights = {n: p.detach().clone() for n, p in trainer.policy.named_parameters() if p.requires_grad}
        return [{k: e[k] for k in ("env", "return", "length", "success")} for e in eps], weights

    eps_a, w_a = run("a")
    eps_b, w_b = run("b")
    assert len(eps_a) >= 8 and eps_a == eps_b
    assert w_a.keys() == w_b.keys() and all(torch.equal(w_a[n], w_b[n]) for n in w_a)
