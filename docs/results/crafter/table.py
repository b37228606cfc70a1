"""The Crafter table of guidance.sh: score, reward, decisions per episode, a bootstrap interval, the achievement
counts, and how often the guide named an achievement (training and evaluation).

Usage: python docs/results/crafter/table.py EVAL.json... [--updates RUN/updates.jsonl...] [--runs RUN...]
Prints Markdown. Each EVAL.json is what `agent-runtime eval --json` writes (with per-episode achievements).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
from collections import Counter
from pathlib import Path

from agent_runtime.metrics import achievement_score
from bridges.crafter.score import ACHIEVEMENTS
from skills.crafter_guidance import parse_subgoal

BOOT = 2000


def score(unlocked: list[list[str]]) -> float:
    return achievement_score([{a: int(a in u) for a in ACHIEVEMENTS} for u in unlocked])


def bootstrap(unlocked: list[list[str]], rng: random.Random) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of the score over episodes resampled with replacement."""
    n = len(unlocked)
    s = sorted(score([unlocked[rng.randrange(n)] for _ in range(n)]) for _ in range(BOOT))
    return s[int(0.025 * BOOT)], s[int(0.975 * BOOT) - 1]


def one_less(unlocked: list[list[str]]) -> float:
    """The largest drop of the score when one episode's one achievement is taken away."""
    base, worst = score(unlocked), 0.0
    for i, u in enumerate(unlocked):
        for a in u:
            changed = unlocked[:i] + [[b for b in u if b != a]] + unlocked[i + 1 :]
            worst = max(worst, base - score(changed))
    return worst


def one_more(unlocked: list[list[str]]) -> float:
    """The largest rise of the score when one episode unlocks one achievement more."""
    base, best = score(unlocked), 0.0
    for a in ACHIEVEMENTS:
        i = next((i for i, u in enumerate(unlocked) if a not in u), None)
        if i is not None:
            best = max(best, score(unlocked[:i] + [unlocked[i] + [a]] + unlocked[i + 1 :]) - base)
    return best


def paired(a: list[list[str]], b: list[list[str]], rng: random.Random) -> tuple[float, float, float]:
    """score(b) - score(a) on the same seeds, and its bootstrap interval (seeds resampled together)."""
    n = len(a)
    d = []
    for _ in range(BOOT):
        idx = [rng.randrange(n) for _ in range(n)]
        d.append(score([b[i] for i in idx]) - score([a[i] for i in idx]))
    d.sort()
    return score(b) - score(a), d[int(0.025 * BOOT)], d[int(0.975 * BOOT) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("evals", nargs="+")
    ap.add_argument("--updates", nargs="*", default=[])
    ap.add_argument("--runs", nargs="*", default=[], help="run folders: the score over their training episodes")
    ap.add_argument("--guide-log", nargs="*", default=[], help="DEBUG logs of agent_runtime.guidance: what it named")
    args = ap.parse_args()
    rng = random.Random(0)
    rows = []
    for path in args.evals:
        data = json.loads(Path(path).read_text())
        for r in data["results"]:
            name = r["policy"] if r["policy"] != "checkpoint" else Path(path).stem.removeprefix("eval-")
            rows.append((name, r))
    print(
        "| policy | episodes | Crafter score (%) | 95% bootstrap | one achievement less / more | reward | decisions per episode |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        u = r["achievements_unlocked"]
        lo, hi = bootstrap(u, rng)
        print(
            f"| {name} | {r['episodes']} | {score(u):.2f} | {lo:.2f}-{hi:.2f} | -{one_less(u):.2f} / +{one_more(u):.2f} "
            f"| {r['mean_return']:.2f} | {r['mean_length']:.1f} |"
        )
    print("\nEpisodes (of each policy's) that unlocked each achievement (achievements no policy unlocked left out):\n")
    counts = {name: {a: sum(a in e for e in r["achievements_unlocked"]) for a in ACHIEVEMENTS} for name, r in rows}
    seen = [a for a in ACHIEVEMENTS if any(c[a] for c in counts.values())]
    print("| achievement | " + " | ".join(name for name, _ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for a in seen:
        print(f"| {a} | " + " | ".join(str(counts[name][a]) for name, _ in rows) + " |")
    by = {name: r["achievements_unlocked"] for name, r in rows}
    names = [name for name, _ in rows]
    print()
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if len(by[a]) == len(by[b]):
                d, lo, hi = paired(by[a], by[b], rng)
                print(f"- {b} minus {a}: {d:+.2f} points (paired bootstrap 95%: {lo:+.2f} to {hi:+.2f})")
    print()
    for name, r in rows:
        if "guidance_queries" in r:
            q, f = r["guidance_queries"], r["guidance_fallbacks"]
            print(f"- guide in evaluation ({name}): named an achievement in {q - f} of {q} queries (not a fallback)")
    for path in args.updates:
        ups = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        last = [u for u in ups if "guidance_queries" in u][-1]
        q, f = int(last["guidance_queries"]), int(last["guidance_fallbacks"])
        print(f"- guide in training ({path}): named an achievement in {q - f} of {q} queries (not a fallback)")
    for run in args.runs:
        eps = [json.loads(line) for line in (Path(run) / "episodes.jsonl").read_text().splitlines() if line.strip()]
        u = [sorted(a for a, n in e["achievements"].items() if n > 0) for e in eps]
        ret = sum(e["return"] for e in eps) / len(eps)
        print(f"- training episodes of {run}: {len(eps)}, Crafter score {score(u):.2f}, mean reward {ret:.2f}")
    for path in args.guide_log:
        guide_replies(path)


GUIDE_LINE = re.compile(r"guide ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") -> ")


def guide_replies(path: str) -> None:
    """What the guide's replies named (from agent_runtime.guidance's DEBUG lines), and a few of them."""
    replies = [ast.literal_eval(m.group(1)) for m in map(GUIDE_LINE.search, open(path)) if m]
    named = Counter(parse_subgoal(r) for r in replies)
    hits = len(replies) - named.pop(None, 0)
    print(
        f"- guide replies in {path}: {len(replies)}; read by this checkout's parse_subgoal, {hits} name an "
        f"achievement: {dict(named.most_common())}"
    )
    for r in list(dict.fromkeys(replies))[:5]:
        print(f"  - {r!r}")


if __name__ == "__main__":
    main()
