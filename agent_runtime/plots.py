"""Learning-curve plots from run folders (episodes.jsonl): return and success vs decisions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def read_episodes(run_dir: Path) -> list[dict]:
    path = run_dir / "episodes.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} a run folder?")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_plottable(runs: list[Path]) -> None:
    """Each folder must be a run with at least two finished episodes; else one line saying which and why."""
    from agent_runtime.runfolder import UsageError

    for run in runs:
        if not run.is_dir():
            raise UsageError(f"plot: {run} is not a folder (give run folders, e.g. runs/<name>)")
        path = run / "episodes.jsonl"
        if not path.exists():
            raise UsageError(f"plot: {run} is not a run folder (no episodes.jsonl in it)")
        try:
            n = len(read_episodes(run))
        except (ValueError, OSError) as e:
            raise UsageError(f"plot: {path} does not read as JSON lines ({e})") from None
        if n < 2:
            raise UsageError(f"plot: {run} has {n} finished episode{'' if n == 1 else 's'}; a curve needs at least 2")


def moving_average(x: list[float], window: int) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if len(a) == 0:
        return a
    w = max(1, min(window, len(a)))
    c = np.cumsum(np.insert(a, 0, 0.0))
    head = c[1:w] / np.arange(1, w)  # shorter windows at the start
    return np.concatenate([head, (c[w:] - c[:-w]) / w])


def plot_runs(runs: list[Path], out: Path, window: int = 20, labels: list[str] | None = None) -> Path:
    """Episode return and success rate (moving averages) against environment decisions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_r, ax_s) = plt.subplots(1, 2, figsize=(11, 4))
    for i, run in enumerate(runs):
        eps = read_episodes(run)
        x = [e["decisions"] for e in eps]
        label = labels[i] if labels else run.name
        ax_r.plot(x, moving_average([e["return"] for e in eps], window), label=label)
        succ = [float(e["success"]) for e in eps if e.get("success") is not None]
        if succ:
            xs = [e["decisions"] for e in eps if e.get("success") is not None]
            ax_s.plot(xs, moving_average(succ, window), label=label)
    for ax, title in ((ax_r, "episode return"), (ax_s, "success rate")):
        ax.set_xlabel("environment decisions")
        ax.set_title(f"{title} (moving average, {window} episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
