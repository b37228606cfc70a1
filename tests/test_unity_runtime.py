"""The runtime's training loop on the Unity bridge: PPO over a Unity-side peer (real
ML-Agents gRPC) through a bridge server spawned with the Unity venv's python."""

from __future__ import annotations

import socket
import subprocess

import pytest

from unity_support.venv import REPO, ensure_unity_venv


@pytest.mark.slow
def test_trainer_runs_ppo_on_the_unity_bridge(tmp_path):
    from agent_runtime.config import load_config
    from agent_runtime.trainer import Trainer

    python = ensure_unity_venv()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scene = subprocess.Popen(
        [str(python), str(REPO / "tests" / "unity_support" / "fake_unity.py"), "--port", str(port), "--keys", "1,2",
         "--connect-timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        cfg = load_config(str(REPO / "configs" / "unity-default.yaml"), overrides=[
            "model.name=tiny", "run.total_decisions=16", "run.num_steps=4", f"run.output_dir={tmp_path}",
            "run.progress=false", f"env.options.base_port={port}", "env.options.timeout_wait=30",
            "env.task=DoorSkills", f"env.python={python}", "ppo.minibatch_size=4", "ppo.micro_batch_size=4",
        ])
        trainer = Trainer(cfg)
        try:
            result = trainer.train()
        finally:
            trainer.close()
        text, _ = scene.communicate(timeout=60)
    finally:
        if scene.poll() is None:
            scene.kill()
            scene.communicate()
    assert result["counters"]["decisions"] == 16 and result["counters"]["updates"] == 2
    assert result["counters"]["episodes"] == 8  # 2 skills per episode in the toy scene
    assert scene.returncode == 0, text
    assert "16 skills" in text, text
