"""Build the VecEnv a config asks for: in-process simulators, spawned servers, or running ones."""

from __future__ import annotations

from functools import partial

from agent_runtime.config import EnvSection
from bridges.local import LocalVecEnv
from bridges.registry import env_factory
from bridges.spec import VecEnv


def make_env(env: EnvSection, num_envs: int | None = None, seed: int | None = None) -> VecEnv:
    """The environments of ``env`` (``num_envs``/``seed`` override the section's)."""
    n = num_envs if num_envs is not None else env.num_envs
    base_seed = env.seed if seed is None else seed
    if env.in_process:
        make = env_factory(env.bridge)
        factories = [partial(make, task=env.task, seed=base_seed + i, **env.options) for i in range(n)]
        return LocalVecEnv(factories, seeds=[base_seed + i for i in range(n)])
    from bridges.launch import make_vec_env

    return make_vec_env(
        bridge=env.bridge,
        task=env.task,
        options=dict(env.options),
        num_envs=n,
        seed=base_seed,
        connect=list(env.connect),
        python=env.python,
        in_process=False,
        envs_per_server=env.envs_per_server,
        curve_dir=env.curve_dir,
    )
