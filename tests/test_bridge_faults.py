"""Servers that die or hang mid-rollout, and runtimes that die with servers running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bridges.launch import make_vec_env

REPO = Path(__file__).resolve().parent.parent


def _gone(pid: int) -> bool:
    """True when pid no longer runs (a zombie waiting for a reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if not _gone(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if not _gone(p)]


def _rollout(venv, obs, steps: int) -> list:
    out = obs
    for _ in range(steps):
        out = venv.step([0] * venv.num_envs)
        obs = [o.reset_obs if o.ended else o for o in out]
    return obs


@pytest.mark.parametrize("how", ["kill", "hang"])
def test_dead_or_hung_server_is_restarted_and_its_episodes_dropped(how: str, caplog) -> None:
    venv = make_vec_env("toy", options={"steps": 50}, num_envs=4, seed=3, envs_per_server=2, timeout=1.5)
    try:
        obs = _rollout(venv, venv.reset(), 5)
        victim = venv.processes[1]
        old_pid = victim.pid
        os.kill(old_pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        t0 = time.monotonic()
        with caplog.at_level("WARNING", logger="bridges"):
            out = venv.step([0] * 4)
        noticed = time.monotonic() - t0
        # detection + a restart (a fresh python process) under a loaded CI machine
        assert noticed < (5.0 if how == "kill" else 8.0)
        assert victim.pid != old_pid and victim.poll() is None
        assert _wait_gone([old_pid], 3) == []
        # envs 2 and 3 lived on the dead server: dropped, ended, with a fresh first observation
        for o, prev in zip(out[2:], obs[2:]):
            assert o.dropped and o.ended and o.truncated and not o.done
            assert o.text == prev.text and o.reset_obs is not None and o.reset_obs.k == 0
        # envs 0 and 1 were unaffected
        assert not any(o.dropped for o in out[:2]) and all(o.k == 1 and not o.ended for o in out[:2])
        assert "restart" in caplog.text and "dropped" in caplog.text
        assert venv.dropped_episodes == 2
        # training goes on
        later = venv.step([0] * 4)
        assert all(o.k == 1 and not o.dropped for o in later)
    finally:
        if how == "hang":
            try:
                os.kill(old_pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        venv.close()


def test_seed_schedule_survives_a_restart() -> None:
    """The episode after a drop starts from the seed the schedule gives it (base + stride * episode)."""
    from bridges.protocol import EPISODE_STRIDE
    from bridges.toy import make_env

    venv = make_vec_env("toy", options={"steps": 50}, num_envs=1, seed=7)
    try:
        venv.reset()
        venv.step([0])
        os.kill(venv.processes[0].pid, signal.SIGKILL)
        out = venv.step([0])[0]
        assert out.dropped
        expected = make_env(steps=50).reset(7 + EPISODE_STRIDE)
        assert out.reset_obs.text == expected.text
    finally:
        venv.close()


RUNTIME = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {repo!r})
    from bridges.launch import make_vec_env
    venv = make_vec_env("toy", num_envs=3, seed=0, envs_per_server=1)
    venv.reset()
    print(" ".join(str(p.pid) for p in venv.processes), flush=True)
    time.sleep(120)
    """
)


def _start_runtime() -> tuple[subprocess.Popen, list[int]]:
    # A shell starts background jobs with SIGINT ignored, and children inherit that: give the runtime
    # the default disposition, as a terminal's Ctrl-C finds it.
    rt = subprocess.Popen(
        [sys.executable, "-c", RUNTIME.format(repo=str(REPO))], stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    line = rt.stdout.readline()
    pids = [int(x) for x in line.split()]
    assert len(pids) == 3, line
    assert not any(_gone(p) for p in pids)
    return rt, pids


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_runtime_death_leaves_no_orphan_servers(sig: int) -> None:
    rt, pids = _start_runtime()
    try:
        rt.send_signal(sig)
        rt.wait(10)
        assert _wait_gone(pids, 5) == [], f"servers outlived a runtime killed by {signal.Signals(sig).name}"
    finally:
        rt.kill()
        rt.wait()
        for p in pids:
            if not _gone(p):
                os.kill(p, signal.SIGKILL)


def test_servers_that_ignore_sigterm_are_killed_after_one_shared_grace_period() -> None:
    """Shutdown of N stuck servers takes one grace period (then SIGKILL), not N of them."""
    from bridges.launch import ServerProcess, stop_together

    stubborn = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    servers = []
    for _ in range(3):
        s = ServerProcess("toy")
        s.proc = subprocess.Popen([sys.executable, "-c", stubborn], stdout=subprocess.PIPE, text=True)
        servers.append(s)
    for s in servers:
        assert s.proc.stdout.readline().strip() == "1"  # SIGTERM is ignored from here on
    t0 = time.monotonic()
    stop_together(servers, grace=1.5)
    took = time.monotonic() - t0
    assert all(s.proc.returncode == -signal.SIGKILL for s in servers)
    assert 1.4 <= took < 3.5, took  # one by one it would be at least 3 x 1.5 s
