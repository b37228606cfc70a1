"""Run logs: console (rich), TensorBoard scalars, JSONL of episodes and of updates."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)


def setup_logging(level: str = "INFO") -> None:
    """Route the runtime's and the bridges' loggers to the console."""
    root = logging.getLogger()
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        root.addHandler(RichHandler(console=console, show_path=False, rich_tracebacks=True))
    root.setLevel(level)
    for noisy in ("httpx", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class RunLogger:
    """Writes ``episodes.jsonl`` and ``updates.jsonl`` in the run folder, plus TensorBoard scalars."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, jsonl: bool = True, resume_at: int | None = None):
        """``resume_at``: the decision count of the checkpoint a run resumes from. Records logged after it
        (by the run that was killed later than its last checkpoint) are dropped, so that the logs hold
        each decision once."""
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_at is not None:
            for name in ("episodes.jsonl", "updates.jsonl"):
                _truncate_jsonl(run_dir / name, resume_at)
        self._episodes = open(run_dir / "episodes.jsonl", "a") if jsonl else None
        self._updates = open(run_dir / "updates.jsonl", "a") if jsonl else None
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides the killed run's TensorBoard events after the checkpoint.
            self._tb = SummaryWriter(str(run_dir / "tb"), purge_step=None if resume_at is None else resume_at + 1)

    def episode(self, record: dict[str, Any], step: int) -> None:
        if self._episodes:
            self._episodes.write(json.dumps(record) + "\n")
            self._episodes.flush()
        if self._tb:
            self._tb.add_scalar("episode/return", record["return"], step)
            self._tb.add_scalar("episode/length", record["length"], step)
            if record.get("success") is not None:
                self._tb.add_scalar("episode/success", float(record["success"]), step)

    def update(self, record: dict[str, Any], step: int) -> None:
        if self._updates:
            self._updates.write(json.dumps(record) + "\n")
            self._updates.flush()
        if self._tb:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("update", "decisions"):
                    self._tb.add_scalar(f"train/{k}", v, step)

    def close(self) -> None:
        for f in (self._episodes, self._updates):
            if f:
                f.close()
        if self._tb:
            self._tb.close()


def _truncate_jsonl(path: Path, max_decisions: int) -> None:
    """Keep the records of ``path`` whose ``decisions`` count is at most ``max_decisions``."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    keep = [line for line in lines if line.strip() and json.loads(line).get("decisions", 0) <= max_decisions]
    if len(keep) != len(lines):
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        tmp.replace(path)
