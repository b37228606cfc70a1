"""Cost of telemetry to training: decisions/s with no subscriber, with the TUI attached, with a stalled subscriber.

    python benchmarks/telemetry.py [--seconds 3] [--repeats 5] [--envs 4] [--work-ms 20]
    python benchmarks/telemetry.py --trainer [--decisions 256] [--model tiny] [--repeats 5] [--envs 4]

By default drives a stand-in loop that makes the trainer's per-decision telemetry
calls (set_pending, poll, wait_while_paused, take_override, publish_decision,
publish_episode, publish_stats) around a fixed amount of CPU work standing in for
scoring, on the toy task; ``--trainer`` runs the real trainer (agent_runtime.trainer,
tiny model, toy task) instead. "attached" is the TUI (``python -m tui --headless``,
120x50) in its own process; "stalled" a SUB socket in its own process that never
reads. Conditions are interleaved and repeated; the best rate of each (the least
disturbed by other work on the machine, as timeit does) is compared with the best
rate without a subscriber; medians and the time spent inside telemetry calls are
printed too. Last line:
``RESULT slowdown_pct_attached=<x> slowdown_pct_stalled=<y>``.

``python benchmarks/telemetry.py serve --pub ADDR --control ADDR ...`` runs the same
loop as a stand-in runtime until killed (the TUI tests use it): it honours
pause/step/override/mode/save, writes the demonstrations file, and logs every
skill index the simulator executes (``--actions-log``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_runtime.telemetry import Telemetry  # noqa: E402
from bridges.toy import PickNamedEnv  # noqa: E402


def burn(iterations: int) -> int:
    """A fixed amount of CPU work (stands in for scoring one environment)."""
    acc = 0
    for i in range(iterations):
        acc += i * i % 7
    return acc


def calibrate(work_ms: float) -> int:
    """Iterations of ``burn`` that take about ``work_ms`` on this machine now."""
    if work_ms <= 0:
        return 0
    n = 20_000
    while True:
        t = time.perf_counter()
        burn(n)
        dt = time.perf_counter() - t
        if dt > 0.05:
            return max(1, int(n * work_ms / 1000 / dt))
        n *= 2


class LoggedEnv(PickNamedEnv):
    """The toy env, logging each skill index it executes (what the simulator really ran)."""

    def __init__(self, env_id: int, log, **kw):
        super().__init__(**kw)
        self.env_id = env_id
        self.log = log
        self.decision = 0

    def step(self, skill: int):
        if self.log is not None:
            self.log.write(json.dumps({"env": self.env_id, "step": self.decision, "skill": skill}) + "\n")
            self.log.flush()
        return super().step(skill)


def mimic_trainer(
    tel: Telemetry,
    num_envs: int,
    iterations: int,
    seconds: float | None = None,
    seed: int = 0,
    actions_log: str | None = None,
    stats_every: int = 8,
    ckpt_dir: str | None = None,
) -> int:
    """Run decision rounds (for ``seconds``, or forever) and return the number of decisions made."""
    rng = random.Random(seed)
    log = open(actions_log, "a") if actions_log else None
    envs = [LoggedEnv(i, log, num_candidates=4, steps=3, seed=seed + i) for i in range(num_envs)]
    obs = [e.reset(seed + i) for i, e in enumerate(envs)]
    ep_return = [0.0] * num_envs
    ep_len = [0] * num_envs
    last_reward = [0.0] * num_envs
    buffer: list[dict] = []  # the rollout buffer's override flags, as the trainer keeps them
    decisions = rounds = 0
    end = None if seconds is None else time.perf_counter() + seconds
    try:
        while end is None or time.perf_counter() < end:
            tel.set_pending([{"observation": o.text, "skills": o.skills} for o in obs])
            tel.poll()
            tel.wait_while_paused()
            actions = []
            for i, o in enumerate(obs):
                burn(iterations)
                logits = [rng.gauss(0.0, 1.5) for _ in o.skills]
                mx = max(logits)
                ex = [math.exp(x - mx) for x in logits]
                z = sum(ex)
                probs = [x / z for x in ex]
                value = rng.uniform(-1, 1)
                ov = tel.take_override(i, len(o.skills))
                greedy = bool(tel.greedy)
                if ov is not None:
                    action = ov
                elif greedy:
                    action = max(range(len(probs)), key=probs.__getitem__)
                else:
                    action = rng.choices(range(len(probs)), weights=probs)[0]
                decisions += 1
                buffer.append({"env": i, "step": decisions, "action": action, "overridden": ov is not None})
                if len(buffer) > 4096:
                    del buffer[:2048]
                tel.publish_decision(
                    {
                        "env": i,
                        "step": decisions,
                        "episode_step": ep_len[i],
                        "observation": o.text,
                        "skills": o.skills,
                        "probs": probs,
                        "value": value,
                        "action": action,
                        "overridden": buffer[-1]["overridden"],
                        "reward": last_reward[i],
                        "greedy": greedy,
                    }
                )
                if ov is not None:
                    tel.record_override(
                        {
                            "env": i,
                            "step": decisions,
                            "prompt": o.text,
                            "skills": o.skills,
                            "action": action,
                            "action_text": o.skills[action],
                            "probs": probs,
                        }
                    )
                envs[i].decision = decisions
                actions.append(action)
            for i, a in enumerate(actions):
                new = envs[i].step(a)
                ep_return[i] += new.reward
                ep_len[i] += 1
                last_reward[i] = new.reward
                if new.ended:
                    tel.publish_episode(
                        {
                            "env": i,
                            "return": ep_return[i],
                            "length": ep_len[i],
                            "success": bool(new.info.get("success")),
                            "decisions": decisions,
                        }
                    )
                    ep_return[i], ep_len[i] = 0.0, 0
                    new = envs[i].reset()
                obs[i] = new
            rounds += 1
            if rounds % stats_every == 0:
                tel.publish_stats(
                    {
                        "update": rounds // stats_every,
                        "decisions": decisions,
                        "policy_loss": rng.uniform(-0.1, 0.1),
                        "value_loss": rng.uniform(0, 1),
                        "kl": rng.uniform(0, 0.02),
                        "entropy": rng.uniform(1.0, 1.4),
                        "lr": 1e-4,
                    }
                )
            if tel.save_requested:
                if ckpt_dir:
                    Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
                    (Path(ckpt_dir) / f"step-{decisions}.txt").write_text(str(decisions))
                tel.save_requested = False
    finally:
        if log is not None:
            log.close()
    return decisions


def serve(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="benchmarks/telemetry.py serve")
    p.add_argument("--pub", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--demos", default=None)
    p.add_argument("--actions-log", default=None)
    p.add_argument("--ckpt-dir", default=None)
    p.add_argument("--envs", type=int, default=2)
    p.add_argument("--work-ms", type=float, default=20.0)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    iterations = calibrate(a.work_ms)
    with Telemetry(a.pub, a.control, a.demos) as tel:
        print("READY", flush=True)
        mimic_trainer(tel, a.envs, iterations, a.seconds, a.seed, a.actions_log, ckpt_dir=a.ckpt_dir)


STALLED = """
import sys, time, zmq
s = zmq.Context.instance().socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 10)
s.setsockopt(zmq.SUBSCRIBE, b"")
s.connect(sys.argv[1])
print("READY", flush=True)
time.sleep(3600)  # never reads
"""


def _wait_for_subscriber(pub: str, deadline_s: float = 10.0) -> None:
    """Wait until a subscriber is really receiving (so 'attached' means attached)."""
    import zmq

    ctx = zmq.Context.instance()
    probe = ctx.socket(zmq.SUB)
    probe.setsockopt(zmq.SUBSCRIBE, b"")
    probe.setsockopt(zmq.LINGER, 0)
    probe.connect(pub)
    try:
        probe.poll(int(deadline_s * 1000))
    finally:
        probe.close(0)


def _start_subscriber(name: str, pub: str, ctl: str) -> subprocess.Popen | None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if name == "attached":
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "--connect", pub, "--control", ctl, "--headless"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    elif name == "stalled":
        proc = subprocess.Popen([sys.executable, "-c", STALLED, pub], env=env, stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
    else:
        return None
    _wait_for_subscriber(pub)
    time.sleep(2.0 if name == "attached" else 0.3)  # let the TUI finish starting up
    if proc.poll() is not None:
        raise RuntimeError(f"the {name} subscriber exited early (code {proc.returncode})")
    return proc


def _stop(proc: subprocess.Popen | None, name: str) -> None:
    if proc is None:
        return
    died = proc.poll()
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if died is not None:
        raise RuntimeError(f"the {name} subscriber died during the run (code {died})")


TIMED_CALLS = ("set_pending", "poll", "wait_while_paused", "take_override", "publish_decision",
               "publish_stats", "publish_episode", "record_override")  # fmt: skip


class CallTimer:
    """Wraps a Telemetry instance's methods to add up the wall time spent inside them."""

    def __init__(self, tel: Telemetry):
        self.seconds = 0.0
        for name in TIMED_CALLS:
            setattr(tel, name, self._wrap(getattr(tel, name)))

    def _wrap(self, fn):
        def timed(*args, **kw):
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                self.seconds += time.perf_counter() - t

        return timed


def _cpu_seconds(proc: subprocess.Popen | None) -> float:
    """CPU seconds a live child has used so far (Linux /proc; 0 elsewhere)."""
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _measure(name: str, tel: Telemetry, run, pub: str, ctl: str) -> dict[str, float]:
    timer = CallTimer(tel)
    proc = _start_subscriber(name, pub, ctl)
    try:
        t, c0 = time.perf_counter(), _cpu_seconds(proc)
        n = run()
        wall = time.perf_counter() - t
        sub_cpu = _cpu_seconds(proc) - c0
    finally:
        _stop(proc, name)
    return {
        "rate": n / wall,
        "telemetry_us": 1e6 * timer.seconds / n,  # inside telemetry calls, per decision
        "telemetry_pct": 100.0 * timer.seconds / wall,
        "subscriber_cpu_pct": 100.0 * sub_cpu / wall,  # of one core
    }


def run_mimic(name: str, a: argparse.Namespace, iterations: int, tmp: str, idx: int) -> dict[str, float]:
    """One measurement of the stand-in loop under one condition."""
    pub, ctl = f"ipc://{tmp}/bench-{idx}-telemetry", f"ipc://{tmp}/bench-{idx}-control"
    with Telemetry(pub, ctl) as tel:
        return _measure(name, tel, lambda: mimic_trainer(tel, a.envs, iterations, a.seconds, seed=idx), pub, ctl)


def run_trainer(name: str, a: argparse.Namespace, tmp: str, idx: int) -> dict[str, float]:
    """One measurement of the real trainer (tiny model, toy task) under one condition."""
    from agent_runtime.config import load_config
    from agent_runtime.trainer import Trainer

    pub, ctl = f"ipc://{tmp}/bench-{idx}-telemetry", f"ipc://{tmp}/bench-{idx}-control"
    cfg = load_config(
        str(ROOT / "configs" / "toy.yaml"),
        [
            f"model.name={a.model}", f"telemetry.pub={pub}", f"telemetry.control={ctl}",
            f"run.total_decisions={a.decisions}", f"env.num_envs={a.envs}", "env.in_process=true",
            f"run.output_dir={tmp}/runs-{idx}", "run.progress=false", "checkpoint.every=0",
            "log.tensorboard=false", "log.console_every=0",
        ],
    )  # fmt: skip
    trainer = Trainer(cfg)
    return _measure(name, trainer.telemetry, lambda: trainer.train()["counters"]["decisions"], pub, ctl)


def bench(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="benchmarks/telemetry.py")
    p.add_argument(
        "--trainer", action="store_true", help="drive the real trainer (agent_runtime.trainer) instead of the stand-in loop"
    )
    p.add_argument("--seconds", type=float, default=3.0, help="stand-in loop: length of one measurement")
    p.add_argument("--work-ms", type=float, default=20.0, help="stand-in loop: CPU work per decision standing in for scoring")
    p.add_argument("--decisions", type=int, default=256, help="trainer: decisions per measurement")
    p.add_argument("--model", default="tiny", help="trainer: model.name (default %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved repeats of each condition")
    p.add_argument("--envs", type=int, default=4)
    a = p.parse_args(argv)
    if a.trainer:
        print(f"real trainer: model {a.model}, toy task, {a.envs} envs, {a.decisions} decisions a measurement", flush=True)
    else:
        iterations = calibrate(a.work_ms)
        print(
            f"stand-in loop: {iterations} iterations of work a decision (~{a.work_ms:g} ms when calibrated), {a.envs} envs",
            flush=True,
        )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True)
    conditions = ["none", "attached", "stalled"]
    runs: dict[str, list[dict[str, float]]] = {c: [] for c in conditions}
    with tempfile.TemporaryDirectory(prefix="ar-bench-") as tmp:
        # one discarded run first: the first trainer in a process pays one-time costs (lazy imports, allocator, caches)
        m = run_trainer("none", a, tmp, 0) if a.trainer else run_mimic("none", a, iterations, tmp, 0)
        print(f"warm-up   none      {m['rate']:8.2f} decisions/s (not counted)", flush=True)
        idx = 0
        for r in range(a.repeats):
            order = conditions if r % 2 == 0 else conditions[::-1]
            for c in order:
                idx += 1
                m = run_trainer(c, a, tmp, idx) if a.trainer else run_mimic(c, a, iterations, tmp, idx)
                runs[c].append(m)
                print(
                    f"repeat {r} {c:9s} {m['rate']:8.2f} decisions/s  telemetry calls {m['telemetry_us']:7.1f} us a decision"
                    f" ({m['telemetry_pct']:.3f}% of wall)  subscriber CPU {m['subscriber_cpu_pct']:5.1f}% of a core",
                    flush=True,
                )  # fmt: skip

    def med(c: str, key: str) -> float:
        return statistics.median(m[key] for m in runs[c])

    for c in conditions:
        print(
            f"median {c:9s} {med(c, 'rate'):8.2f} decisions/s  (runs: {', '.join(format(m['rate'], '.2f') for m in runs[c])})"
            f"  telemetry calls {med(c, 'telemetry_us'):.1f} us a decision ({med(c, 'telemetry_pct'):.3f}%)"
            f"  subscriber CPU {med(c, 'subscriber_cpu_pct'):.1f}% of a core"
        )
    print(
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the machine makes wall-clock rates noisy)"
    )

    # Other work on a shared machine only ever slows a run down, so as timeit does we compare the best
    # run of each condition (the least disturbed); the medians above show the spread.
    best = {c: max(m["rate"] for m in runs[c]) for c in conditions}
    print("best      " + "  ".join(f"{c} {best[c]:.2f}" for c in conditions) + " decisions/s")

    def slowdown(c: str) -> float:
        return 100.0 * (best["none"] - best[c]) / best["none"]

    print(f"RESULT slowdown_pct_attached={slowdown('attached'):.2f} slowdown_pct_stalled={slowdown('stalled'):.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
    else:
        bench(sys.argv[1:])
