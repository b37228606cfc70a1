"""The actor-critic's critic-only and actor-only paths agree with its full forward."""

from __future__ import annotations

import pytest
import torch

from agent_runtime.models import load_model
from agent_runtime.policy import CRITIC_INPUTS, ActorCritic
from agent_runtime.rollout import LLMActor
from bridges.spec import Observation

PROMPTS = ["You are in the kitchen. Your next step is to", "Action 0:"]
SKILLS = [["walk to the pancake", "open the microwave", "grab the pancake"], ["turn left", "go forward"]]


@pytest.mark.parametrize("critic_input", CRITIC_INPUTS)
def test_values_and_actor_only_forward_match_the_full_forward(critic_input):
    torch.manual_seed(0)
    ac = ActorCritic(load_model("tiny", seed=0), lora_r=4, lora_alpha=8, critic_hidden=[16], critic_input=critic_input)
    # Non-zero LoRA B, so that the adapter changes the model and "base" differs from "shared".
    for n, p in ac.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.5)
    enc = ac.encode(PROMPTS, SKILLS)
    with torch.no_grad():
        full = ac(enc)
        actor_only = ac(enc, with_values=False)
        values = ac.values(enc)
    assert actor_only.values is None
    torch.testing.assert_close(actor_only.log_probs, full.log_probs)
    torch.testing.assert_close(values, full.values, atol=1e-5, rtol=0)
    with ac.model.disable_adapter(), torch.no_grad():
        base = ac.scorer.prompt_features(enc)
    adapted = ac.scorer.prompt_features(enc)
    assert not torch.allclose(base, adapted, atol=1e-4)  # the two critic inputs really read different states


def test_decide_without_the_critic():
    ac = ActorCritic(load_model("tiny", seed=0), lora_r=4, lora_alpha=8, critic_hidden=[16])
    obs = [Observation(text=p, skills=s) for p, s in zip(PROMPTS, SKILLS)]
    with_v = LLMActor(ac).score(PROMPTS, obs)
    without = LLMActor(ac, with_values=False).score(PROMPTS, obs)
    assert without.values is None and len(with_v.values) == 2
    assert LLMActor(ac).choose(with_v, obs, greedy=True) == LLMActor(ac).choose(without, obs, greedy=True)
    for a, b in zip(without.log_probs, with_v.log_probs):
        assert a == pytest.approx(b)
