"""The end-of-run summary: before/after figures from a run folder's logs, and its learning-curve PNG.

``summarize_run(run_dir)`` reads ``episodes.jsonl`` and ``updates.jsonl``, compares the first and the
last quarter of the finished training episodes (success, return, decisions per episode), writes
``learning_curve.png`` into the run folder (``agent_runtime.plots``) and returns the text to print,
with the latest checkpoint and the commands to evaluate it, plot it and open TensorBoard.

Training-episode windows flatter the start (short, successful episodes finish first); the fixed-seed
evaluation command printed at the end is the unbiased comparison.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _stats(eps: list[dict[str, Any]]) -> dict[str, float | None]:
    succ = [float(e["success"]) for e in eps if e.get("success") is not None]
    return {
        "episodes": float(len(eps)),
        "success": float(np.mean(succ)) if succ else None,
        "return": float(np.mean([e["return"] for e in eps])) if eps else None,
        "length": float(np.mean([e["length"] for e in eps])) if eps else None,
    }


def quarters(episodes: list[dict[str, Any]]) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Statistics of the first and the last quarter of the episodes (at least one episode each)."""
    q = max(1, len(episodes) // 4)
    return _stats(episodes[:q]), _stats(episodes[-q:])


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def learning_curve(run_dir: Path) -> Path | None:
    """Write ``<run_dir>/learning_curve.png`` from its episodes; None when no episode finished."""
    episodes = _read_jsonl(run_dir / "episodes.jsonl")
    if not episodes:
        return None
    from agent_runtime.plots import plot_runs

    return plot_runs([run_dir], run_dir / "learning_curve.png", window=max(4, min(20, len(episodes) // 4)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The run folder's newest ``checkpoints/step-*`` folder, or None."""
    ckpts = sorted(
        (run_dir / "checkpoints").glob("step-*"),
        key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1,
    )
    return ckpts[-1] if ckpts else None


def summarize_run(run_dir: str | Path, plot: bool = True) -> str:
    """The before/after text of a run folder; writes ``<run_dir>/learning_curve.png`` when ``plot``."""
    run_dir = Path(run_dir)
    episodes = _read_jsonl(run_dir / "episodes.jsonl")
    updates = _read_jsonl(run_dir / "updates.jsonl")
    lines = [f"summary of {run_dir}"]
    decisions = updates[-1]["decisions"] if updates else (episodes[-1]["decisions"] if episodes else 0)
    lines.append(f"  {decisions} decisions, {len(updates)} updates, {len(episodes)} finished episodes")
    if len(episodes) >= 2:
        first, last = quarters(episodes)
        n = int(first["episodes"] or 0)
        lines.append(f"  training episodes, first {n} vs last {int(last['episodes'] or 0)} (a quarter each):")
        lines.append(
            f"    success rate            {_fmt(first['success'], '.2f'):>6} -> {_fmt(last['success'], '.2f')}"
        )
        lines.append(f"    return                  {_fmt(first['return'], '.3f'):>6} -> {_fmt(last['return'], '.3f')}")
        lines.append(f"    decisions per episode   {_fmt(first['length'], '.1f'):>6} -> {_fmt(last['length'], '.1f')}")
    else:
        lines.append("  too few finished episodes for a before/after comparison (train longer: --total-decisions)")
    pol = [u for u in updates if not u.get("value_warmup")]
    if pol:
        ent0, ent1 = pol[0].get("entropy"), pol[-1].get("entropy")
        kls = [u.get("approx_kl", 0.0) for u in pol]
        lines.append(
            f"  policy entropy {_fmt(ent0, '.3f')} -> {_fmt(ent1, '.3f')}, median approx-KL per update {np.median(kls):.2e}, "
            f"actor lr at the end {pol[-1].get('lr_actor', 0.0):.2e}"
        )
    png = learning_curve(run_dir) if plot else None
    if png is not None:
        lines.append(f"  learning curve: {png}")
    ckpt = latest_checkpoint(run_dir)
    if ckpt is not None:
        lines.append(f"  checkpoint: {ckpt}")
    cfg = run_dir / "config.yaml"
    lines.append("  next:")
    lines.append(
        f"    agent-runtime eval --config {cfg} --checkpoint {run_dir} --policy checkpoint --policy zero-shot --sample"
    )
    lines.append(f"    agent-runtime plot {run_dir} --out {run_dir / 'learning_curve.png'}")
    lines.append(f"    tensorboard --logdir {run_dir / 'tb'}")
    return "\n".join(lines)
