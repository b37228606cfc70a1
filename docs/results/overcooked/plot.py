"""Learning curves (mean and range over seeds) of salad-kitchen runs; writes curves.png and summary.json.

Usage: python plot.py LOGS_DIR OUT_DIR [TASK_TITLE]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METHODS = ["llm-ppo", "ppo-mlp", "saycan", "zero-shot", "random"]


def load(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    x = np.array([r.get("decisions_so_far", r.get("decisions")) for r in rows], dtype=float)
    return x, np.array([r["return"] for r in rows]), np.array([float(bool(r.get("success"))) for r in rows])


def curve(x: np.ndarray, y: np.ndarray, grid: np.ndarray, window: int = 20) -> np.ndarray:
    """Moving average of the last `window` episodes finished by each grid point."""
    out = np.full(len(grid), np.nan)
    for i, g in enumerate(grid):
        done = y[x <= g]
        if len(done):
            out[i] = done[-window:].mean()
    return out


def main(logs: Path, out: Path, task: str = "Tomato Salad") -> None:
    runs = defaultdict(list)
    for f in sorted(logs.glob("*-s*.jsonl")):
        x, r, s = load(f)
        if len(x):  # a run that finished no episode has no curve
            runs[f.stem.rsplit("-s", 1)[0]].append((x, r, s))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    summary = {}
    for m in [m for m in METHODS if m in runs]:
        xmax = max(r[0].max() for r in runs[m] if len(r[0]))
        grid = np.linspace(0, xmax, 60)
        for ax, k, name in ((axes[0], 1, "return"), (axes[1], 2, "success")):
            ys = np.array([curve(r[0], r[k], grid) for r in runs[m]])
            mean = np.nanmean(ys, 0)
            # A method whose episodes all end near one point (SayCan: 4 episodes at ~772) gets markers.
            sparse = np.isfinite(mean).sum() < 3
            ax.plot(grid, mean, label=f"{m} ({len(runs[m])} seeds)", marker="o" if sparse else None)
            ax.fill_between(grid, np.nanmin(ys, 0), np.nanmax(ys, 0), alpha=0.2)
        reach = []  # decisions when the success rate over the last 20 episodes first reaches 0.9
        for x, _, s in runs[m]:
            full = [i for i in range(19, len(s)) if s[i - 19 : i + 1].mean() >= 0.9]
            reach.append(float(x[full[0]]) if full else None)
        summary[m] = {
            "seeds": len(runs[m]),
            "decisions": float(xmax),
            "episodes": [len(r[0]) for r in runs[m]],
            "first_20_success_mean": float(np.mean([r[2][:20].mean() for r in runs[m]])),
            "final_success_mean": float(np.mean([r[2][-20:].mean() for r in runs[m]])),
            "final_return_mean": float(np.mean([r[1][-20:].mean() for r in runs[m]])),
            "decisions_to_0.9_success": reach,
        }
    for ax, t in zip(axes, ("episode return", "success rate")):
        ax.set_xlabel("environment decisions")
        ax.set_title(f"{task}: {t} (last 20 episodes)")
        ax.set_xscale("symlog", linthresh=1000)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
