"""Checkpoints: adapters (PEFT format), value head, the algorithm's state, counters, RNG states.

Each checkpoint is a folder ``step-<decisions>`` written to a temporary folder and
renamed into place, so a crash never leaves a half-written checkpoint; only the
last ``keep`` are kept. A re-save of an existing step and the pruning rename the
old folder aside before deleting it; ``sweep_checkpoints`` clears what a kill
left behind (see the folder handling below).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent_runtime.policy import ActorCritic

STATE_FILE = "trainer_state.pt"
PREFIX = "step-"


def rng_state(np_rng: np.random.Generator) -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy_global": np.random.get_state(),
        "numpy": np_rng.bit_generator.state,
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def set_rng_state(state: dict[str, Any], np_rng: np.random.Generator) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy_global"])
    np_rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: Path,
    policy: ActorCritic,
    algo: Any,
    counters: dict[str, int],
    np_rng: np.random.Generator,
    keep: int,
    config_yaml: str = "",
    extra: Callable[[Path], None] | None = None,
    extra_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/step-<decisions>`` atomically; prune to the newest ``keep``.

    ``extra(tmp_folder)`` may write more files (e.g. the guidance adapter) before the rename;
    ``extra_state`` goes into the state file too (data-parallel runs: every rank's RNG state).
    """
    folder.mkdir(parents=True, exist_ok=True)
    sweep_checkpoints(folder)
    target = folder / f"{PREFIX}{counters['decisions']:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=folder))
    try:
        policy.save(tmp)
        algorithm = {"name": algo.name, "state": algo.state_dict()}
        state = {"counters": counters, "algorithm": algorithm, "rng": rng_state(np_rng), **(extra_state or {})}
        torch.save(state, tmp / STATE_FILE)
        if config_yaml:
            (tmp / "config.yaml").write_text(config_yaml)
        if extra is not None:
            extra(tmp)
        _put_in_place(tmp, target)
    finally:
        if tmp.exists():
            _remove(tmp)
    for old in list_checkpoints(folder)[:-keep]:
        _discard(old)
    sweep_checkpoints(folder)
    return target


# Folder handling. Only a folder named step-* holding STATE_FILE is a checkpoint, and such a folder is
# always complete: it is written under a temporary name and renamed in; a replaced or pruned one is
# renamed aside first and its state file removed before the rest. A kill at any point leaves at most
# these leftovers, which sweep_checkpoints (at start, before and after each save) clears up:
TMP_PREFIX = ".tmp-"  # a checkpoint being written
OLD_PREFIX = ".old-"  # .old-step-N: the previous step-N while a re-save of step-N is renamed in
TRASH_PREFIX = ".trash-"  # a pruned checkpoint being deleted


def _remove(path: Path) -> None:
    """Delete a folder, its state file first (so that a kill midway never leaves a 'complete' half)."""
    try:
        (path / STATE_FILE).unlink()
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def _discard(path: Path) -> None:
    """Delete a checkpoint atomically: rename it aside, then delete it."""
    trash = path.with_name(f"{TRASH_PREFIX}{path.name}")
    if trash.exists():
        _remove(trash)
    try:
        os.replace(path, trash)
    except OSError:
        return
    _remove(trash)


def _put_in_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is renamed aside first and deleted only after."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.with_name(f"{OLD_PREFIX}{target.name}")
    if old.exists():
        _remove(old)
    os.replace(target, old)
    os.replace(tmp, target)
    _remove(old)


def sweep_checkpoints(folder: Path) -> list[str]:
    """Clear what a killed writer left in ``folder``; returns the names removed or restored.

    ``.tmp-*`` and ``.trash-*`` are deleted; ``.old-step-N`` is put back when ``step-N`` is missing (the
    kill fell between the two renames of a re-save) and deleted otherwise; a ``step-*`` folder without
    its state file (half deleted by an older version) is deleted.
    """
    if not folder.is_dir():
        return []
    done = []
    for p in sorted(folder.iterdir()):
        if not p.is_dir():
            continue
        if p.name.startswith(OLD_PREFIX):
            target = p.with_name(p.name[len(OLD_PREFIX) :])
            if not (target / STATE_FILE).exists() and (p / STATE_FILE).exists():
                if target.exists():
                    _remove(target)
                os.replace(p, target)
                done.append(f"{p.name} -> {target.name}")
            else:
                _remove(p)
                done.append(p.name)
        elif p.name.startswith((TMP_PREFIX, TRASH_PREFIX)):
            _remove(p)
            done.append(p.name)
    for p in sorted(folder.iterdir()):
        if p.is_dir() and p.name.startswith(PREFIX) and not (p / STATE_FILE).exists():
            _remove(p)
            done.append(p.name)
    return done


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and (p / STATE_FILE).exists())


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder itself, or the newest one under a run or checkpoints folder."""
    p = Path(path)
    if (p / STATE_FILE).exists():
        return p
    for folder in (p, p / "checkpoints"):
        found = list_checkpoints(folder)
        if found:
            return found[-1]
    raise FileNotFoundError(f"no checkpoint found at {p} (looked for {PREFIX}* folders with {STATE_FILE})")


class CheckpointError(ValueError):
    """A checkpoint that cannot continue this run; the message says why in one line."""


def load_checkpoint(
    path: Path, policy: ActorCritic, algo: Any | None, np_rng: np.random.Generator | None
) -> dict[str, int]:
    """Restore weights (and the algorithm's state and RNG states when given); returns the counters.

    Checkpoints written before the algorithm seam hold PPO's optimisers under ``ppo``: they load into
    PPO and are refused, with the reason, by any other algorithm."""
    state = torch.load(path / STATE_FILE, weights_only=False)
    if algo is not None:
        saved = state.get("algorithm") or {"name": "ppo", "state": state.get("ppo")}
        if saved["name"] != algo.name or saved["state"] is None:
            raise CheckpointError(
                f"checkpoint {path} was written by algorithm {saved['name']!r}; "
                f"this run uses {algo.name!r} (set run.algorithm={saved['name']} to continue it)"
            )
    policy.load(path)
    if algo is not None:
        algo.load_state_dict(saved["state"])
    if np_rng is not None:
        set_rng_state(state["rng"], np_rng)
    return dict(state["counters"])
