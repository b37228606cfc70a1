"""A server running from a second virtualenv that has no torch (the light install)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bridges.launch import make_vec_env

REPO = Path(__file__).resolve().parent.parent


def light_venv() -> Path:
    """A plain venv with ``pip install --no-deps -e REPO`` + pyzmq + msgpack, cached under .cache/."""
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()[:12]
    target = REPO / ".cache" / f"bridge-venv-{key}"
    python = target / "bin" / "python"
    if python.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bridge-venv-tmp-", dir=target.parent))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(tmp)], check=True, capture_output=True, timeout=120)
        pip = [str(tmp / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        for args in (["--no-deps", "-e", str(REPO)], ["pyzmq", "msgpack"]):
            r = subprocess.run(pip + args, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"pip install {args} failed:\n{r.stderr[-2000:]}"
        try:
            os.rename(tmp, target)  # atomic: a concurrent run either sees a whole venv or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another run won the race
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # venv scripts hard-code their directory; python -m pip and python itself do not care
    return python


def test_toy_server_from_a_venv_without_torch() -> None:
    python = light_venv()
    r = subprocess.run([str(python), "-c", "import torch"], capture_output=True, text=True)
    assert r.returncode != 0 and "No module named 'torch'" in r.stderr
    r = subprocess.run([str(python), "-c", "import bridges.server, zmq, msgpack; print(bridges.server.__file__)"],
                       capture_output=True, text=True, cwd="/")
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(REPO)

    venv = make_vec_env("toy", options={"steps": 2}, num_envs=2, seed=0, python=str(python))
    try:
        for p in venv.processes:
            cmd0 = Path(f"/proc/{p.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            assert cmd0 == str(python)
        obs = venv.reset()
        ended = 0
        for _ in range(6):
            out = venv.step([o.skills.index(o.skills[0]) for o in obs])
            ended += sum(o.ended for o in out)
            obs = [o.reset_obs if o.ended else o for o in out]
        assert ended == 6
    finally:
        venv.close()
