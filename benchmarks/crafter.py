"""Crafter bridge throughput and reset stall, with and without background world generation.

A random agent picks among the valid skills; episodes are cut at ``--max-steps``
primitive steps so that resets are frequent (a random agent also dies often).
Between decisions the simulator idles for ``--learner-ms`` (the learner scoring
the next action; an LLM takes hundreds of ms), which is when the background
worker builds the next world. For each setting it reports primitive environment
steps per second of simulator time (resets included, learner time excluded),
skill decisions per second, and how long the learner waits in ``reset()``
(median and max).

    python benchmarks/crafter.py                  # defaults: 300 decisions per setting
    python benchmarks/crafter.py --decisions 60   # a quick check

The last line is ``RESULT steps_per_s=<with> reset_stall_ms=<median with> reset_stall_ms_without=<median without>``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

# This file is named crafter.py: drop its folder from the path so that `import crafter` finds the game.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.path.insert(0, str(_here.parent))

from bridges.crafter.env import make_env  # noqa: E402


def run(
    prefetch: bool | str, decisions: int, max_steps: int, seed: int, skills: bool, learner_ms: float
) -> dict[str, float]:
    env = make_env(seed=seed, prefetch=prefetch, max_steps=max_steps, skills=skills)
    rng = random.Random(seed)
    if prefetch:
        time.sleep(1.0)  # let the worker start and build the first world, as it would while a model loads
    stalls: list[float] = []
    t0 = time.perf_counter()
    t = time.perf_counter()
    obs = env.reset()
    stalls.append(time.perf_counter() - t)
    steps = 0
    busy = 0.0
    for _ in range(decisions):
        if learner_ms:
            time.sleep(learner_ms / 1000)  # the simulator idles while the learner scores the next action
            busy += learner_ms / 1000
        obs = env.step(rng.randrange(len(obs.skills)))
        steps += obs.k
        if obs.ended:
            t = time.perf_counter()
            obs = env.reset()
            stalls.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0 - busy  # simulator time only
    env.close()
    later = stalls[1:] or stalls  # the first reset may wait for the worker to start
    return {
        "steps_per_s": steps / wall,
        "decisions_per_s": decisions / wall,
        "resets": len(stalls),
        "stall_median_ms": 1000 * statistics.median(later),
        "stall_max_ms": 1000 * max(later),
        "first_reset_ms": 1000 * stalls[0],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--decisions", type=int, default=300, help="skill decisions per setting")
    p.add_argument("--max-steps", type=int, default=300, help="primitive steps per episode (small: many resets)")
    p.add_argument(
        "--learner-ms", type=float, default=10.0,
        help="simulated learner time per decision, during which the simulator idles (an LLM takes ~500 ms)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=["process", "thread"], default="process")
    p.add_argument("--primitive", action="store_true", help="random primitive actions instead of skills")
    args = p.parse_args(argv)
    results = {}
    for name, prefetch in (("with", args.backend), ("without", False)):
        r = run(prefetch, args.decisions, args.max_steps, args.seed, not args.primitive, args.learner_ms)
        results[name] = r
        print(
            f"{name:>7} background generation: {r['steps_per_s']:7.1f} steps/s, "
            f"{r['decisions_per_s']:6.1f} decisions/s, {r['resets']} resets, "
            f"reset wait median {r['stall_median_ms']:.2f} ms, max {r['stall_max_ms']:.1f} ms, "
            f"first {r['first_reset_ms']:.1f} ms",
            flush=True,
        )
    w, wo = results["with"], results["without"]
    print(
        f"RESULT steps_per_s={w['steps_per_s']:.1f} reset_stall_ms={w['stall_median_ms']:.2f} "
        f"reset_stall_ms_without={wo['stall_median_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
