"""The Unity bridge inside its own virtualenv, against the real mlagents_envs code.

The checks live in tests/unity_support/venv_checks.py and run under the venv's
python (mlagents-envs 1.1.0 cannot be installed next to the runtime); this file makes
the venv if it is missing (bridges/unity/setup_venv.sh), runs them once, and turns
each into its own test here.
"""

from __future__ import annotations

import ast
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from unity_support.venv import REPO, ensure_unity_venv

CHECKS = REPO / "tests" / "unity_support" / "venv_checks.py"


def _check_names() -> list[str]:
    tree = ast.parse(CHECKS.read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


@pytest.fixture(scope="module")
def venv_results(tmp_path_factory) -> dict[str, list[str]]:
    """Run every venv check once; map each check name to its failure texts ([] = passed)."""
    python = ensure_unity_venv()
    xml = tmp_path_factory.mktemp("unity") / "junit.xml"
    r = subprocess.run(
        [str(python), "-m", "pytest", str(CHECKS), "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
         f"--junitxml={xml}", "-o", "junit_family=xunit1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert xml.exists(), f"the venv checks did not run (rc {r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    results: dict[str, list[str]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("name", "").split("[", 1)[0]
        problems = [f"{c.tag}: {c.get('message', '')}\n{c.text or ''}" for c in case
                    if c.tag in ("failure", "error", "skipped")]
        results.setdefault(name, []).extend(problems)
    return results


def test_every_check_ran(venv_results):
    assert sorted(venv_results) == sorted(_check_names())


@pytest.mark.parametrize("check", _check_names())
def test_in_venv(venv_results, check):
    assert check in venv_results, f"{check} did not run in the venv"
    assert not venv_results[check], "\n".join(venv_results[check])


def test_venv_has_the_pinned_stack_and_no_torch():
    python = ensure_unity_venv()
    r = subprocess.run(
        [str(python), "-c",
         "import mlagents_envs, google.protobuf, numpy, grpc, bridges.unity.env, importlib.util;"
         "print(mlagents_envs.__version__, google.protobuf.__version__, numpy.__version__,"
         " importlib.util.find_spec('torch') is None)"],
        capture_output=True, text=True, cwd="/",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1.1.0", "3.20.3", "1.23.5", "True"]


def test_setup_script_is_idempotent():
    ensure_unity_venv()
    r = subprocess.run(["bash", str(REPO / "bridges" / "unity" / "setup_venv.sh")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip().endswith("unity venv ready: " + str(REPO / ".venv-unity"))
    assert "pip" not in r.stderr
