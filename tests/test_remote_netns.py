"""A simulator server on another host, made real: two network namespaces made by the test (`ip netns`),
joined by a veth pair with the test's own addresses (10.200.K.1/30 and 10.200.K.2/30, nowhere else).
The server runs in one, the runtime (`agent_runtime.cli run --connect`, CURVE keys) in the other.

Faults on that path: the server is killed and its host brings it back (the runtime reconnects and goes
on learning), then the link is taken down for good (the runtime stops with one line that names the
server and the wait it gave it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TAG = os.getpid() % 10000
CLIENT_NS, SERVER_NS = f"ardp{TAG}c", f"ardp{TAG}s"
NET = f"10.200.{TAG % 250}"
SERVER_ADDR = f"tcp://{NET}.2:5555"
RECONNECT_S = 8


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def namespaces():
    """Two namespaces, a veth pair between them, loopback up in both; always removed again."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2's `ip`")
    made = _ip("netns", "add", CLIENT_NS)
    if made.returncode != 0:
        pytest.skip(f"cannot create network namespaces here: {made.stderr.strip().splitlines()[-1:]}")
    try:
        steps = [
            ("netns", "add", SERVER_NS),
            ("link", "add", f"arc{TAG}", "netns", CLIENT_NS, "type", "veth", "peer", "name", f"ars{TAG}",
             "netns", SERVER_NS),
            ("-n", CLIENT_NS, "addr", "add", f"{NET}.1/30", "dev", f"arc{TAG}"),
            ("-n", SERVER_NS, "addr", "add", f"{NET}.2/30", "dev", f"ars{TAG}"),
            ("-n", CLIENT_NS, "link", "set", f"arc{TAG}", "up"),
            ("-n", SERVER_NS, "link", "set", f"ars{TAG}", "up"),
            ("-n", CLIENT_NS, "link", "set", "lo", "up"),
            ("-n", SERVER_NS, "link", "set", "lo", "up"),
        ]  # fmt: skip
        for step in steps:
            r = _ip(*step)
            if r.returncode != 0:
                pytest.skip(f"cannot set up the namespaces' link: ip {' '.join(step)}: {r.stderr.strip()}")
        yield
    finally:
        _ip("netns", "del", CLIENT_NS)  # takes its end of the veth pair (and so the pair) with it
        _ip("netns", "del", SERVER_NS)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _start_server(keys: Path, log: Path) -> subprocess.Popen:
    """The toy simulator server in the server namespace, bound to its address, CURVE on; waits until ready."""
    cmd = ["ip", "netns", "exec", SERVER_NS, sys.executable, "-m", "bridges.server", "--bridge", "toy",
           "--num-envs", "2", "--bind", SERVER_ADDR, "--curve-dir", str(keys)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log, "a"), env=_env(), cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("BRIDGE-READY"), (line, log.read_text()[-2000:])
    return proc


def _wait(cond, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f}s for {what}; runtime log:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _updates(run: Path) -> int:
    path = run / "updates.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_a_server_in_another_namespace_over_curve_killed_then_cut_off(namespaces, tmp_path):
    keys = tmp_path / "keys"
    subprocess.run([sys.executable, "-m", "bridges.keys", "make", str(keys)], check=True, env=_env(), cwd=REPO)
    server_log, runtime_log = tmp_path / "server.log", tmp_path / "runtime.log"
    server = _start_server(keys, server_log)
    run = tmp_path / "remote"
    cmd = [
        "ip", "netns", "exec", CLIENT_NS, sys.executable, "-m", "agent_runtime.cli", "run", "--config", "toy",
        "--name", "remote", "--connect", SERVER_ADDR, "--num-envs", "2", "--total-decisions", "1000000",
        "--set", f"env.curve_dir={keys}", "--set", "env.timeout=3", "--set", f"env.reconnect_timeout={RECONNECT_S}",
        "--set", "model.name=tiny", "--set", "model.dtype=fp32", "--set", "run.num_steps=4",
        "--set", f"run.output_dir={tmp_path}", "--set", "log.tensorboard=false", "--set", "run.progress=false",
        "--set", "checkpoint.every=0",
    ]  # fmt: skip
    runtime = subprocess.Popen(cmd, stdout=open(runtime_log, "w"), stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    try:
        _wait(lambda: _updates(run) >= 1, 180, "the first update over the namespaces' link", runtime_log)

        # 1. The server dies; its host starts it again at the same address: the runtime reconnects, goes on.
        server.kill()
        server.wait()
        time.sleep(1.0)
        server = _start_server(keys, server_log)
        seen = _updates(run)
        _wait(lambda: _updates(run) >= seen + 3, 120, "updates after the server came back", runtime_log)
        text = " ".join(runtime_log.read_text().split())
        # Noticed mid-step ("not answering") or at the next step (its episodes are gone): said either way.
        assert f"{SERVER_ADDR} is not answering" in text or f"on {SERVER_ADDR} has no episode any more" in text, text
        assert "dropped its partial episode" in text
        assert runtime.poll() is None

        # 2. The link goes down for good: the runtime gives up after its reconnect window and says so.
        down = _ip("-n", SERVER_NS, "link", "set", f"ars{TAG}", "down")
        assert down.returncode == 0, down.stderr
        cut = time.monotonic()
        rc = runtime.wait(timeout=3 + RECONNECT_S + 60)
        took = time.monotonic() - cut
    finally:
        for p in (runtime, server):
            if p.poll() is None:
                p.kill()
                p.wait()
    out = " ".join(runtime_log.read_text().split())
    assert rc == 1, out[-3000:]
    assert f"lost: attached bridge server {SERVER_ADDR} did not come back within {RECONNECT_S}s" in out, out[-3000:]
    assert "--resume auto --name remote" in out
    assert took < 3 + RECONNECT_S + 30
    assert all(json.loads(x)["decisions"] > 0 for x in (run / "updates.jsonl").read_text().splitlines())
