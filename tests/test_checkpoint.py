"""Checkpoints: atomic write, round trip of weights/optimisers/counters/RNG, keep-last-N, peft loading."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from agent_runtime.checkpoint import find_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic, load_adapter_standalone
from agent_runtime.algos.ppo import PPO
from agent_runtime.config import PPOSection


def _policy(seed: int) -> ActorCritic:
    return ActorCritic(load_model("tiny", seed=0), lora_r=4, lora_alpha=8, critic_hidden=[16])


def _train_a_little(policy: ActorCritic, ppo: PPO) -> None:
    enc = policy.encode(["The key is behind the red door. You should"], [["open the red door", "open the blue door"]])
    out = policy(enc)
    loss = -out.log_probs[0, 0] + out.values.pow(2).sum()
    loss.backward()
    ppo.actor_opt.step()
    ppo.critic_opt.step()


def test_round_trip_restores_everything(tmp_path):
    torch.manual_seed(0)
    pol = _policy(0)
    ppo = PPO(pol, PPOSection(lr_actor=1e-2, lr_critic=1e-2))
    _train_a_little(pol, ppo)
    rng = np.random.default_rng(5)
    rng.random(3)
    random.seed(11)
    counters = {"decisions": 1234, "updates": 7, "episodes": 99}
    path = save_checkpoint(tmp_path, pol, ppo, counters, rng, keep=3)
    expect_rng = (random.random(), rng.random(), torch.rand(1).item())

    pol2 = _policy(1)
    ppo2 = PPO(pol2, PPOSection(lr_actor=1e-2, lr_critic=1e-2))
    rng2 = np.random.default_rng(0)
    got = load_checkpoint(path, pol2, ppo2, rng2)
    assert got == counters
    for (n, a), (_, b) in zip(pol.state_dict().items(), pol2.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)
    s1, s2 = ppo.state_dict(), ppo2.state_dict()
    for opt in ("actor_opt", "critic_opt"):
        for k, st in s1[opt]["state"].items():
            for name, v in st.items():
                torch.testing.assert_close(v, s2[opt]["state"][k][name])
    assert (random.random(), rng2.random(), torch.rand(1).item()) == expect_rng


def test_keep_last_n_and_atomic_folders(tmp_path):
    pol = _policy(0)
    ppo = PPO(pol, PPOSection(lr_actor=1e-3, lr_critic=1e-3))
    rng = np.random.default_rng(0)
    for d in (10, 20, 30, 40):
        save_checkpoint(tmp_path, pol, ppo, {"decisions": d, "updates": 1, "episodes": 0}, rng, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-000000030", "step-000000040"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    # A half-written folder (no state file) is never taken as a checkpoint.
    (tmp_path / "step-000000050").mkdir()
    assert find_checkpoint(tmp_path).name == "step-000000040"
    with pytest.raises(FileNotFoundError):
        find_checkpoint(tmp_path / "nothing-here")


def test_adapter_loads_with_plain_peft(tmp_path):
    pol = _policy(0)
    for n, p in pol.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)
    pol.save(tmp_path)
    assert (tmp_path / "adapter_config.json").exists() and (tmp_path / "adapter_model.safetensors").exists()
    base = load_model("tiny", seed=0).model  # same random init as the policy's base
    peft_model = load_adapter_standalone(base, tmp_path)
    ids = torch.tensor([[504, 1646, 314, 2893]])
    with torch.no_grad():
        torch.testing.assert_close(peft_model(input_ids=ids).logits, pol.model(input_ids=ids).logits)
