"""Find (or make, through bridges/unity/setup_venv.sh) the Unity bridge's virtualenv."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
VENV = REPO / ".venv-unity"
PYTHON = VENV / "bin" / "python"


def ensure_unity_venv() -> Path:
    """The venv's python; setup_venv.sh is idempotent (a stamp file) and locked against parallel runs."""
    r = subprocess.run(["bash", str(REPO / "bridges" / "unity" / "setup_venv.sh"), str(VENV)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"setup_venv.sh failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert PYTHON.exists()
    return PYTHON
