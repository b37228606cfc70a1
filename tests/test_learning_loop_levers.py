"""Speed levers of the learning loop are exact: the cached frozen critic features equal the plain path."""

from __future__ import annotations

import torch

from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic

PROMPTS = ["You are in the kitchen. Your next step is to", "Action 0:", "A much longer prompt " * 5 + "then"]
SKILLS = [["walk to the pancake", "open the microwave"], ["turn left", "go forward", "pick up"], ["wait"]]


def _policy(cache: bool) -> ActorCritic:
    torch.manual_seed(0)
    ac = ActorCritic(load_model("tiny", seed=0, dtype="fp32"), lora_r=4, lora_alpha=8, lora_dropout=0.0,
                     critic_hidden=[16], autocast="none", cache_features=cache)
    for n, p in ac.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.3)
    return ac


def test_cached_base_features_equal_the_plain_path_with_gradients():
    plain, cached = _policy(False), _policy(True)
    enc_p, enc_c = plain.encode(PROMPTS, SKILLS), cached.encode(PROMPTS, SKILLS)
    with torch.no_grad():
        cached(enc_c)  # acting fills the cache
    assert all(e.base_features is not None for e in enc_c)
    assert all(e.base_features is None for e in enc_p)
    for _ in range(2):  # two "epochs": the second reads the cache only
        outs = []
        for ac, enc in ((plain, enc_p), (cached, enc_c)):
            ac.zero_grad(set_to_none=True)
            out = ac(enc)
            loss = (out.values - 1.0).pow(2).mean() - out.log_probs[:, 0].mean()
            loss.backward()
            outs.append((out, {n: p.grad.clone() for n, p in ac.named_parameters() if p.grad is not None}))
        (a, ga), (b, gb) = outs
        torch.testing.assert_close(a.values, b.values, atol=1e-4, rtol=0)
        torch.testing.assert_close(a.log_probs, b.log_probs, atol=1e-4, rtol=0)
        assert ga.keys() == gb.keys() and ga
        for n in ga:
            torch.testing.assert_close(ga[n], gb[n], atol=1e-4, rtol=1e-4, msg=n)
    # The bootstrap value reads the same cache.
    torch.testing.assert_close(plain.values(enc_p), cached.values(enc_c), atol=1e-4, rtol=0)
