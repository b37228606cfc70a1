"""The shared-prefix scorer equals the naive computation, values and gradients."""

from __future__ import annotations

import pytest
import torch

from agent_runtime.scoring import NORMALIZATIONS, Scorer, naive_scores

PROMPTS = [
    "You are in the kitchen. You notice a pancake and a microwave. Your next step is to",
    "Go",
    "Goal of the agent: go to the red ball. Observation 0: You see a wall 2 steps forward, a red ball 1 step left. Action 0:",
]
CANDIDATES = [
    ["walk to the pancake", "open the microwave", "grab the pancake", "walk to the living room"],
    ["left"],
    ["turn left", "turn right", "go forward", "pick up", "drop", "toggle"],
]


def _check_equal(lm, norm: str) -> None:
    scorer = Scorer(lm.model, lm.tokenizer, normalization=norm)
    out = scorer.score(PROMPTS, CANDIDATES)
    ref = naive_scores(scorer, PROMPTS, CANDIDATES)
    for i, r in enumerate(ref):
        assert out.mask[i].sum() == len(r)
        torch.testing.assert_close(out.scores[i, : len(r)], r, atol=1e-4, rtol=0)
        torch.testing.assert_close(out.log_probs[i, : len(r)], torch.log_softmax(r, 0), atol=1e-4, rtol=0)
        assert torch.isinf(out.scores[i, len(r) :]).all()


@pytest.mark.parametrize("norm", NORMALIZATIONS)
def test_shared_prefix_equals_naive_decoder_only(tiny_lm, norm):
    _check_equal(tiny_lm, norm)


@pytest.mark.parametrize("norm", NORMALIZATIONS)
def test_shared_prefix_equals_naive_encoder_decoder(tiny_t5, norm):
    _check_equal(tiny_t5, norm)


def test_normalisations_differ_as_defined(tiny_lm):
    by = {n: Scorer(tiny_lm.model, tiny_lm.tokenizer, normalization=n) for n in NORMALIZATIONS}
    enc = by["sum"].encode(PROMPTS[:1], CANDIDATES[:1])[0]
    s = by["sum"].score(PROMPTS[:1], CANDIDATES[:1]).scores[0]
    t = by["token"].score(PROMPTS[:1], CANDIDATES[:1]).scores[0]
    w = by["word"].score(PROMPTS[:1], CANDIDATES[:1]).scores[0]
    torch.testing.assert_close(t, s / torch.tensor(enc.n_scored, dtype=s.dtype))
    torch.testing.assert_close(w, s / torch.tensor([len(c.split()) for c in CANDIDATES[0]], dtype=s.dtype))


def test_batch_equals_one_at_a_time(tiny_lm):
    """Ragged prompts and candidates padded together give the same scores as each alone."""
    scorer = Scorer(tiny_lm.model, tiny_lm.tokenizer)
    together = scorer.score(PROMPTS, CANDIDATES)
    for i, (p, c) in enumerate(zip(PROMPTS, CANDIDATES)):
        alone = scorer.score([p], [c])
        torch.testing.assert_close(together.scores[i, : len(c)], alone.scores[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(together.hidden[i], alone.hidden[0], atol=1e-5, rtol=0)


def test_candidate_tokens_are_those_of_the_joined_string(tiny_lm):
    tok = tiny_lm.tokenizer
    scorer = Scorer(tiny_lm.model, tok)
    for prompt, cands in zip(PROMPTS, CANDIDATES):
        enc = scorer.encode([prompt], [cands])[0]
        for cand, suf, start in zip(cands, enc.suffixes, enc.score_from):
            full = tok(prompt + " " + cand)["input_ids"]
            assert enc.prefix + suf == full
            assert len(enc.prefix) + start == len(tok(prompt)["input_ids"])
    # SmolLM2's tokenizer adds no start token: the first candidate token is scored (TWOSOME drops it).
    assert tok("Go")["input_ids"][0] != tok.bos_token_id


def test_boundary_merge_without_separator(tiny_lm):
    """With separator '' the boundary token can merge across; the scored tokens still cover the candidate."""
    scorer = Scorer(tiny_lm.model, tiny_lm.tokenizer, separator="")
    prompts, cands = ["The answer is to"], [["day", "morrow", " go"]]
    out = scorer.score(prompts, cands)
    ref = naive_scores(scorer, prompts, cands)[0]
    torch.testing.assert_close(out.scores[0], ref, atol=1e-4, rtol=0)
    enc = scorer.encode(prompts, cands)[0]
    tok = tiny_lm.tokenizer
    for c, suf in zip(cands[0], enc.suffixes):
        assert enc.prefix + suf == tok(prompts[0] + c)["input_ids"]


def test_empty_and_one_token_prompts(tiny_lm):
    scorer = Scorer(tiny_lm.model, tiny_lm.tokenizer)
    out = scorer.score(["", "A"], [["yes", "no"], ["b", "c d"]])
    assert torch.isfinite(out.scores[out.mask]).all()
    ref = naive_scores(scorer, ["", "A"], [["yes", "no"], ["b", "c d"]])
    torch.testing.assert_close(out.scores[0], ref[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(out.scores[1], ref[1], atol=1e-4, rtol=0)


def test_pad_token_id_zero_is_not_treated_as_padding(tiny_lm):
    """Token id 0 is <|endoftext|> in SmolLM2: a candidate made of it must still be scored (lamorel's trap)."""
    scorer = Scorer(tiny_lm.model, tiny_lm.tokenizer)
    cand = tiny_lm.tokenizer.decode([0])
    out = scorer.score(["Say"], [[cand, "x"]])
    ref = naive_scores(scorer, ["Say"], [[cand, "x"]])[0]
    torch.testing.assert_close(out.scores[0], ref, atol=1e-4, rtol=0)


def test_bad_input_is_refused(tiny_lm):
    scorer = Scorer(tiny_lm.model, tiny_lm.tokenizer)
    with pytest.raises(ValueError, match="no candidates"):
        scorer.score(["a"], [[]])
    with pytest.raises(ValueError, match="prompts but"):
        scorer.score(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="normalization"):
        Scorer(tiny_lm.model, tiny_lm.tokenizer, normalization="mean")


@pytest.mark.parametrize("which", ["tiny_lm", "tiny_t5"])
def test_gradients_equal_naive(which, request):
    """d(loss)/d(LoRA weights) through the shared-prefix path equals the naive path's."""
    from agent_runtime.models import load_model
    from agent_runtime.policy import ActorCritic

    name = "tiny" if which == "tiny_lm" else "tiny-t5"
    lm = load_model(name, seed=1)
    ac = ActorCritic(lm, lora_r=4, lora_alpha=8, lora_dropout=0.0, critic_hidden=[16])
    torch.manual_seed(0)
    for n, p in ac.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.05)
    scorer = ac.scorer
    weights = [torch.randn(len(c)) for c in CANDIDATES]

    def grads(loss):
        ac.model.zero_grad(set_to_none=True)
        loss.backward()
        return {n: p.grad.clone() for n, p in ac.model.named_parameters() if p.requires_grad}

    out = scorer.score(PROMPTS, CANDIDATES)
    fast = grads(sum((torch.log_softmax(out.scores[i, : len(w)], 0) * w).sum() for i, w in enumerate(weights)))
    ref = naive_scores(scorer, PROMPTS, CANDIDATES)
    slow = grads(sum((torch.log_softmax(r, 0) * w).sum() for r, w in zip(ref, weights)))
    assert fast.keys() == slow.keys() and fast
    for n in fast:
        torch.testing.assert_close(fast[n], slow[n], atol=1e-4, rtol=1e-3)
    assert any(g.abs().sum() > 0 for g in fast.values())


@pytest.mark.slow
def test_default_model_ranks_the_answer_first(default_lm):
    scorer = Scorer(default_lm.model, default_lm.tokenizer, normalization="token")
    prompts = [
        "Question: What is the capital of France? Answer: The capital of France is",
        "Question: What colour is the sky on a clear day? Answer: It is",
        "You are hungry and there is a sandwich on the table in front of you. The best thing to do is to",
    ]
    cands = [
        ["Paris", "Berlin", "a banana", "the number seven"],
        ["blue", "green", "made of cheese", "Tuesday"],
        ["eat the sandwich", "throw the table out of the window", "sing to the ceiling", "count to a million"],
    ]
    out = scorer.score(prompts, cands)
    assert out.log_probs.argmax(-1).tolist() == [0, 0, 0]
    ref = naive_scores(scorer, prompts[:1], cands[:1])[0]
    torch.testing.assert_close(out.scores[0], ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("which", ["tiny_lm", "tiny_t5"])
def test_prompt_features_equal_the_scoring_forward_hidden(which, request):
    """The critic-only forward (prompts alone, right-padded) reads the same state as the packed one."""
    lm = request.getfixturevalue(which)
    scorer = Scorer(lm.model, lm.tokenizer)
    enc = scorer.encode(PROMPTS, CANDIDATES)
    torch.testing.assert_close(scorer.prompt_features(enc), scorer.forward(enc).hidden, atol=1e-5, rtol=0)
