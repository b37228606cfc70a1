"""Experiment trackers (agent_runtime/trackers.py): after one short real run with all three, offline, each
tracker's own reader returns the scalars TensorBoard got (names, steps, values), the config and the artifacts."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "run.num_steps=4", "env.num_envs=4"]
Series = dict[str, list[tuple[int, float]]]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One short toy run (32 decisions, 2 updates, 2 checkpoints) logging to W&B, MLflow and trackio."""
    out = tmp_path_factory.mktemp("trackers")
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_MODE", "MLFLOW_TRACKING_URI", "TRACKIO_DIR")}
    env.update(OMP_NUM_THREADS="1", WANDB_CONFIG_DIR=str(out / "wb-config"), WANDB_DATA_DIR=str(out / "wb-data"),
               WANDB_CACHE_DIR=str(out / "wb-cache"))  # fmt: skip
    sets = [*TINY, "run.total_decisions=32", "checkpoint.every=1", "log.trackers=[wandb, mlflow, trackio]"]
    args = [sys.executable, "-m", "agent_runtime.cli", "run", "--config", "toy", "--name", "t"]
    args += [x for s in [*sets, f"run.output_dir={out}"] for x in ("--set", s)]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return out / "t"


def tensorboard_scalars(run: Path) -> Series:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def assert_same_scalars(got: Series, tb: Series) -> None:
    """Same tags; per tag the same (step, value) points in order (TensorBoard keeps float32)."""
    assert sorted(got) == sorted(tb)
    assert {"episode/return", "episode/length", "episode/success", "train/pg_loss"} <= set(tb)
    for tag, points in tb.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in points], rel=1e-6, abs=1e-7), tag
    assert len(tb["episode/return"]) == 32  # two environments ending in the same round stay two points


def latest_checkpoint(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step-*"))[-1]


# --------------------------------------------------------------------------- W&B: the offline .wandb file
def wandb_records(path: Path):
    """The records of a W&B transaction log (LevelDB log format: 32 KiB blocks, 7-byte chunk headers)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # full, last
            rec = pb.Record()
            rec.ParseFromString(pending)
            yield rec


def test_wandb_offline_run_holds_tensorboards_scalars_the_config_and_the_artifacts(run_dir: Path) -> None:
    files = list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    got: Series = defaultdict(list)
    config, artifacts = {}, {}
    for rec in wandb_records(files[0]):
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            row = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item}
            for k, v in row.items():
                if not k.startswith("_") and k != "decisions":
                    got[k].append((row["decisions"], v))
        elif kind == "run":
            config = {i.key: json.loads(i.value_json) for i in rec.run.config.update}
        elif kind == "artifact":
            artifacts[rec.artifact.name] = [(e.path, e.ref) for e in rec.artifact.manifest.contents]
    assert_same_scalars(dict(got), tensorboard_scalars(run_dir))
    assert config["ppo"]["lr_actor"] == 0.01 and config["model"]["name"] == "tiny"
    assert [p for p, _ in artifacts["learning_curve"]] == ["learning_curve.png"]
    refs = [ref for _, ref in artifacts["checkpoint"]]
    assert refs and all(r.startswith(latest_checkpoint(run_dir).resolve().as_uri()) for r in refs)


# --------------------------------------------------------------------------- MLflow: its client on the file store
def test_mlflow_file_store_holds_tensorboards_scalars_the_config_and_the_artifacts(run_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(run_dir / "mlruns").as_uri())
    exp = client.get_experiment_by_name("agent-runtime")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "t" and run.info.status == "FINISHED"
    tb = tensorboard_scalars(run_dir)
    got = {k: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, k)] for k in run.data.metrics}
    assert_same_scalars(got, tb)
    assert run.data.params["ppo.lr_actor"] == "0.01" and run.data.params["env.bridge"] == "toy"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"learning_curve.png", "checkpoint.txt"}
    assert run.data.tags["checkpoint"] == str(latest_checkpoint(run_dir))


# --------------------------------------------------------------------------- trackio: its SQLite database
def test_trackio_database_holds_tensorboards_scalars_the_config_and_the_artifacts(run_dir: Path) -> None:
    db = sqlite3.connect(run_dir / "trackio" / "agent-runtime.db")
    got: Series = defaultdict(list)
    for step, metrics in db.execute("SELECT step, metrics FROM metrics WHERE run_name = 't' ORDER BY id"):
        for k, v in json.loads(metrics).items():
            got[k].append((step, v))
    assert_same_scalars(dict(got), tensorboard_scalars(run_dir))
    (config,) = [json.loads(c) for (c,) in db.execute("SELECT config FROM configs WHERE run_name = 't'")]
    assert config["ppo.lr_actor"] == 0.01 and config["lora.target_modules"] == ["q_proj", "v_proj"]
    rows = db.execute(
        "SELECT a.name, a.type, v.manifest FROM artifacts a JOIN artifact_versions v ON v.artifact_id = a.id"
    ).fetchall()
    assert sorted((n, t) for n, t, _ in rows) == [("checkpoint", "model"), ("learning_curve", "plot")]
    ckpt_manifest = next(m for n, _, m in rows if n == "checkpoint")
    assert latest_checkpoint(run_dir).resolve().as_uri() in ckpt_manifest


# --------------------------------------------------------------------------- config and missing packages
def test_a_tracker_not_installed_is_one_line_naming_its_extra(tmp_path, monkeypatch, capsys) -> None:
    from agent_runtime.cli import main

    monkeypatch.setitem(sys.modules, "mlflow", None)  # find_spec now says: not installed
    rc = main(["run", "--config", "toy", "--set", "log.trackers=[mlflow]", "--set", f"run.output_dir={tmp_path}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == (
        "agent-runtime: log.trackers: mlflow is not installed; install it with: pip install 'agent-runtime[mlflow]'"
    )
    assert list(tmp_path.iterdir()) == []  # refused before the run folder was kept


def test_an_unknown_tracker_names_the_allowed_ones() -> None:
    from agent_runtime.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="log.trackers\\[1\\]: 'neptune' is not allowed; allowed values: 'wandb', "):
        load_config("toy", ["log.trackers=[wandb, neptune]"])
