"""The generalisation suite: a trained checkpoint, the zero-shot model and random on the task the policy
was trained on and on every variant of its family (``families.py``), on the same seeds.

Every episode runs through ``evaluate.evaluate`` (the one rollout loop, ``rollout.Collector``, with
``LLMActor`` or ``RandomActor``). The model is loaded once: the zero-shot rows use it before the
checkpoint's adapter is loaded (a fresh LoRA adapter adds exactly zero, so that is the base model), then
the checkpoint rows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from agent_runtime.checkpoint import find_checkpoint
from agent_runtime.config import Config
from agent_runtime.evaluate import POLICIES, evaluate
from agent_runtime.families import FAMILIES, Family, family_of, member_configs

log = logging.getLogger("agent_runtime")


def saved_config(checkpoint: str | Path) -> tuple[Path, dict[str, Any]]:
    """(checkpoint folder, the config the run saved with it: in the checkpoint, else in its run folder)."""
    ckpt = find_checkpoint(checkpoint)
    for p in (ckpt / "config.yaml", ckpt.parent.parent / "config.yaml", ckpt.parent / "config.yaml"):
        if p.exists():
            return ckpt, yaml.safe_load(p.read_text()) or {}
    raise FileNotFoundError(
        f"{ckpt}: no config.yaml saved with it, so the model and task it was trained with are unknown"
    )


def run_folder(ckpt: Path) -> Path:
    """The run folder of a checkpoint folder (``run/checkpoints/step-N``), else the checkpoint folder."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt


def _summary_row(cfg: Config) -> dict[str, Any]:
    return {"bridge": cfg.env.bridge, "task": cfg.env.task, "options": dict(cfg.env.options)}


def run_generalisation(
    checkpoint: str | Path,
    seeds: list[int],
    family: str | None = None,
    overrides: list[dict[str, Any]] | None = None,
    policies: list[str] | None = None,
    greedy: bool = True,
) -> dict[str, Any]:
    """Evaluate ``policies`` on the trained task and every variant; a JSON-ready report."""
    from agent_runtime.trainer import build_policy

    ckpt, saved = saved_config(checkpoint)
    fam: Family = FAMILIES[family] if family else family_of(saved)
    members = member_configs(fam, saved, overrides or [])
    kinds = [k for k in POLICIES if k in (policies or POLICIES)]  # random, then zero-shot, then the checkpoint
    kinds.sort(key=lambda k: ("random", "zero-shot", "checkpoint").index(k))
    notes = {v.name: v.note for v in fam.variants}
    tasks: list[dict[str, Any]] = [
        {"name": name, "note": notes.get(name, "(trained on)"), **_summary_row(cfg), "results": {}}
        for name, cfg in members
    ]
    policy = build_policy(members[0][1]) if any(k != "random" for k in kinds) else None
    for kind in kinds:
        for row, (_, cfg) in zip(tasks, members):
            if policy is not None:  # the variant's scoring settings (the same in every declared family)
                policy.scorer.normalization = cfg.scoring.normalization
                policy.scorer.separator = cfg.scoring.separator
            res = evaluate(
                cfg, kind, seeds, checkpoint=str(ckpt) if kind == "checkpoint" else None,
                policy=None if kind == "random" else policy, greedy=greedy,
            )  # fmt: skip
            row["results"][kind] = s = res.summary()
            log.info("%s / %s: success %s, mean return %.3f", row["name"], kind, s["success_rate"], s["mean_return"])
    for row in tasks[1:]:
        row["success_change"] = {
            k: _diff(row["results"][k]["success_rate"], tasks[0]["results"][k]["success_rate"]) for k in kinds
        }
    return {
        "suite": "generalisation",
        "family": fam.name,
        "source": fam.source,
        "checkpoint": str(ckpt),
        "model": saved.get("model", {}).get("name"),
        "seeds": seeds,
        "greedy": greedy,
        "policies": kinds,
        "tasks": tasks,
    }


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def generalisation_table(report: dict[str, Any]) -> Any:
    """A rich Table: one row per task, success and mean return per policy, success change vs the trained task."""
    from rich.table import Table

    title = f"generalisation: {report['family']} ({report['source']}), {len(report['seeds'])} episodes per cell"
    table = Table(title=title)
    table.add_column("task", no_wrap=True)
    table.add_column("what changes", no_wrap=True)
    for kind in report["policies"]:
        table.add_column(f"{kind}\nsuccess", justify="right")
        table.add_column(f"{kind}\nreturn", justify="right")
    if "checkpoint" in report["policies"]:
        table.add_column("checkpoint\nsuccess change", justify="right")
    for row in report["tasks"]:
        cells = [row["name"], row["note"]]
        for kind in report["policies"]:
            s = row["results"][kind]
            cells += ["-" if s["success_rate"] is None else f"{s['success_rate']:.3f}", f"{s['mean_return']:.3f}"]
        if "checkpoint" in report["policies"]:
            d = row.get("success_change", {}).get("checkpoint")
            cells.append("" if d is None else f"{d:+.3f}")
        table.add_row(*cells)
    return table
