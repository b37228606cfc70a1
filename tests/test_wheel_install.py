"""A regular install runs: build the wheel, install it into a clean virtualenv, train from a folder outside the checkout.

The virtualenv sees the system's packages (torch, transformers, ...: nothing to download) but installs
this project only from the wheel (``--no-deps``), so the configs and data must come with the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", "runs", "__pycache__", "*.egg-info", "build", "dist", ".venv*", ".*cache", ".hypothesis")


def sh(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    out = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_wheel_installs_and_trains_from_anywhere(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)  # build from a copy: the checkout stays clean
    dist = tmp_path / "dist"
    sh(sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", dist, "-q", cwd=tmp_path)
    (wheel,) = dist.glob("agent_runtime-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("agent_runtime/configs/")}
    assert shipped == {p.name for p in (ROOT / "configs").glob("*.yaml")}
    assert "bridges/virtualhome/data/scenes/twosome_home.json" in names and "tui/app.tcss" in names

    venv = tmp_path / "venv"
    sh(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    sh(venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = sh(venv / "bin" / "python", "-c", "import agent_runtime.config as c, bridges; print(c.CONFIG_DIR); print(bridges.__file__)",
               cwd=work, env=env).stdout.split()  # fmt: skip
    assert all(str(venv) in w for w in where), f"not imported from the wheel: {where}"

    # the command (simulator servers spawned from the installed package), a few decisions of the tiny model
    run = sh("agent-runtime", "run", "--bridge", "overcooked", "--task", "tomato-salad", "--model", "tiny", "--num-envs", "1",
             "--total-decisions", "4", "--set", "run.num_steps=4", "--set", "run.progress=false", cwd=work, env=env)  # fmt: skip
    (folder,) = (work / "runs").iterdir()
    assert folder.name.startswith("tomato-salad-") and str(folder.relative_to(work)) in run.stdout
    assert list((folder / "checkpoints").glob("step-*/trainer_state.pt"))
    assert json.loads((folder / "updates.jsonl").read_text().splitlines()[-1])["decisions"] == 4
    # a config by the docs' path, from a folder that has no configs/
    sh("agent-runtime", "run", "--config", "configs/toy.yaml", "--model", "tiny", "--in-process", "--num-envs", "2",
       "--total-decisions", "8", "--set", "run.num_steps=4", "--set", "run.progress=false", "--name", "toy-run",
       cwd=work, env=env)  # fmt: skip
    plot = sh("agent-runtime", "plot", "runs/toy-run", "--out", "curve.png", cwd=work, env=env)
    assert (work / "curve.png").stat().st_size > 0 and "curve.png" in plot.stdout
    # the benchmarks are not packaged: bench says, in one line, that they need a source checkout
    bench = subprocess.run(["agent-runtime", "bench", "scoring"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert bench.returncode == 2 and len(bench.stderr.strip().splitlines()) == 1, bench.stderr
    assert "need a source checkout" in bench.stderr and str(venv) in bench.stderr, bench.stderr
