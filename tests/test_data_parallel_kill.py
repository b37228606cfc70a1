"""A data-parallel run (`run --nproc 2`, real torchrun, spawned simulator servers) loses a rank to kill -9:
the job stops with no process left behind, and `--resume auto` continues from its last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agent_runtime.checkpoint import STATE_FILE, list_checkpoints

REPO = Path(__file__).resolve().parent.parent
PER_UPDATE = 2 * 2 * 4  # ranks x envs x steps


def _cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "agent_runtime.cli", "run", "--nproc", "2", "--config", "toy", "--name", "dp",
        "--num-envs", "2", "--set", "run.num_steps=4", "--set", "model.name=tiny", "--set", "model.dtype=fp32",
        "--set", f"run.output_dir={out}", "--set", "log.tensorboard=false", "--set", "run.progress=false",
        "--set", "checkpoint.every=1", "--set", "checkpoint.keep=2", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                out[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def _descendants(pid: int) -> list[int]:
    parents = _children()
    found, frontier = [], [pid]
    while frontier:
        kids = [c for c, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for kv in env:
        if kv.startswith(b"RANK="):
            return int(kv[5:])
    return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_kill_9_of_one_rank_stops_the_job_and_resume_auto_continues(tmp_path):
    log = open(tmp_path / "first.log", "w")
    job = subprocess.Popen(_cmd(tmp_path, "--total-decisions", "100000"), stdout=log, stderr=subprocess.STDOUT,
                           env=_env(), cwd=REPO)  # fmt: skip
    ckpts = tmp_path / "dp" / "checkpoints"
    try:
        deadline = time.monotonic() + 240
        while len(list_checkpoints(ckpts)) < 1 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert list_checkpoints(ckpts), (tmp_path / "first.log").read_text()[-3000:]
        procs = _descendants(job.pid)
        ranks = {_rank_of(p): p for p in procs if "agent_runtime.cli" in _cmdline(p) and _rank_of(p) is not None}
        servers = [p for p in procs if "bridges.server" in _cmdline(p)]
        assert set(ranks) == {0, 1} and len(servers) >= 2, [_cmdline(p) for p in procs]
        os.kill(ranks[1], signal.SIGKILL)
        rc = job.wait(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    assert rc != 0
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [_cmdline(p) for p in procs if _alive(p)], "orphans left behind"

    last = list_checkpoints(ckpts)[-1]
    at = torch.load(last / STATE_FILE, weights_only=False)
    assert len(at["rank_rng"]) == 2  # each rank's RNG state
    done = at["counters"]
    total = done["decisions"] + 2 * PER_UPDATE
    second = subprocess.run(_cmd(tmp_path, "--resume", "auto", "--total-decisions", str(total)), env=_env(),
                            cwd=REPO, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    assert "resumed from" in second.stdout + second.stderr
    updates = [json.loads(x) for x in (tmp_path / "dp" / "updates.jsonl").read_text().splitlines()]
    assert [u["update"] for u in updates][-3:] == [done["updates"], done["updates"] + 1, done["updates"] + 2]
    assert updates[-1]["decisions"] == total
    assert list_checkpoints(ckpts)[-1].name == f"step-{total:09d}"


@pytest.mark.slow
def test_a_stop_from_the_tui_reaches_every_rank_and_saves_once(tmp_path):
    """The control socket is rank 0's; its stop is shared with rank 1 at the next round (else: a hang)."""
    from bridges.telemetry_wire import ControlClient

    ctl = f"ipc://{tmp_path}/ctl"
    cmd = _cmd(tmp_path, "--total-decisions", "100000", "--set", "checkpoint.every=0",
               "--set", f"telemetry.pub=ipc://{tmp_path}/pub", "--set", f"telemetry.control={ctl}")  # fmt: skip
    job = subprocess.Popen(cmd, stdout=open(tmp_path / "log", "w"), stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    updates = tmp_path / "dp" / "updates.jsonl"
    try:
        deadline = time.monotonic() + 240
        while not (updates.exists() and updates.read_text().count("\n") >= 1) and time.monotonic() < deadline:
            assert job.poll() is None, (tmp_path / "log").read_text()[-3000:]
            time.sleep(0.5)
        assert ControlClient(ctl, timeout=10.0)("stop")["ok"]
        rc = job.wait(timeout=120)
    finally:
        if job.poll() is None:
            job.kill()
    assert rc == 0, (tmp_path / "log").read_text()[-3000:]
    (last,) = list_checkpoints(tmp_path / "dp" / "checkpoints")
    done = torch.load(last / STATE_FILE, weights_only=False)["counters"]["decisions"]
    assert done % 4 == 0 and done > PER_UPDATE  # whole rounds of 2 ranks x 2 envs, after the first update
