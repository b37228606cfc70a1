"""Decisions/s of TWOSOME's salad kitchen: the simulator alone, and through the bridge.

    python benchmarks/overcooked.py [--task tomato-salad] [--seconds 3] [--repeats 3]

A decision is one macro-action (several primitive steps). Each env takes a random
skill (all skills are always offered); ended episodes are reset (LocalVecEnv /
the bridge's automatic reset). "alone": one env stepped in this process, no
bridge. "bridge": one env on a server process spawned by
``bridges.launch.make_vec_env`` (ZeroMQ + msgpack over ipc). The two are
interleaved and repeated; medians are reported. Also printed: primitive steps/s
and the mean macro length. Last line:

    RESULT salad_steps_per_s=<alone> bridge_steps_per_s=<through the bridge>
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridges.launch import make_vec_env  # noqa: E402


def measure(venv, seconds: float, seed: int) -> tuple[float, float]:
    """(decisions/s, primitive steps/s) with random skills for ``seconds``."""
    rng = random.Random(seed)
    obs = venv.reset()
    for _ in range(20):  # warm-up
        out = venv.step([rng.randrange(len(o.skills)) for o in obs])
        obs = [o.reset_obs if o.ended else o for o in out]
    decisions = primitives = 0
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        out = venv.step([rng.randrange(len(o.skills)) for o in obs])
        decisions += len(out)
        primitives += sum(o.k for o in out)
        obs = [o.reset_obs if o.ended else o for o in out]
    return decisions / elapsed, primitives / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="tomato-salad", choices=["tomato-salad", "tomato-lettuce-salad"])
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    alone = make_vec_env(bridge="overcooked", task=args.task, options={}, num_envs=1, seed=0, in_process=True)
    bridge = make_vec_env(bridge="overcooked", task=args.task, options={}, num_envs=1, seed=0)
    rates: dict[str, list[tuple[float, float]]] = {"alone": [], "bridge": []}
    try:
        for r in range(args.repeats):
            rates["alone"].append(measure(alone, args.seconds, seed=r))
            rates["bridge"].append(measure(bridge, args.seconds, seed=r))
    finally:
        alone.close()
        bridge.close()
    med = {k: (statistics.median(d for d, _ in v), statistics.median(p for _, p in v)) for k, v in rates.items()}
    for name, (d, p) in med.items():
        print(f"{args.task} {name:6s}: {d:10.1f} decisions/s  {p:10.1f} primitive steps/s  ({p / d:.2f} steps per macro)")
    print(f"RESULT salad_steps_per_s={med['alone'][0]:.1f} bridge_steps_per_s={med['bridge'][0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
