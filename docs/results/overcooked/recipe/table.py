"""Recipe sweep table: per run, training-episode success and the greedy policy at each checkpoint.

Usage (from the repo root): python docs/results/overcooked/recipe/table.py [--greedy] [--sampled] [--plot FILE.png] RUN_DIR...
Writes docs/results/overcooked/recipe/results.json and prints a markdown table.

- decisions to 0.9: the first decision count at which the last 20 training episodes reach 0.9 success
  (the metric of ../plot.py), or with fewer than 20 episodes so far, never;
- final success: the last 20 training episodes (or all, with fewer); collapsed: final success < 0.5;
- in flight: decisions so far of the longest episode still running at the end (a loop shows here first:
  a successful episode takes 12-40 decisions, the 200-step limit ~60-190);
- --greedy: one greedy episode per checkpoint (the kitchen is deterministic with randomize false, so every
  evaluation seed gives the same episode): success and decisions; results cached in <run>/greedy.json;
- --sampled: the last checkpoint, sampling, on 8 fixed seeds (<run>/sampled.json);
- --plot FILE.png: training success (20-episode window) against decisions, greedy checkpoints as dots;
- --curve: every checkpoint (and the zero-shot model at 0 decisions), sampling, on 8 fixed seeds
  (<run>/curve.json); --curve-plot FILE.png draws its success and decisions per episode against decisions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent


def training(run: Path) -> dict:
    eps = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines() if x.strip()]
    ups = [json.loads(x) for x in (run / "updates.jsonl").read_text().splitlines() if x.strip()]
    s = np.array([float(bool(e.get("success"))) for e in eps])
    x = [e["decisions"] for e in eps]
    reach = next((x[i] for i in range(19, len(s)) if s[i - 19 : i + 1].mean() >= 0.9), None)
    q = max(1, len(eps) // 4)
    final = s[-20:]
    total = ups[-1]["decisions"] if ups else 0
    n_env = max([e["env"] for e in eps] + [3]) + 1
    last_end = {i: 0 for i in range(n_env)}
    for e in eps:
        last_end[e["env"]] = e["decisions"]
    in_flight = max((total - d) // n_env for d in last_end.values())  # decisions of the longest unfinished episode
    return {
        "decisions": ups[-1]["decisions"] if ups else 0,
        "episodes": len(eps),
        "decisions_to_0.9": reach,
        "first_quarter_success": float(s[:q].mean()) if len(s) else None,
        "last_quarter_success": float(s[-q:].mean()) if len(s) else None,
        "first_quarter_length": float(np.mean([e["length"] for e in eps[:q]])) if eps else None,
        "last_quarter_length": float(np.mean([e["length"] for e in eps[-q:]])) if eps else None,
        "final_success": float(final.mean()) if len(final) else None,
        "collapsed": bool(len(final) and final.mean() < 0.5),
        "longest_in_flight": int(in_flight),
        "median_kl": float(np.median([u.get("approx_kl", 0.0) for u in ups if not u.get("value_warmup")])) if ups else None,
        "lr_actor_last": ups[-1].get("lr_actor") if ups else None,
        "entropy_first_last": [ups[0].get("entropy"), ups[-1].get("entropy")] if ups else None,
    }


def greedy(run: Path) -> dict:
    from agent_runtime.config import load_config
    from agent_runtime.evaluate import evaluate
    from agent_runtime.trainer import build_policy

    cache = run / "greedy.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    cfg = load_config(str(run / "config.yaml"), ["model.threads=1", "checkpoint.resume=null"])
    policy = None
    for ck in sorted((run / "checkpoints").glob("step-*")):
        if ck.name in done:
            continue
        policy = policy or build_policy(cfg)
        r = evaluate(cfg, "checkpoint", [1000], checkpoint=str(ck), policy=policy, num_envs=1).episodes[0]
        done[ck.name] = {"success": bool(r["success"]), "decisions": r["length"], "return": r["return"]}
        cache.write_text(json.dumps(done, indent=1))
    return done


def sampled(run: Path, seeds: int = 8) -> dict:
    """The last checkpoint, sampling (as in training), on fixed seeds 1000.. (cached in <run>/sampled.json)."""
    from agent_runtime.config import load_config
    from agent_runtime.evaluate import evaluate

    cache = run / "sampled.json"
    last = sorted((run / "checkpoints").glob("step-*"))[-1]
    if cache.exists() and json.loads(cache.read_text()).get("checkpoint") == last.name:
        return json.loads(cache.read_text())
    cfg = load_config(str(run / "config.yaml"), ["model.threads=1", "checkpoint.resume=null"])
    res = evaluate(cfg, "checkpoint", list(range(1000, 1000 + seeds)), checkpoint=str(last), num_envs=4, greedy=False)
    out = {"checkpoint": last.name, **res.summary()}
    cache.write_text(json.dumps(out, indent=1))
    return out


def curve(run: Path, seeds: int = 8) -> dict:
    """Sampled success and decisions per episode of the zero-shot model and of every checkpoint, on the same
    fixed seeds 1000.. (cached in <run>/curve.json, keyed by decisions)."""
    from agent_runtime.config import load_config
    from agent_runtime.evaluate import evaluate
    from agent_runtime.trainer import build_policy

    cache = run / "curve.json"
    done = json.loads(cache.read_text()) if cache.exists() else {}
    cfg = load_config(str(run / "config.yaml"), ["model.threads=1", "checkpoint.resume=null"])
    points = [("0", "zero-shot", None)] + [
        (str(int(ck.name.split("-")[-1])), "checkpoint", str(ck)) for ck in sorted((run / "checkpoints").glob("step-*"))
    ]
    policy = None
    for key, kind, ck in points:
        if key in done:
            continue
        policy = policy or build_policy(cfg)
        res = evaluate(cfg, kind, list(range(1000, 1000 + seeds)), checkpoint=ck, policy=policy, num_envs=4, greedy=False)
        done[key] = res.summary()
        cache.write_text(json.dumps(done, indent=1))
    return done


def plot_curve(runs: list[Path], res: dict, path: Path) -> None:
    """Sampled evaluation along each run: success and decisions per episode against training decisions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for run in runs:
        c = res.get(run.name, {}).get("curve") or {}
        xs = sorted(c, key=int)
        x = [int(k) for k in xs]
        (line,) = a.plot(x, [c[k]["success_rate"] for k in xs], marker="o", ms=3, label=run.name)
        b.plot(x, [c[k]["mean_length"] for k in xs], marker="o", ms=3, color=line.get_color())
    a.axhline(0.9, color="grey", lw=0.5, ls="--")
    a.set_ylim(-0.05, 1.05)
    a.set_xlabel("training decisions")
    a.set_ylabel("success, 8 sampled evaluation episodes")
    b.set_xlabel("training decisions")
    b.set_ylabel("decisions per evaluation episode")
    a.legend(fontsize=7)
    fig.suptitle("Tomato Salad, default model: the checkpoints on fixed seeds (0 = the zero-shot model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot(runs: list[Path], res: dict, path: Path) -> None:
    """Training success (last 20 episodes) against decisions per run, greedy checkpoints as marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run in runs:
        eps = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines() if x.strip()]
        s = np.array([float(bool(e.get("success"))) for e in eps])
        x = [e["decisions"] for e in eps]
        y = [s[max(0, i - 19) : i + 1].mean() for i in range(len(s))]
        (line,) = ax.plot(x, y, label=run.name)
        g = res.get(run.name, {}).get("greedy") or {}
        gx = [int(k.split("-")[-1]) for k in sorted(g)]
        ax.scatter(gx, [1.04 if g[k]["success"] else -0.04 for k in sorted(g)], color=line.get_color(), s=12)
    ax.axhline(0.9, color="grey", lw=0.5, ls="--")
    ax.set_xlabel("decisions (all environments)")
    ax.set_ylabel("success, last 20 training episodes")
    ax.set_title("Tomato Salad, default model; dots: greedy checkpoint succeeded (top) / failed (bottom)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(args: list[str]) -> None:
    do_greedy = "--greedy" in args
    do_sampled = "--sampled" in args
    do_curve = "--curve" in args
    plot_to = args[args.index("--plot") + 1] if "--plot" in args else None
    curve_to = args[args.index("--curve-plot") + 1] if "--curve-plot" in args else None
    runs = [Path(a) for a in args if not a.startswith("--") and a not in (plot_to, curve_to)]
    res = {}
    for run in runs:
        res[run.name] = training(run)
        if do_greedy:
            res[run.name]["greedy"] = greedy(run)
        if do_sampled:
            res[run.name]["sampled_last"] = sampled(run)
        if do_curve:
            res[run.name]["curve"] = curve(run)
    path = OUT / "results.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    old.update(res)
    path.write_text(json.dumps(old, indent=1))
    if plot_to:
        plot(runs, old, OUT / plot_to)
    if curve_to:
        plot_curve(runs, old, OUT / curve_to)
    print("| run | decisions | episodes | to 0.9 | success first/last quarter | decisions/episode first/last | final 20 | collapsed | in flight | greedy by checkpoint |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in old.items():
        g = r.get("greedy") or {}
        gtxt = ", ".join(f"{int(k.split('-')[-1])}: {'ok' if v['success'] else 'fail'} ({v['decisions']})" for k, v in sorted(g.items()))
        print(
            f"| {name} | {r['decisions']} | {r['episodes']} | {r['decisions_to_0.9'] or 'never'} | "
            f"{r['first_quarter_success']:.2f} / {r['last_quarter_success']:.2f} | "
            f"{r['first_quarter_length']:.1f} / {r['last_quarter_length']:.1f} | {r['final_success']:.2f} | "
            f"{'yes' if r['collapsed'] else 'no'} | {r['longest_in_flight']} | {gtxt or '-'} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
