"""Build the VecEnv a config asks for: in-process simulators, spawned servers, or running ones."""

from __future__ import annotations

from agent_runtime.config import EnvSection
from bridges.launch import make_vec_env
from bridges.spec import VecEnv


def make_env(env: EnvSection, num_envs: int | None = None, seed: int | None = None) -> VecEnv:
    """The environments of ``env`` (``num_envs``/``seed`` override the section's)."""
    return make_vec_env(
        bridge=env.bridge,
        task=env.task,
        options=dict(env.options),
        num_envs=num_envs if num_envs is not None else env.num_envs,
        seed=env.seed if seed is None else seed,
        connect=list(env.connect),
        python=env.python,
        in_process=env.in_process,
        envs_per_server=env.envs_per_server,
        curve_dir=env.curve_dir,
        transport=env.transport,
        timeout=env.timeout,
        startup_timeout=env.startup_timeout,
        reconnect_timeout=env.reconnect_timeout,
    )
