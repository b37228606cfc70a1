"""Every command-line mistake: one line on stderr, exit code 2, no traceback (real ``agent-runtime`` processes).

Also: a run folder belongs to one run (unique names, resume restores the saved config, refused flags
change nothing) and ``plot`` of too few episodes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _procs import stop_process

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "agent_runtime.cli", *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=env)


def one_line_exit_2(out: subprocess.CompletedProcess, *words: str) -> str:
    err = out.stderr.strip()
    assert out.returncode == 2, f"exit {out.returncode}\nstdout: {out.stdout[-2000:]}\nstderr: {out.stderr[-3000:]}"
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    assert len(err.splitlines()) == 1, f"not one line on stderr:\n{out.stderr}"
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mistakes")
    (d / "bad.yaml").write_text("run:\n  name: x\n  seed: [1, 2\nppo:\n  gamma: 0.9\n")
    (d / "empty").mkdir()
    (d / "notadir").write_text("a file, not a folder\n")
    run = d / "runs" / "one-episode"
    run.mkdir(parents=True)
    (run / "episodes.jsonl").write_text(json.dumps({"return": 1.0, "length": 3, "success": True, "decisions": 3}) + "\n")
    return d


TINY = ("--model", "tiny", "--in-process", "--set", "run.progress=false")

# (id, arguments (with {w} for the work folder), words the line must hold)
CASES = [
    ("yaml-syntax", ["run", "--config", "{w}/bad.yaml"], ["bad.yaml", "YAML syntax error", "line 4"]),
    ("set-not-yaml", ["run", "--config", "toy", "--set", "ppo.gamma=[0.9"], ["ppo.gamma", "not valid YAML"]),
    ("model-path-missing", ["run", "--config", "toy", "--model", "{w}/no-such-model", "--in-process"], ["model.name", "no-such-model"]),
    ("model-hub-id-offline", ["run", "--config", "toy", "--model", "nobody-here/no-such-model", "--in-process"],
     ["nobody-here/no-such-model", "Hugging Face cache"]),
    ("lora-target-modules", ["run", "--config", "toy", *TINY, "--set", "lora.target_modules=[nope_proj]",
                             "--set", "run.output_dir={w}/runs"], ["lora.target_modules", "nope_proj", "q_proj"]),
    ("unknown-task", ["run", "--bridge", "overcooked", "--task", "tomato-slad", "--model", "tiny"],
     ["tomato-slad", "tomato-salad", "overcooked"]),
    ("unknown-babyai-task", ["run", "--bridge", "babyai", "--task", "GoToNowhere", "--model", "tiny"],
     ["GoToNowhere", "GoToLocal"]),
    ("bad-sim-option", ["run", "--config", "toy", "--model", "tiny", "--set", "env.options.bogus=1"], ["toy", "bogus"]),
    ("bad-sim-option-babyai", ["run", "--bridge", "babyai", "--model", "tiny", "--set", "env.options.colour=red"],
     ["babyai", "colour", "known"]),
    ("connect-to-nothing", ["run", "--config", "toy", "--model", "tiny", "--connect", "tcp://127.0.0.1:{port}",
                            "--set", "env.startup_timeout=2", "--set", "run.output_dir={w}/runs"], ["no handshake", "{port}"]),
    ("resume-missing", ["run", "--config", "toy", "--model", "tiny", "--resume", "{w}/no-such-run"], ["--resume", "no such folder"]),
    ("resume-empty", ["run", "--config", "toy", "--model", "tiny", "--resume", "{w}/empty"], ["--resume", "no complete checkpoint"]),
    ("resume-auto-unnamed", ["run", "--config", "toy", "--model", "tiny", "--resume", "auto"], ["--resume auto needs --name"]),
    ("run-folder-not-writable", ["run", "--config", "toy", *TINY, "--set", "run.output_dir={w}/notadir/runs"],
     ["cannot be written", "notadir"]),
    ("eval-checkpoint-missing", ["eval", "--config", "toy", "--model", "tiny", "--in-process", "--policy", "random",
                                 "--policy", "checkpoint", "--checkpoint", "{w}/no-such-run"], ["--checkpoint", "no checkpoint"]),
    ("eval-lora-target-modules", ["eval", "--config", "toy", "--model", "tiny", "--in-process", "--policy", "zero-shot",
                                  "--episodes", "1", "--set", "lora.target_modules=[nope_proj]"], ["eval zero-shot", "nope_proj"]),
    ("eval-checkpoint-not-given", ["eval", "--config", "toy", "--policy", "checkpoint"], ["--checkpoint PATH"]),
    ("plot-not-a-run", ["plot", "{w}/empty", "--out", "{w}/x.png"], ["not a run folder"]),
    ("plot-missing", ["plot", "{w}/nothing", "--out", "{w}/x.png"], ["not a folder"]),
    ("plot-one-episode", ["plot", "{w}/runs/one-episode", "--out", "{w}/x.png"], ["1 finished episode", "at least 2"]),
    # the README's own examples (README.md "Using it"), from a folder without those runs
    ("readme-plot", ["plot", "runs/NAME", "--out", "curve.png"], ["runs/NAME", "not a folder"]),
    ("readme-eval", ["eval", "--bridge", "babyai", "--policy", "random", "--policy", "zero-shot", "--policy", "checkpoint",
                     "--checkpoint", "runs/NAME"], ["runs/NAME", "no checkpoint"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_mistake_gives_one_line_and_exit_2(case, work):
    _, args, words = case
    port = str(free_port())
    fill = lambda s: s.replace("{w}", str(work)).replace("{port}", port)  # noqa: E731
    cwd = work if case[0].startswith("readme") else None
    out = cli(*[fill(a) for a in args], cwd=cwd)
    one_line_exit_2(out, *[fill(w) for w in words])
    assert not (work / "x.png").exists()


def test_wrong_environment_count_on_connect(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "bridges.server", "--bridge", "toy", "--bind", f"tcp://127.0.0.1:{port}", "--num-envs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().startswith(b"BRIDGE-READY")
        out = cli("run", "--config", "toy", "--model", "tiny", "--connect", f"tcp://127.0.0.1:{port}", "--num-envs", "3",
                  "--set", f"run.output_dir={tmp_path}/runs")  # fmt: skip
        one_line_exit_2(out, "host 2 environments", "num_envs=3")
        assert not list((tmp_path / "runs").iterdir()), "a failed start leaves no run folder behind"
    finally:
        stop_process(server)


def test_task_names_in_the_forms_the_docs_use():
    from agent_runtime.runfolder import config_for_task

    assert config_for_task("babyai", "MixedTrainLocal", "gotolocal") == "babyai-mixed"
    assert config_for_task("babyai", "BabyAI-GoToLocal-v0", "gotolocal") == "babyai-gotolocal"
    assert config_for_task("babyai", "GoToLocal", "gotolocal") == "babyai-gotolocal"
    assert config_for_task("babyai", "pickuploc", "gotolocal") == "babyai-pickuploc"
    assert config_for_task("babyai", "MixedTestLocal", "gotolocal") == "babyai-gotolocal"  # no file: the bridge's own
    assert config_for_task("overcooked", "tomato-slad", "tomato-salad") == "overcooked-tomato-salad"  # never default.yaml
    assert config_for_task("overcooked", "Tomato-Lettuce-Salad", "tomato-salad") == "overcooked-tomato-lettuce-salad"


def _run_toy(*extra: str, output: Path) -> subprocess.CompletedProcess:
    return cli("run", "--config", "toy", *TINY, "--num-envs", "2", "--set", "run.num_steps=4",
               "--set", "env.options={num_candidates: 4, steps: 1}", "--set", f"run.output_dir={output}", *extra)  # fmt: skip


def test_two_unnamed_runs_get_two_folders_and_say_where(tmp_path):
    outs = [_run_toy("--total-decisions", "8", output=tmp_path) for _ in range(2)]
    for out in outs:
        assert out.returncode == 0, out.stderr[-3000:]
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2, folders
    for out, folder in zip(outs, folders):
        assert folder.name.startswith("toy-2") and str(folder) in out.stdout.replace("\n", "")
        eps = [json.loads(x) for x in (folder / "episodes.jsonl").read_text().splitlines()]
        assert len(eps) == 8 and max(e["decisions"] for e in eps) == 8  # each folder holds its own run only


@pytest.mark.slow  # about 100 s on 2 busy cores: three short runs and four refused ones
def test_resume_restores_the_saved_config_and_refuses_other_flags(tmp_path):
    first = _run_toy("--name", "r1", "--total-decisions", "8", "--set", "ppo.gamma=0.9", output=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "r1"
    saved = (run / "config.yaml").read_text()
    episodes = (run / "episodes.jsonl").read_text()

    # another bridge, another value of a setting, another name for a resumed checkpoint: refused, nothing touched
    for flags, key in (
        (["--bridge", "overcooked"], "env.bridge"),
        (["--set", "ppo.gamma=0.5"], "ppo.gamma"),
        (["--config", "overcooked-tomato-salad"], "env.bridge"),
    ):
        out = cli("run", "--name", "r1", "--resume", "auto", "--model", "tiny", "--set", f"run.output_dir={tmp_path}", *flags)
        one_line_exit_2(out, key, "saved config")
        assert (run / "config.yaml").read_text() == saved
        assert (run / "episodes.jsonl").read_text() == episodes
    out = cli("run", "--resume", str(run / "checkpoints"), "--name", "elsewhere", "--model", "tiny")
    one_line_exit_2(out, "run.name", "'r1'")
    # a fresh run into the same folder is refused too
    out = _run_toy("--name", "r1", "--total-decisions", "8", output=tmp_path)
    one_line_exit_2(out, "already holds a run", "--resume auto")

    # the bare resume (only the name and a larger budget) continues with the saved settings
    out = cli("run", "--name", "r1", "--resume", "auto", "--total-decisions", "16", "--set", f"run.output_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    before = yaml.safe_load(saved)
    assert cfg["run"]["total_decisions"] == 16
    cfg["run"]["total_decisions"] = before["run"]["total_decisions"]
    cfg["checkpoint"]["resume"] = before["checkpoint"]["resume"]
    assert cfg == before  # the toy config, tiny model, gamma 0.9: not the defaults of `run`
    eps = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines()]
    assert [e["decisions"] for e in eps] == sorted(e["decisions"] for e in eps) and max(e["decisions"] for e in eps) == 16
    assert len(eps) == 16  # one decision an episode: each decision once, no record mixed in or repeated
