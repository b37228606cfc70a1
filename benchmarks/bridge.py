"""Bridge overhead: steps/s in-process vs through ZeroMQ, and round-trip latency.

    python benchmarks/bridge.py [--seconds 3] [--repeats 3] [--bridge babyai --task GoToLocal]

Steps/s of the simulator with a random valid action per env, in-process
(LocalVecEnv) and through the bridge (1 and 8 envs, ipc and tcp; servers spawned
by make_vec_env, which runs one server per env up to the core count).  Round
trip: a heartbeat (ping) to one server, and a 1-env step.  Measurements are
interleaved and repeated; the median is reported.  Last line:

    RESULT overhead_pct_8env=<% slower than in-process at 8 envs, ipc> p50_us=<ping rtt> p99_us=<ping rtt>
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridges.launch import make_vec_env  # noqa: E402


def pick_bridge(bridge: str, task: str | None) -> tuple[str, str | None]:
    from bridges.registry import env_factory

    try:
        env_factory(bridge)(task=task, seed=0) if task else env_factory(bridge)(seed=0)
        return bridge, task
    except Exception as e:  # simulator not installed or bridge not written yet
        print(f"note: bridge {bridge!r} unavailable ({type(e).__name__}: {e}); falling back to the toy task, "
              "whose steps are so cheap that the numbers measure pure overhead")
        return "toy", None


def steps_per_s(venv, seconds: float, seed: int = 0) -> float:
    rng = random.Random(seed)
    obs = venv.reset()
    for _ in range(20):  # warm-up
        out = venv.step([rng.randrange(len(o.skills)) for o in obs])
        obs = [o.reset_obs if o.ended else o for o in out]
    n = 0
    t0 = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        out = venv.step([rng.randrange(len(o.skills)) for o in obs])
        obs = [o.reset_obs if o.ended else o for o in out]
        n += 1
    return n * venv.num_envs / elapsed


def percentiles(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bridge", default="babyai")
    ap.add_argument("--task", default="GoToLocal")
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pings", type=int, default=5000)
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--envs-per-server", type=int, default=None, help="default: one server per env up to the cores")
    args = ap.parse_args()
    bridge, task = pick_bridge(args.bridge, args.task)
    print(f"bridge={bridge} task={task} cores={os.cpu_count()} seconds={args.seconds} repeats={args.repeats}")

    configs = []
    for n in args.envs:
        configs.append((n, "in-process", dict(in_process=True)))
        for transport in ("ipc", "tcp"):
            configs.append((n, transport, dict(transport=transport, envs_per_server=args.envs_per_server)))
    results: dict[tuple[int, str], list[float]] = {(n, name): [] for n, name, _ in configs}
    venvs = {(n, name): make_vec_env(bridge, task, num_envs=n, seed=0, **kw) for n, name, kw in configs}
    try:
        for n, name, _ in configs:
            v = venvs[(n, name)]
            layout = "" if name == "in-process" else f" ({len(v.processes)} servers)"
            print(f"  {n} env(s) {name}{layout}")
        for r in range(args.repeats):
            for key in results:
                results[key].append(steps_per_s(venvs[key], args.seconds, seed=r))
        # round trips on a 1-env ipc server
        v1 = venvs[(min(args.envs), "ipc")]
        pings = [v1.ping()[0] for _ in range(args.pings)]
        p50, p99 = percentiles(pings)
        obs = v1.reset()
        step_rtts = []
        for _ in range(min(2000, args.pings)):
            t0 = time.perf_counter()
            out = v1.step([0] * v1.num_envs)
            step_rtts.append(time.perf_counter() - t0)
            obs = [o.reset_obs if o.ended else o for o in out]
        s50, s99 = percentiles(step_rtts)
    finally:
        for v in venvs.values():
            v.close()

    print(f"{'envs':>4} {'mode':>10} {'steps/s (median)':>17} {'all repeats':>30} {'vs in-process':>14}")
    med = {k: statistics.median(v) for k, v in results.items()}
    for (n, name), vals in results.items():
        base = med[(n, "in-process")]
        slower = 100.0 * (base - med[(n, name)]) / base
        vs = "" if name == "in-process" else (f"{slower:.1f}% slower" if slower >= 0 else f"{-slower:.1f}% faster")
        print(f"{n:>4} {name:>10} {med[(n, name)]:>17.0f} {' '.join(f'{x:.0f}' for x in vals):>30} {vs:>14}")
    print(f"ping round trip (ipc, 1 server): p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us over {len(pings)}")
    print(f"{bridge} step round trip ({v1.num_envs} env, ipc): p50 {s50 * 1e6:.0f} us, p99 {s99 * 1e6:.0f} us")
    n8 = max(args.envs)
    overhead = 100.0 * (med[(n8, "in-process")] - med[(n8, "ipc")]) / med[(n8, "in-process")]
    print(f"RESULT overhead_pct_{n8}env={overhead:.1f} p50_us={p50 * 1e6:.0f} p99_us={p99 * 1e6:.0f}")


if __name__ == "__main__":
    main()
