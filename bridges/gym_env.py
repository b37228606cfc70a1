"""Any bridge as a ``gymnasium.Env``: text observation, Discrete action over the valid skills.

Importing this module imports gymnasium (nothing else in ``bridges`` does).

Observation: the observation text (``spaces.Text``).  Action: ``Discrete(max_skills)``,
an index into the skills valid now; ``info["skills"]`` lists them and
``info["action_mask"]`` marks which indices are valid.  An index past the valid
skills raises ``SkillError`` (``invalid_action="raise"``) or leaves the state as it
is with reward 0 and ``info["invalid_action"] = True`` (``invalid_action="noop"``).
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from bridges.spec import Observation, SkillError

TEXT_CHARSET = string.printable + "".join(chr(c) for c in range(0xA0, 0x250))


class BridgeGymEnv(gymnasium.Env):
    """Environment ``index`` of a VecEnv that supports ``reset_env``/``step_env`` (RemoteVecEnv)."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        venv: Any,
        index: int = 0,
        max_skills: int | None = None,
        max_text: int = 16384,
        invalid_action: str = "raise",
        owns_venv: bool = False,
        render_mode: str | None = None,
    ):
        if invalid_action not in ("raise", "noop"):
            raise ValueError(f"invalid_action must be 'raise' or 'noop', got {invalid_action!r}")
        if not 0 <= index < venv.num_envs:
            raise ValueError(f"index {index} out of range for {venv.num_envs} environments")
        self.venv = venv
        self.index = index
        self.invalid_action = invalid_action
        self.owns_venv = owns_venv
        self.render_mode = render_mode
        self._obs: Observation | None = None
        self._needs_reset = True
        if max_skills is None:  # learn it from a first observation
            self._obs = venv.reset_env(index)
            max_skills = max(1, len(self._obs.skills))
        self.max_skills = max_skills
        self.action_space = spaces.Discrete(max_skills)
        self.observation_space = spaces.Text(max_length=max_text, charset=TEXT_CHARSET)

    def _info(self, obs: Observation) -> dict[str, Any]:
        mask = np.zeros(self.max_skills, dtype=bool)
        mask[: min(len(obs.skills), self.max_skills)] = True
        return {**obs.info, "skills": list(obs.skills), "action_mask": mask, "goal": obs.goal, "k": obs.k}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is None and self._obs is not None and self._needs_reset and not self._obs.ended:
            obs = self._obs  # the probe observation from __init__, not yet shown
        else:
            obs = self.venv.reset_env(self.index, seed)
        if len(obs.skills) > self.max_skills:
            raise SkillError(f"{len(obs.skills)} skills valid but the action space has only {self.max_skills}")
        self._obs = obs
        self._needs_reset = False
        return obs.text, self._info(obs)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._needs_reset or self._obs is None:
            raise RuntimeError("call reset() before step() (and after an episode ends)")
        a = int(action)
        if not 0 <= a < len(self._obs.skills):
            if self.invalid_action == "raise":
                raise SkillError(f"skill index {a} out of range: {len(self._obs.skills)} skills are valid")
            info = self._info(self._obs)
            info["invalid_action"] = True
            return self._obs.text, 0.0, False, False, info
        obs = self.venv.step_env(self.index, a, autoreset=False)
        self._obs = obs
        if obs.ended or obs.dropped:
            self._needs_reset = True
        info = self._info(obs)
        if obs.dropped:
            info["dropped"] = True
        return obs.text, float(obs.reward), bool(obs.done), bool(obs.truncated or obs.dropped), info

    def render(self) -> str | None:
        if self.render_mode == "ansi" and self._obs is not None:
            return self._obs.text + "\n" + "\n".join(f"{i}: {s}" for i, s in enumerate(self._obs.skills))
        return None

    def close(self) -> None:
        if self.owns_venv:
            self.venv.close()


def gym_envs(venv: Any, **kw: Any) -> list[BridgeGymEnv]:
    """One gymnasium view per environment of a RemoteVecEnv (they share its sockets; step one at a time)."""
    return [BridgeGymEnv(venv, i, **kw) for i in range(venv.num_envs)]


def make_gym_env(
    bridge: str,
    task: str | None = None,
    options: dict[str, Any] | None = None,
    seed: int | None = None,
    connect: list[str] | None = None,
    python: str | None = None,
    max_skills: int | None = None,
    invalid_action: str = "raise",
    **kw: Any,
) -> BridgeGymEnv:
    """One environment of ``bridge`` on a spawned (or attached) server, as a gymnasium.Env."""
    from bridges.launch import make_vec_env

    venv = make_vec_env(
        bridge, task, options, num_envs=None if connect else 1, seed=seed, connect=connect or (), python=python, **kw
    )
    return BridgeGymEnv(venv, 0, max_skills=max_skills, invalid_action=invalid_action, owns_venv=True)
