"""Speed levers of the learning loop are exact: the cached frozen critic features equal the plain path."""

from __future__ import annotations

import pytest
import torch

from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic

PROMPTS = ["You are in the kitchen. Your next step is to", "Action 0:", "A much longer prompt " * 5 + "then"]
SKILLS = [["walk to the pancake", "open the microwave"], ["turn left", "go forward", "pick up"], ["wait"]]


def _policy(cache: bool, top_layers: int | None = None, critic_input: str = "base") -> ActorCritic:
    torch.manual_seed(0)
    ac = ActorCritic(
        load_model("tiny", seed=0, dtype="fp32"),
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        critic_hidden=[16],
        autocast="none",
        cache_features=cache,
        top_layers=top_layers,
        critic_input=critic_input,
    )
    for n, p in ac.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.3)
    return ac


def _assert_epochs_match(plain: ActorCritic, enc_p: list, other: ActorCritic, enc_o: list) -> None:
    """Two "epochs" of a PPO-like loss: the same values, log-probs and gradients on both paths."""
    for _ in range(2):
        outs = []
        for ac, enc in ((plain, enc_p), (other, enc_o)):
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


def test_cached_base_features_equal_the_plain_path_with_gradients():
    plain, cached = _policy(False), _policy(True)
    enc_p, enc_c = plain.encode(PROMPTS, SKILLS), cached.encode(PROMPTS, SKILLS)
    with torch.no_grad():
        cached(enc_c)  # acting fills the cache
    assert all(e.base_features is not None for e in enc_c)
    assert all(e.base_features is None for e in enc_p)
    _assert_epochs_match(plain, enc_p, cached, enc_c)  # the second epoch reads the cache only
    # The bootstrap value reads the same cache.
    torch.testing.assert_close(plain.values(enc_p), cached.values(enc_c), atol=1e-4, rtol=0)


@pytest.mark.parametrize("critic_input", ["base", "lora"])
def test_top_layer_lora_runs_later_forwards_on_the_kept_lower_layers_exactly(critic_input):
    plain, kept = _policy(False, 1, critic_input), _policy(True, 1, critic_input)
    plain.scorer.trunk_layers = 0  # the same LoRA placement, every forward from the tokens
    assert all(".layers.1." in n for n, _ in kept.model.named_parameters() if "lora_" in n)
    enc_p, enc_k = plain.encode(PROMPTS, SKILLS), kept.encode(PROMPTS, SKILLS)
    with torch.no_grad():
        kept(enc_k)  # acting keeps each packed row's lower-layer output
    for e in enc_k:
        assert e.trunk is not None and e.trunk.shape[0] == len(e.prefix) + sum(len(s) for s in e.suffixes)
    lower_calls = []
    kept.model.get_base_model().model.layers[0].register_forward_hook(lambda *a: lower_calls.append(1))
    _assert_epochs_match(plain, enc_p, kept, enc_k)  # each epoch runs the top layer alone
    assert lower_calls == []
    torch.testing.assert_close(plain.values(enc_p), kept.values(enc_k), atol=1e-4, rtol=0)


def test_top_layers_out_of_range_names_the_key_and_a_deep_request_means_every_layer():
    with pytest.raises(ValueError, match=r"lora.top_layers: must be at least 1"):
        _policy(True, 0)
    assert _policy(True, 6).adapters.trunk_layers == 0  # the configs' 6 on a 2-layer model: every layer


def test_a_prompt_seen_again_takes_its_lower_layers_from_the_memo():
    ac = _policy(True, 1)
    with torch.no_grad():
        first = ac(ac.encode(PROMPTS, SKILLS))
        lower_calls = []
        ac.model.get_base_model().model.layers[0].register_forward_hook(lambda *a: lower_calls.append(1))
        again = ac(ac.encode(PROMPTS, SKILLS))  # new encodings of the same texts: acting on a repeated state
        assert lower_calls == []
        torch.testing.assert_close(first.log_probs, again.log_probs, atol=1e-5, rtol=0)
        torch.testing.assert_close(first.values, again.values, atol=1e-5, rtol=0)
        ac(ac.encode(["A new state"], [["turn left", "wait"]]))  # one new row: the lower layers run for it alone
        assert len(lower_calls) == 1
    memo = ac.scorer
    assert len(memo._trunk_memo) == 4
    memo.trunk_memo_bytes = 1  # the memo keeps no more than its size: a row bigger than that is not kept
    memo._remember((1, 2, 3), torch.zeros(4))
    assert list(memo._trunk_memo) == [] and memo._memo_bytes == 0
