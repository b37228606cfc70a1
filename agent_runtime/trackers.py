"""Experiment trackers as sinks: Weights & Biases, MLflow and trackio, offline, in the run folder.

``log.trackers: [wandb, mlflow, trackio]`` adds one sink per name (each is an extra:
``pip install 'agent-runtime[wandb]'``). Every tracker receives

* the same scalars as TensorBoard, under the same names and at the same steps (decisions):
  ``episode/return``, ``episode/length``, ``episode/success`` and ``train/<field>`` of every update;
* the run's config as parameters (flattened to ``section.key``);
* at the end of the run, ``learning_curve.png`` and the final checkpoint's path as artifacts (the path
  is recorded, the weights are not copied).

Where each writes, offline and without an account:

* W&B: offline mode (``WANDB_MODE=offline`` unless set otherwise) in ``<run>/wandb/``; upload later with
  ``wandb sync <run>/wandb/offline-run-*``. Each scalar is logged with its ``decisions`` as the step
  metric, one row per event (two episodes that end in the same round stay two points, as in TensorBoard).
* MLflow: a local file store ``<run>/mlruns`` (``mlflow ui --backend-store-uri <run>/mlruns``), or
  ``$MLFLOW_TRACKING_URI`` when set.
* trackio: ``<run>/trackio`` (``TRACKIO_DIR=<run>/trackio trackio show``), or ``$TRACKIO_DIR`` when set.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
from pathlib import Path
from typing import Any

from agent_runtime.config import Config, ConfigError
from agent_runtime.sinks import Sink, episode_scalars, update_scalars

log = logging.getLogger("agent_runtime")

TRACKERS = ("wandb", "mlflow", "trackio")
# tracker -> (module that must import, the extra that installs it)
_NEEDS = {"wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow"), "trackio": ("trackio", "trackio")}


def check_trackers(names: list[str]) -> None:
    """Raise a one-line ConfigError for a tracker that is unknown or not installed."""
    for name in names:
        if name not in _NEEDS:
            raise ConfigError(f"log.trackers: {name!r} is not allowed; allowed values: {', '.join(TRACKERS)}")
        module, extra = _NEEDS[name]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"log.trackers: {name} is not installed; install it with: pip install 'agent-runtime[{extra}]'"
            )


def flat_config(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'ppo': {'gamma': 0.99}}`` -> ``{'ppo.gamma': 0.99}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flat_config(v, key + "."))
        else:
            out[key] = v
    return out


class TrackerSink(Sink):
    """The scalars of episodes and updates at step ``decisions``; the plot and checkpoint at close."""

    name = ""

    def __init__(self, cfg: Config, run_dir: Path):
        self.cfg = cfg
        self.run_dir = run_dir

    def episode(self, record: dict[str, Any]) -> None:
        self.log_scalars(episode_scalars(record), int(record["decisions"]))

    def update(self, record: dict[str, Any]) -> None:
        self.log_scalars(update_scalars(record), int(record["decisions"]))

    def close(self) -> None:
        from agent_runtime.summary import latest_checkpoint, learning_curve

        try:
            png = learning_curve(self.run_dir)
        except Exception as e:  # noqa: BLE001 - a plot that fails must not lose the tracker's run
            log.warning("%s: no learning curve (%s)", self.name, e)
            png = None
        self.finish(png, latest_checkpoint(self.run_dir))

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def finish(self, png: Path | None, checkpoint: Path | None) -> None:
        raise NotImplementedError


class WandbSink(TrackerSink):
    """Weights & Biases in offline mode, files in ``<run>/wandb``."""

    name = "wandb"

    def __init__(self, cfg: Config, run_dir: Path):
        super().__init__(cfg, run_dir)
        import wandb

        self._wandb = wandb
        mode: Any = os.environ.get("WANDB_MODE") or "offline"
        self.run = wandb.init(
            project=cfg.log.project, name=cfg.run.name, dir=str(run_dir), config=cfg.to_dict(), mode=mode,
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False),
        )  # fmt: skip
        self.run.define_metric("decisions")
        for prefix in ("episode/*", "train/*"):
            self.run.define_metric(prefix, step_metric="decisions")
        log.info("wandb (%s): %s", mode, Path(self.run.dir).parent)

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        self.run.log({**scalars, "decisions": step})

    def finish(self, png: Path | None, checkpoint: Path | None) -> None:
        if png is not None:
            self.run.log_artifact(str(png), name="learning_curve", type="plot")
        if checkpoint is not None:
            self.run.summary["checkpoint"] = str(checkpoint)
            art = self._wandb.Artifact("checkpoint", type="model", metadata={"path": str(checkpoint)})
            art.add_reference(checkpoint.resolve().as_uri(), checksum=False)
            self.run.log_artifact(art)
        self.run.finish()


class MlflowSink(TrackerSink):
    """MLflow with a local file store in ``<run>/mlruns`` (or ``$MLFLOW_TRACKING_URI``)."""

    name = "mlflow"

    def __init__(self, cfg: Config, run_dir: Path):
        super().__init__(cfg, run_dir)
        self.uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "mlruns").resolve().as_uri()
        if self.uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store, opt-in
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        exp = self.client.get_experiment_by_name(cfg.log.project)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(cfg.log.project)
        self.run_id = self.client.create_run(exp_id, run_name=cfg.run.name).info.run_id
        params = [Param(k, str(v)[:6000]) for k, v in flat_config(cfg.to_dict()).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])
        log.info("mlflow: %s run %s", self.uri, self.run_id)

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in scalars.items()])

    def finish(self, png: Path | None, checkpoint: Path | None) -> None:
        if png is not None:
            self.client.log_artifact(self.run_id, str(png))
        if checkpoint is not None:
            self.client.set_tag(self.run_id, "checkpoint", str(checkpoint))
            self.client.log_text(self.run_id, str(checkpoint) + "\n", "checkpoint.txt")
        self.client.set_terminated(self.run_id)


class TrackioSink(TrackerSink):
    """trackio, local: its SQLite database in ``<run>/trackio`` (or ``$TRACKIO_DIR``)."""

    name = "trackio"

    def __init__(self, cfg: Config, run_dir: Path):
        super().__init__(cfg, run_dir)
        if "trackio" not in sys.modules:  # trackio reads TRACKIO_DIR once, when it is imported
            os.environ.setdefault("TRACKIO_DIR", str((run_dir / "trackio").resolve()))
        import trackio

        self._trackio = trackio
        from trackio.utils import TRACKIO_DIR

        self.dir = Path(TRACKIO_DIR)
        with contextlib.redirect_stdout(io.StringIO()):  # trackio prints its banner on stdout
            self.run = trackio.init(
                project=cfg.log.project, name=cfg.run.name, config=flat_config(cfg.to_dict()), embed=False,
                auto_log_cpu=False, auto_log_gpu=False, resume="allow",
            )  # fmt: skip
        log.info("trackio: %s project %s run %s", self.dir, cfg.log.project, cfg.run.name)

    def log_scalars(self, scalars: dict[str, float], step: int) -> None:
        self.run.log(scalars, step=step)

    def finish(self, png: Path | None, checkpoint: Path | None) -> None:
        trackio = self._trackio
        if png is not None:
            self.run.log_artifact(str(png), name="learning_curve", type="plot")
        if checkpoint is not None:
            art = trackio.Artifact("checkpoint", type="model", metadata={"path": str(checkpoint)})
            art.add_reference(checkpoint.resolve().as_uri(), checksum=False)
            self.run.log_artifact(art)
        with contextlib.redirect_stdout(io.StringIO()):
            trackio.finish()  # the run's own finish would leave it current: trackio's exit hook would finish it again


_SINKS: dict[str, type[TrackerSink]] = {"wandb": WandbSink, "mlflow": MlflowSink, "trackio": TrackioSink}


def tracker_sinks(cfg: Config, run_dir: Path) -> list[Sink]:
    """One sink per ``log.trackers`` name; a tracker that is not installed is a one-line ConfigError."""
    check_trackers(list(cfg.log.trackers))
    return [_SINKS[name](cfg, run_dir) for name in cfg.log.trackers]
