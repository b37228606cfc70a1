"""Side effects as sinks of events: console, JSON lines, TensorBoard, telemetry, demonstrations.

The loop emits four kinds of event and knows nothing of where they go:

* ``decision(event)``: one per environment per round (env, step, prompt, observation, skills, probs,
  value, action, action_text, overridden, reward, greedy);
* ``episode(record)``: one per finished episode (env, seed, return, length, primitive_steps, success,
  truncated, decisions = all environments' decisions so far);
* ``update(record)``: one per learning update (update, decisions, episodes, losses, ...);
* ``status(state, **fields)``: what the runtime is doing ("acting", "updating" with progress).

A process that should have no side effects (a rank other than 0, a test) passes ``Sink()``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("agent_runtime")


class Sink:
    """Receives events; every method is a no-op here."""

    def decision(self, event: dict[str, Any]) -> None:
        return None

    def episode(self, record: dict[str, Any]) -> None:
        return None

    def update(self, record: dict[str, Any]) -> None:
        return None

    def status(self, state: str, **fields: Any) -> None:
        return None

    def close(self) -> None:
        return None


class Sinks(Sink):
    """Fans every event out to several sinks, in order."""

    def __init__(self, sinks: list[Sink]):
        self.sinks = sinks

    def decision(self, event: dict[str, Any]) -> None:
        for s in self.sinks:
            s.decision(event)

    def episode(self, record: dict[str, Any]) -> None:
        for s in self.sinks:
            s.episode(record)

    def update(self, record: dict[str, Any]) -> None:
        for s in self.sinks:
            s.update(record)

    def status(self, state: str, **fields: Any) -> None:
        for s in self.sinks:
            s.status(state, **fields)

    def close(self) -> None:
        for s in self.sinks:
            s.close()


class EpisodeCallback(Sink):
    """Calls ``fn(record)`` for each finished episode (the baselines' ``log_fn``)."""

    def __init__(self, fn: Callable[[dict[str, Any]], None]):
        self.fn = fn

    def episode(self, record: dict[str, Any]) -> None:
        self.fn(record)


class JsonlSink(Sink):
    """``episodes.jsonl`` and ``updates.jsonl`` in the run folder, one JSON object per line.

    ``resume_at``: the decision count of the checkpoint a run resumes from. Records written after it
    (by a run killed later than its last checkpoint) are dropped, so the logs hold each decision once.
    """

    def __init__(self, run_dir: Path, resume_at: int | None = None):
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_at is not None:
            for name in ("episodes.jsonl", "updates.jsonl"):
                _truncate_jsonl(run_dir / name, resume_at)
        self._episodes = open(run_dir / "episodes.jsonl", "a")
        self._updates = open(run_dir / "updates.jsonl", "a")

    def episode(self, record: dict[str, Any]) -> None:
        self._episodes.write(json.dumps(record) + "\n")
        self._episodes.flush()

    def update(self, record: dict[str, Any]) -> None:
        self._updates.write(json.dumps(record) + "\n")
        self._updates.flush()

    def close(self) -> None:
        self._episodes.close()
        self._updates.close()


def episode_scalars(record: dict[str, Any]) -> dict[str, float]:
    """The scalars of a finished episode (TensorBoard and the trackers log these at step ``decisions``)."""
    out = {"episode/return": float(record["return"]), "episode/length": float(record["length"])}
    if record.get("success") is not None:
        out["episode/success"] = float(record["success"])
    return out


def update_scalars(record: dict[str, Any]) -> dict[str, float]:
    """The scalars of an update record: every numeric field but the counters, as ``train/<field>``."""
    return {
        f"train/{k}": float(v)
        for k, v in record.items()
        if isinstance(v, (int, float)) and k not in ("update", "decisions")
    }


class TensorBoardSink(Sink):
    """TensorBoard scalars in ``<run>/tb``: episode return, length, success; every numeric update field."""

    def __init__(self, run_dir: Path, resume_at: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        # purge_step hides the killed run's events after the checkpoint.
        self._tb = SummaryWriter(str(run_dir / "tb"), purge_step=None if resume_at is None else resume_at + 1)

    def episode(self, record: dict[str, Any]) -> None:
        for k, v in episode_scalars(record).items():
            self._tb.add_scalar(k, v, record["decisions"])

    def update(self, record: dict[str, Any]) -> None:
        for k, v in update_scalars(record).items():
            self._tb.add_scalar(k, v, record["decisions"])

    def close(self) -> None:
        self._tb.close()


class ConsoleSink(Sink):
    """One log line per ``every`` updates."""

    def __init__(self, every: int = 1):
        self.every = every

    def update(self, record: dict[str, Any]) -> None:
        if not self.every or record["update"] % self.every:
            return
        ret, sr = record.get("episode_return_mean"), record.get("success_rate")
        log.info(
            "update %d  decisions %d  episodes %d  return %s  success %s  pg %.4f  v %.4f  ent %.3f  kl %.4f",
            record["update"], record["decisions"], record["episodes"],
            "-" if ret is None else f"{ret:.3f}", "-" if sr is None else f"{sr:.2f}",
            record.get("pg_loss", 0.0), record.get("v_loss", 0.0), record.get("entropy", 0.0),
            record.get("approx_kl", 0.0),
        )  # fmt: skip


class TelemetrySink(Sink):
    """Publishes decisions, episodes, update statistics and status on the telemetry socket."""

    def __init__(self, telemetry: Any):
        self.tel = telemetry

    def decision(self, event: dict[str, Any]) -> None:
        self.tel.publish_decision(event)

    def episode(self, record: dict[str, Any]) -> None:
        self.tel.publish_episode(record)

    def update(self, record: dict[str, Any]) -> None:
        self.tel.publish_stats(record)

    def status(self, state: str, **fields: Any) -> None:
        publish = getattr(self.tel, "publish_status", None)
        if publish is not None:
            publish(state, **fields)


class DemonstrationSink(Sink):
    """Appends every overridden decision to the demonstrations file (JSON lines)."""

    def __init__(self, path: str | Path):
        from agent_runtime.telemetry import DemonstrationWriter

        self._writer = DemonstrationWriter(path)

    def decision(self, event: dict[str, Any]) -> None:
        if event.get("overridden"):
            import time

            self._writer.write({**event, "time": time.time()})

    def close(self) -> None:
        self._writer.close()


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


def run_sinks(cfg: Any, run_dir: Path, telemetry: Any, resume_at: int | None) -> Sinks:
    """The sinks a training run's config asks for (rank 0's; another rank would take ``Sink()``)."""
    sinks: list[Sink] = [ConsoleSink(cfg.log.console_every)]
    if cfg.log.jsonl:
        sinks.append(JsonlSink(run_dir, resume_at))
    if cfg.log.tensorboard:
        sinks.append(TensorBoardSink(run_dir, resume_at))
    if cfg.log.trackers:
        from agent_runtime.trackers import tracker_sinks

        sinks.extend(tracker_sinks(cfg, run_dir))
    sinks.append(TelemetrySink(telemetry))
    demos = cfg.telemetry.demos or (str(run_dir / "demonstrations.jsonl") if cfg.telemetry.control else None)
    if demos:
        sinks.append(DemonstrationSink(demos))
    return Sinks(sinks)
