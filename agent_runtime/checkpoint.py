"""Checkpoints: adapters (PEFT format), value head, the algorithm's state, counters, RNG states.

Each checkpoint is a folder ``step-<decisions>`` written to a temporary folder and
renamed into place, so a crash never leaves a half-written checkpoint; only the
last ``keep`` are kept.
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
) -> Path:
    """Write ``folder/step-<decisions>`` atomically; prune to the newest ``keep``.

    ``extra(tmp_folder)`` may write more files (e.g. the guidance adapter) before the rename.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{PREFIX}{counters['decisions']:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        policy.save(tmp)
        algorithm = {"name": algo.name, "state": algo.state_dict()}
        torch.save({"counters": counters, "algorithm": algorithm, "rng": rng_state(np_rng)}, tmp / STATE_FILE)
        if config_yaml:
            (tmp / "config.yaml").write_text(config_yaml)
        if extra is not None:
            extra(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


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


def load_checkpoint(path: Path, policy: ActorCritic, algo: Any | None, np_rng: np.random.Generator | None) -> dict[str, int]:
    """Restore weights (and the algorithm's state and RNG states when given); returns the counters.

    Checkpoints written before the algorithm seam hold PPO's optimisers under ``ppo``: they load into
    PPO and are refused, with the reason, by any other algorithm."""
    state = torch.load(path / STATE_FILE, weights_only=False)
    if algo is not None:
        saved = state.get("algorithm") or {"name": "ppo", "state": state.get("ppo")}
        if saved["name"] != algo.name or saved["state"] is None:
            raise CheckpointError(f"checkpoint {path} was written by algorithm {saved['name']!r}; "
                                  f"this run uses {algo.name!r} (set run.algorithm={saved['name']} to continue it)")
    policy.load(path)
    if algo is not None:
        algo.load_state_dict(saved["state"])
    if np_rng is not None:
        set_rng_state(state["rng"], np_rng)
    return dict(state["counters"])
