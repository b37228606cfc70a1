"""A checkpoint writer killed (SIGKILL) at random points: the next start finds no leftovers and a complete checkpoint.

The writer is a real process (forked from the test) that saves checkpoints in a loop through
``save_checkpoint``: new steps, re-saves of the step just written, and pruning (keep=2). The test
kills it after a random delay, sweeps as a start does, and checks the folder.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch

from agent_runtime.checkpoint import STATE_FILE, find_checkpoint, list_checkpoints, save_checkpoint, sweep_checkpoints

ADAPTER_BYTES = 2_000_000  # big enough that a kill often lands inside a write or a delete
FILES = ("adapter_model.safetensors", "adapter_config.json", "critic.pt")


class StubPolicy:
    """Writes files shaped like the real adapter's (checksummed so a torn file would show)."""

    def __init__(self, step: int):
        self.step = step

    def save(self, folder: Path) -> None:
        data = np.random.default_rng(self.step).bytes(ADAPTER_BYTES)
        (folder / "adapter_model.safetensors").write_bytes(data)
        (folder / "adapter_config.json").write_text(f'{{"step": {self.step}}}')
        torch.save({"w": torch.full((256, 256), float(self.step))}, folder / "critic.pt")


class StubPPO:
    name = "ppo"

    def state_dict(self) -> dict:
        return {"algo": {"lr": 1e-3}}


def writer(folder: str, start: int, ready) -> None:
    # A forked child must not enter the OpenMP pool the parent (pytest, after other torch tests) started:
    # it can hang there. One thread runs torch's kernels inline.
    torch.set_num_threads(1)
    rng = np.random.default_rng(start)
    step = start
    ready.set()
    while True:
        step += 1
        for _ in range(1 + step % 2):  # every other step is saved twice: the re-save path
            save_checkpoint(Path(folder), StubPolicy(step), StubPPO(), {"decisions": step, "updates": step, "episodes": 0},
                            rng, keep=2, config_yaml=f"step: {step}\n")  # fmt: skip


def complete(ckpt: Path) -> int:
    step = int(ckpt.name.split("-")[1])
    state = torch.load(ckpt / STATE_FILE, weights_only=False)
    assert state["counters"]["decisions"] == step
    assert (ckpt / "adapter_model.safetensors").read_bytes() == np.random.default_rng(step).bytes(ADAPTER_BYTES)
    assert (ckpt / "adapter_config.json").read_text() == f'{{"step": {step}}}'
    assert torch.load(ckpt / "critic.pt")["w"][0, 0].item() == step
    assert (ckpt / "config.yaml").read_text() == f"step: {step}\n"
    return step


def test_killed_writer_leaves_nothing_behind_and_resume_finds_a_complete_checkpoint(tmp_path):
    ctx = mp.get_context("fork")
    folder = tmp_path / "checkpoints"
    rnd = random.Random(1234)
    last = 0
    leftovers_seen = 0
    kills = 40
    for i in range(kills):
        ready = ctx.Event()
        proc = ctx.Process(target=writer, args=(str(folder), last, ready), daemon=True)
        proc.start()
        assert ready.wait(30)
        if i == 0:  # on a slow (loaded) machine a write can outlast every random kill: let one complete first
            deadline = time.monotonic() + 60
            while not list_checkpoints(folder) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert list_checkpoints(folder), "the writer completed no checkpoint within 60 s"
        time.sleep(rnd.uniform(0.0, 0.4))  # a random point in the save / re-save / prune cycle
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL
        # the next start: sweep, then resume
        before = {p.name for p in folder.iterdir()} if folder.exists() else set()
        swept = sweep_checkpoints(folder)
        leftovers_seen += bool(swept)
        names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        assert all(n.startswith("step-") for n in names), (i, before, names)
        assert all((folder / n / STATE_FILE).exists() for n in names), (i, names)
        assert len(names) <= 3, names  # keep=2, plus at most the one being written when killed
        if names:
            step = complete(find_checkpoint(folder))
            for ckpt in list_checkpoints(folder):
                complete(ckpt)
            assert step >= last, "a kill lost a checkpoint that had been complete"
            last = step
    assert last > 0, "the writer never completed a checkpoint"
    assert leftovers_seen > 0, "no kill landed inside a write: the test did not exercise the sweep"


def test_resave_of_an_existing_step_replaces_it_without_a_gap(tmp_path):
    rng = np.random.default_rng(0)
    counters = {"decisions": 5, "updates": 1, "episodes": 0}
    save_checkpoint(tmp_path, StubPolicy(5), StubPPO(), counters, rng, keep=2, config_yaml="step: 5\n")
    first = (tmp_path / "step-000000005" / STATE_FILE).stat().st_ino
    save_checkpoint(tmp_path, StubPolicy(5), StubPPO(), counters, rng, keep=2, config_yaml="step: 5\n")
    assert (tmp_path / "step-000000005" / STATE_FILE).stat().st_ino != first  # the new one is in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000005"]
    # a kill between the two renames of a re-save: the old one aside, the new one in .tmp; the sweep puts the old back
    os.replace(tmp_path / "step-000000005", tmp_path / ".old-step-000000005")
    (tmp_path / ".tmp-abc").mkdir()
    sweep_checkpoints(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-000000005"]
    assert complete(tmp_path / "step-000000005") == 5
