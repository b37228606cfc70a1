"""The general-ability suite: does tuning cost the LLM its language ability? (TWOSOME, section 5.5)

One model, the checkpoint's adapter off (the base model) against on (the tuned model), on data shipped
in ``agent_runtime/data/`` (see its SOURCES.md):

* held-out text: the mean log-likelihood per token of each passage (scored after the model's start
  token; perplexity = exp(-that));
* multiple choice: each choice scored by its log-likelihood after ``Question: ...\\nAnswer:``; the
  prediction is the highest sum (``accuracy``) or the highest mean per token (``accuracy_per_token``).

Both go through the runtime's scorer (``scoring.Scorer``: the packed shared-prefix forward). The base
model is the tuned one with its adapters disabled (``Adapters.active(None)``); the suite also checks that
this gives exactly the logits of the base model loaded afresh (``base_equals_fresh_load``).
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from agent_runtime.adapters import ACTOR
from agent_runtime.config import Config, config_from_dict
from agent_runtime.config import _merge as merge_sections
from agent_runtime.policy import ActorCritic
from agent_runtime.scoring import Scorer

TEXT_FILE = "heldout_text.json"
MCQ_FILE = "mcq.json"
BATCH = 4  # passages or questions per forward


def load_data(name: str) -> dict[str, Any]:
    """A data file shipped in ``agent_runtime/data``."""
    return json.loads(resources.files("agent_runtime.data").joinpath(name).read_text())


def _autocast(policy: ActorCritic) -> torch.autocast:
    dtype = policy.autocast_dtype
    return torch.autocast(policy.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


@torch.no_grad()
def text_loglik(model: torch.nn.Module, tokenizer: Any, passages: list[str]) -> dict[str, float]:
    """Mean log-likelihood per token over the passages (each scored whole after the start token)."""
    scorer = Scorer(model, tokenizer, normalization="sum", separator="")
    total, tokens = 0.0, 0
    for i in range(0, len(passages), BATCH):
        chunk = passages[i : i + BATCH]
        enc = scorer.encode([""] * len(chunk), [[p] for p in chunk])
        out = scorer.forward(enc, return_hidden=False)
        total += float(out.scores[:, 0].double().sum())
        tokens += sum(e.n_scored[0] for e in enc)
    mean = total / tokens
    return {"loglik_per_token": mean, "perplexity": math.exp(-mean), "tokens": tokens}


@torch.no_grad()
def mcq_accuracy(model: torch.nn.Module, tokenizer: Any, questions: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy when the choice with the highest log-likelihood (sum, or mean per token) is the answer."""
    scorer = Scorer(model, tokenizer, normalization="sum", separator=" ")
    right_sum = right_tok = 0
    correct_lp = 0.0
    for i in range(0, len(questions), BATCH):
        chunk = questions[i : i + BATCH]
        enc = scorer.encode([f"Question: {q['question']}\nAnswer:" for q in chunk], [q["choices"] for q in chunk])
        sums = scorer.forward(enc, return_hidden=False).scores.float()
        for r, (q, e) in enumerate(zip(chunk, enc)):
            row = sums[r, : len(q["choices"])]
            per_tok = row / torch.tensor(e.n_scored, dtype=row.dtype)
            right_sum += int(int(row.argmax()) == q["answer"])
            right_tok += int(int(per_tok.argmax()) == q["answer"])
            correct_lp += float(torch.log_softmax(row, -1)[q["answer"]])
    n = len(questions)
    return {
        "accuracy": right_sum / n,
        "accuracy_per_token": right_tok / n,
        "mean_logp_correct": correct_lp / n,  # log-softmax over the choices of the right one (sum scores)
        "questions": n,
        "chance": sum(1 / len(q["choices"]) for q in questions) / n,
    }


@torch.no_grad()
def base_equals_fresh_load(policy: ActorCritic, cfg: Config, text: str) -> dict[str, Any]:
    """Logits of the tuned model with its adapters disabled against the base model loaded again."""
    from agent_runtime.models import load_model

    fresh = load_model(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.cache_dir, seed=cfg.run.seed)
    ids = torch.tensor([policy.tokenizer(text)["input_ids"]], device=policy.device)
    with _autocast(policy):
        with policy.adapters.active(None):
            off = policy.model(input_ids=ids).logits.float()
        on = policy.model(input_ids=ids).logits.float()  # the actor adapter (the active one)
        ref = fresh.model(input_ids=ids).logits.float()
    return {
        "identical": bool(torch.equal(off, ref)),
        "max_abs_diff": float((off - ref).abs().max()),
        "adapter_on_max_abs_diff": float((on - ref).abs().max()),
        "tokens": int(ids.shape[1]),
    }


def run_general_ability(checkpoint: str | Path, overrides: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Base (adapter off) against tuned (adapter on) on the held-out text and the question set."""
    from agent_runtime.checkpoint import load_checkpoint
    from agent_runtime.generalisation import saved_config
    from agent_runtime.trainer import build_policy, seed_everything

    ckpt, saved = saved_config(checkpoint)
    data = saved
    for o in overrides or []:
        data = merge_sections(data, o)
    cfg = config_from_dict(data, str(ckpt))
    seed_everything(cfg.run.seed)
    policy = build_policy(cfg)
    load_checkpoint(ckpt, policy, None, None)
    text, mcq = load_data(TEXT_FILE), load_data(MCQ_FILE)
    results: dict[str, dict[str, Any]] = {}
    for label, adapter in (("base", None), ("tuned", ACTOR)):
        with _autocast(policy), policy.adapters.active(adapter):
            results[label] = {
                "text": text_loglik(policy.model, policy.tokenizer, text["passages"]),
                "mcq": mcq_accuracy(policy.model, policy.tokenizer, mcq["questions"]),
            }
    return {
        "suite": "general-ability",
        "checkpoint": str(ckpt),
        "model": cfg.model.name,
        "data": {"text": text["name"], "mcq": mcq["name"], "source": "agent_runtime/data/SOURCES.md"},
        "results": results,
        "change": {
            "loglik_per_token": results["tuned"]["text"]["loglik_per_token"]
            - results["base"]["text"]["loglik_per_token"],
            "accuracy": results["tuned"]["mcq"]["accuracy"] - results["base"]["mcq"]["accuracy"],
            "accuracy_per_token": results["tuned"]["mcq"]["accuracy_per_token"]
            - results["base"]["mcq"]["accuracy_per_token"],
        },
        "base_equals_fresh_load": base_equals_fresh_load(policy, cfg, text["passages"][0]),
    }


def general_ability_table(report: dict[str, Any]) -> Any:
    """A rich Table: base, tuned and the change for each measure."""
    from rich.table import Table

    b, t = report["results"]["base"], report["results"]["tuned"]
    table = Table(title=f"general ability: {report['model']}, adapter off (base) vs on (tuned)")
    for col in ("measure", "base", "tuned", "change"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    rows = [
        ("held-out text: log-likelihood / token", b["text"]["loglik_per_token"], t["text"]["loglik_per_token"]),
        ("held-out text: perplexity", b["text"]["perplexity"], t["text"]["perplexity"]),
        ("MCQ accuracy (sum log-lik)", b["mcq"]["accuracy"], t["mcq"]["accuracy"]),
        ("MCQ accuracy (per-token log-lik)", b["mcq"]["accuracy_per_token"], t["mcq"]["accuracy_per_token"]),
        ("MCQ mean log p(right choice)", b["mcq"]["mean_logp_correct"], t["mcq"]["mean_logp_correct"]),
    ]
    for name, x, y in rows:
        table.add_row(name, f"{x:.4f}", f"{y:.4f}", f"{y - x:+.4f}")
    eq = report["base_equals_fresh_load"]
    table.caption = (
        f"{b['text']['tokens']} tokens, {b['mcq']['questions']} questions (chance {b['mcq']['chance']:.2f}); "
        f"adapter off == base loaded afresh: {eq['identical']} (max |diff| {eq['max_abs_diff']:.3g})"
    )
    return table
