"""Any text simulator: the plugin API (entry points, module:factory), the gymnasium adapter,
and the example of docs/simulators.md run exactly as printed."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from _procs import stop_process

from agent_runtime.config import ConfigError, load_config
from bridges.gym_adapter import GymSkillEnv
from bridges.gym_adapter import make_env as make_gym_skill_env
from bridges.gym_env import make_gym_env
from bridges.launch import make_vec_env
from bridges.registry import ENTRY_POINT_GROUP, OptionError, from_function, get_simulator

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
DOC = REPO / "docs" / "simulators.md"
TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false"]


def doc_examples() -> dict[str, str]:
    """The code blocks of docs/simulators.md marked ``<!-- example: NAME -->``, by name."""
    text = DOC.read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- example: (\S+) -->\n```\w*\n(.*?)```", text, re.DOTALL)}


def _env_with_path(*paths: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


# --------------------------------------------------------------------------- registry and options
def test_builtin_names_and_declared_options_refuse_an_unknown_option_in_one_line() -> None:
    assert get_simulator("toy").options is not None
    with pytest.raises(ConfigError) as e:
        load_config("toy", ["env.options.num_candidatez=3"])
    msg = str(e.value)
    assert "\n" not in msg and "'num_candidatez'" in msg and "allowed options: noun, num_candidates, steps, verb" in msg
    with pytest.raises(ConfigError, match=r"option 'steps' of simulator 'toy': expected int, got 'two'"):
        load_config("toy", ["env.options.steps=two"])
    with pytest.raises(ConfigError, match="env.bridge: 'nope' is not allowed"):
        load_config("toy", ["env.bridge=nope"])
    with pytest.raises(ConfigError, match="could not be imported: ModuleNotFoundError"):
        load_config("toy", ["env.bridge=no_such_module_xyz:make"])


def test_module_factory_options_come_from_its_signature(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    sim = get_simulator("gym_text_env:make")  # make(**kwargs): not declared, anything goes
    assert sim.options is None
    sim = get_simulator("bridges.gym_adapter:make_env")
    assert sim.options is not None and sim.options["max_steps"].type is int and sim.options["render"].default is False
    with pytest.raises(OptionError, match="unknown option 'idd'.*allowed options: actions, actions_fn"):
        sim.check_options({"idd": "x"})
    def make(task: str = "t", seed: int | None = None, size: int | None = 3, words: list[str] | None = None,
             rate=0.5, env: GymSkillEnv | None = None) -> GymSkillEnv:
        raise NotImplementedError

    sim = from_function(make, "make")
    assert sim.task == "t" and sim.options is not None and set(sim.options) == {"size", "words", "rate", "env"}
    assert [sim.options[k].type for k in ("size", "words", "rate")] == [int, list, float] and sim.options["env"].accepts(1)
    sim.check_options({"size": None, "words": ["a"], "rate": 1})
    with pytest.raises(OptionError, match="option 'words' of simulator 'make': expected list, got 'a'"):
        sim.check_options({"words": "a"})
    cfg = load_config(None, ["env.bridge=gym", "env.options={id: gym_text_env:make}"])
    assert cfg.env.bridge == "gym"


def _make_plugin_package(root: Path) -> Path:
    pkg = root / "keydoor_plugin"
    (pkg / "keydoor_plugin").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "keydoor-plugin"
        version = "0.1.0"

        [project.entry-points."{ENTRY_POINT_GROUP}"]
        keydoor = "keydoor_plugin:SIMULATOR"
        """))
    (pkg / "keydoor_plugin" / "__init__.py").write_text(textwrap.dedent("""\
        from bridges.registry import Option, Simulator


        def make_env(task="find-key", seed=None, places=3):
            from bridges.gym_adapter import GymSkillEnv
            from keydoor_plugin.game import KeyDoorEnv

            return GymSkillEnv(KeyDoorEnv(places=places), task=task, seed=seed, max_steps=8)


        SIMULATOR = Simulator(make_env, {"places": Option(int, 3, "hiding places")}, task="find-key")
        """))
    shutil.copy(TESTS / "gym_text_env.py", pkg / "keydoor_plugin" / "game.py")
    return pkg


def test_entry_point_plugin_installed_in_a_venv_is_found_validated_and_trained_on(tmp_path) -> None:
    """pip install --no-deps a tiny package declaring an entry point; train the tiny model on it by name."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    pkg = _make_plugin_package(tmp_path)
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(pkg)],
                   check=True, env=_env_with_path(), capture_output=True)
    env = _env_with_path()
    found = subprocess.run([py, "-c", "from bridges.registry import known_names; print(known_names())"],
                           env=env, capture_output=True, text=True, check=True)
    assert "'keydoor'" in found.stdout
    (tmp_path / "kd.yaml").write_text("env:\n  bridge: keydoor\n  task: find-key\n  options: {places: 2}\n")
    base = [py, "-m", "agent_runtime.cli", "run", "--config", str(tmp_path / "kd.yaml"), "--set", f"run.output_dir={tmp_path / 'runs'}", "--name", "kd"]
    bad = subprocess.run([*base, "--set", "env.options.placez=2"], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "unknown option 'placez' for simulator 'keydoor'; allowed options: places" in bad.stderr
    assert "Loading" not in bad.stderr  # refused before any model was loaded
    sets = [x for s in [*TINY, "run.total_decisions=8", "run.num_steps=4", "env.num_envs=2"] for x in ("--set", s)]
    r = subprocess.run([*base, *sets], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "runs" / "kd"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["env"]["bridge"] == "keydoor" and saved["env"]["options"] == {"places": 2}
    updates = [json.loads(x) for x in (run / "updates.jsonl").read_text().splitlines()]
    assert updates[-1]["decisions"] == 8


# --------------------------------------------------------------------------- gymnasium adapter
def test_gym_text_env_served_over_a_real_server_passes_gymnasiums_checker(monkeypatch) -> None:
    from gymnasium.utils.env_checker import check_env

    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    env = make_gym_env("gym", options={"id": "gym_text_env:make"}, seed=1, max_skills=6, invalid_action="noop")
    try:
        assert env.venv.bridge == "gym" and env.venv.processes[0].poll() is None  # a real server process
        check_env(env, skip_render_check=True)
        text, info = env.reset(seed=3)
        assert info["skills"] == ["look in desk", "look in box", "look in bed", "open door"]
        assert info["goal"] == "open the door"
        for i in range(3):  # look everywhere until the key shows up
            text, r, term, _, info = env.step(i)
            if text == "You see a key.":
                break
        assert info["skills"][3] == "take key" and info["checks"] == i + 1
        text, r, term, _, info = env.step(3)
        assert text == "You take the key." and "take key" not in info["skills"]
        text, r, term, _, info = env.step(info["skills"].index("open door"))
        assert (text, r, term, info["success"]) == ("The door opens. You won!", 1.0, True, True)
    finally:
        env.close()


def test_serve_gym_cli_serves_a_registered_id(tmp_path) -> None:
    """``agent-runtime serve --gym module:EnvId`` (gymnasium imports the module, then makes the id)."""
    addr = f"ipc://{tmp_path}/gym.sock"
    proc = subprocess.Popen([sys.executable, "-m", "agent_runtime.cli", "serve", "--gym", "gym_text_env:KeyDoor-v0",
                             "--bind", addr, "--option", "kwargs={\"places\": 2}"],
                            stdout=subprocess.PIPE, env=_env_with_path(TESTS), text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("BRIDGE-READY")
        venv = make_vec_env("gym", connect=[addr], num_envs=1, seed=0, startup_timeout=30)
        try:
            assert venv.bridge == "gym" and venv.task == "gym_text_env:KeyDoor-v0"
            (obs,) = venv.reset()
            assert obs.skills == ["look in desk", "look in box", "open door"]
            (obs,) = venv.step([2])
            assert obs.text == "The door is locked." and obs.k == 1 and not obs.done
        finally:
            venv.close()
    finally:
        stop_process(proc)


def test_a_macro_skill_runs_several_primitive_steps_and_reports_k(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    env = make_gym_skill_env(id="gym_text_env:make", seed=0, actions={
        "search the room": ["look in desk", "look in box", "look in bed"], "take key": "take key", "open door": "open door"})
    assert isinstance(env, GymSkillEnv)
    obs = env.reset()
    assert obs.skills == ["search the room", "take key", "open door"] and obs.k == 0
    obs = env.step(0)
    assert obs.k == 3 and obs.info["checks"] == 3 and obs.reward == 0.0
    obs = env.step(1)
    obs = env.step(2)
    assert obs.done and obs.reward == 1.0 and obs.info["success"] is True


# --------------------------------------------------------------------------- docs/simulators.md
def test_the_docs_example_runs_as_printed(tmp_path) -> None:
    ex = doc_examples()
    assert {"guess.py", "guess.yaml", "run"} <= set(ex)
    (tmp_path / "guess.py").write_text(ex["guess.py"])
    (tmp_path / "guess.yaml").write_text(ex["guess.yaml"])
    first = ex["run"].strip().splitlines()[0]  # the tiny-model run; the second line is the real (long) one
    argv = shlex.split(first)
    assert argv[0] == "agent-runtime"
    exe = shutil.which("agent-runtime")
    cmd = [exe, *argv[1:]] if exe else [sys.executable, "-m", "agent_runtime.cli", *argv[1:]]
    r = subprocess.run(cmd, cwd=tmp_path, env=_env_with_path(), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "runs" / "guess"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["env"]["bridge"] == "guess:make_env" and saved["env"]["options"] == {"high": 6}
    episodes = [json.loads(x) for x in (run / "episodes.jsonl").read_text().splitlines()]
    assert episodes and all(1 <= e["length"] <= 4 for e in episodes)  # max_guesses=4 ends every episode
    # the one-line refusal the doc shows
    bad = subprocess.run([*cmd, "--set", "env.options.hgh=3"], cwd=tmp_path, env=_env_with_path(), capture_output=True,
                         text=True, timeout=120, check=False)
    line = ("agent-runtime: config error: env.options: unknown option 'hgh' for simulator 'guess:make_env'; "
            "allowed options: high, max_guesses")
    assert bad.returncode == 2 and line in bad.stderr and line in DOC.read_text()
