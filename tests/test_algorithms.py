"""The algorithm seam: the critic-free group-relative algorithm, the critic as a second adapter,
evaluation that drops a crashed simulator's episode, and old checkpoints."""

from __future__ import annotations

import json
import logging
import os
import signal

import numpy as np
import pytest
import torch

from agent_runtime.algos.base import make_algorithm
from agent_runtime.algos.grpo import group_advantages, per_decision
from agent_runtime.algos.ppo import PPO
from agent_runtime.checkpoint import CheckpointError, find_checkpoint, load_checkpoint
from agent_runtime.config import PPOSection, load_config
from agent_runtime.evaluate import evaluate
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from agent_runtime.trainer import Trainer

TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false"]
SEEDS = list(range(5000, 5064))


def _cfg(tmp_path, *extra):
    return load_config("toy", [*TINY, f"run.output_dir={tmp_path}", "env.in_process=true", *extra])


def test_group_advantages_compare_each_return_with_its_group():
    adv = group_advantages([1.0, 0.0, 1.0, 1.0, 5.0], ["a", "a", "b", "b", "c"])
    assert adv[0] > 0 > adv[1] and adv[0] == pytest.approx(-adv[1])
    assert adv[2] == adv[3] == 0.0  # equal returns: no signal
    assert adv[4] == 0.0  # a group of one: no baseline, no signal
    assert group_advantages([2.0, 0.0], [1, 1], scale=False) == [1.0, -1.0]


def test_per_decision_weights_decisions_or_episodes_equally():
    # a short success (+1, 2 decisions) and a long failure (-1, 6 decisions)
    plain = per_decision([1.0, -1.0], [2, 6])
    assert plain == [1.0] * 2 + [-1.0] * 6  # the failure carries 3x the success's weight
    equal = per_decision([1.0, -1.0], [2, 6], "episode")
    assert len(equal) == 8 and sum(equal[:2]) == pytest.approx(-sum(equal[2:])) == pytest.approx(4.0)  # equal weight
    with pytest.raises(ValueError, match="grpo.episode_weight"):
        per_decision([1.0], [1], "token")


@pytest.mark.slow
def test_grpo_lifts_toy_success_from_chance_to_090(tmp_path):
    """Critic-free, group-relative: 24 updates of 16 seeds x 4 episodes (1536 decisions, seed 0, PPO's budget in
    tests/test_trainer.py) take greedy success on the toy task from chance (~0.25) to >= 0.9 (0.97 measured)."""
    cfg = _cfg(tmp_path, "run.algorithm=grpo", "run.total_decisions=1536", "checkpoint.every=0")
    before = evaluate(cfg, "zero-shot", SEEDS).success_rate
    assert before <= 0.45
    out = Trainer(cfg).train()
    assert len(out["updates"]) == 24 and out["updates"][-1]["v_loss"] == 0.0  # no critic
    after = evaluate(cfg, "checkpoint", SEEDS, checkpoint=str(tmp_path / "toy")).success_rate
    assert after >= 0.9, (before, after)


def test_value_step_with_a_critic_adapter_changes_only_the_critic():
    """critic.input: lora: a value-loss step moves the critic adapter and the value head, not the actor."""
    torch.manual_seed(0)
    ac = ActorCritic(load_model("tiny", seed=0), lora_r=4, lora_alpha=8, critic_hidden=[16], critic_input="lora")
    for n, p in ac.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)
    ppo = PPO(ac, PPOSection(lr_actor=1e-2, lr_critic=1e-2))
    actor = [p.detach().clone() for p in ac.actor_parameters()]
    critic = [p.detach().clone() for p in ac.critic_parameters()]
    assert {id(p) for p in ac.actor_parameters()}.isdisjoint(id(p) for p in ac.critic_parameters())
    enc = ac.encode(["The key is behind the red door. You should"] * 2, [["open the red door", "wait"]] * 2)
    loss = (ac.values(enc) - torch.tensor([1.0, 2.0])).pow(2).mean()
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in ac.actor_parameters())
    ppo.critic_opt.step()
    ppo.actor_opt.step()
    assert all(torch.equal(a, p) for a, p in zip(actor, ac.actor_parameters()))
    moved = [not torch.equal(c, p) for c, p in zip(critic, ac.critic_parameters())]
    assert all(moved[:4]) and any(moved[4:])  # the value head's layers, and the critic adapter's LoRA


def test_checkpoint_of_another_algorithm_is_refused_in_one_line(tmp_path):
    cfg = _cfg(tmp_path, "run.total_decisions=16", "run.num_steps=2")
    Trainer(cfg).train()
    ckpt = find_checkpoint(tmp_path / "toy")
    state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
    assert state["algorithm"]["name"] == "ppo"
    grpo = load_config("toy", [*TINY, "run.algorithm=grpo"])
    pol = ActorCritic(load_model("tiny", seed=0), lora_r=16, lora_alpha=32, lora_dropout=0.0, normalization="sum")
    with pytest.raises(CheckpointError, match="written by algorithm 'ppo'; this run uses 'grpo'"):
        load_checkpoint(ckpt, pol, make_algorithm(grpo, pol), np.random.default_rng(0))
    # A checkpoint from before the seam (PPO's optimisers under "ppo") still loads into PPO.
    state["ppo"] = state.pop("algorithm")["state"]
    torch.save(state, ckpt / "trainer_state.pt")
    counters = load_checkpoint(ckpt, pol, make_algorithm(load_config("toy", TINY), pol), np.random.default_rng(0))
    assert counters["decisions"] == 16


def test_evaluation_drops_a_crashed_simulators_episode_and_says_so(tmp_path, caplog):
    """kill -9 of a spawned server mid-evaluation: its partial episode is not counted, and a warning says so."""
    cfg = load_config("toy", [*TINY, f"run.output_dir={tmp_path}", "env.num_envs=2", "env.envs_per_server=1",
                              "env.options.steps=4"])  # fmt: skip
    import agent_runtime.rollout as rollout

    killed: list[int] = []
    original = rollout.Collector._round

    def round_then_kill(self, r, live=None):
        if self.decisions == 2 and not killed:
            pid = self.venv.processes[0].pid
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        return original(self, r, live)

    rollout.Collector._round = round_then_kill
    try:
        with caplog.at_level(logging.WARNING):
            res = evaluate(cfg, "random", [1, 2, 3, 4])
    finally:
        rollout.Collector._round = original
    assert killed and res.dropped == 1
    assert len(res.episodes) == 3 and all(e["length"] == 4 for e in res.episodes)
    assert "dropped its partial episode" in caplog.text and "1 of 4 episodes dropped" in caplog.text
    assert json.dumps(res.summary())  # the summary says how many were dropped
