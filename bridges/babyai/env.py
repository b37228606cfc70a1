"""BabyAI-Text as a SkillEnv, over the real minigrid package (GLAM's setting).

Each of the six primitive actions is a skill (k = 1). The observation text is
GLAM's whole prompt (actions, goal, the last ``history`` observations and the
actions between them, ending with ``Action N:``); ``goal`` is the mission in the
lexicon's words. Reward: ``glam`` = 20 x minigrid's success reward (GLAM's
training reward), ``native`` = minigrid's ``1 - 0.9 * steps / max_steps``,
``binary`` = 1 on success. Episodes end on success (``done``) or at minigrid's
``max_steps`` (``truncated``).
"""

from __future__ import annotations

import contextlib
import io
import operator
import random
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the BabyAI ids with gymnasium)

from bridges.babyai.levels import SPLITS, TEST_KINDS, TRAIN_KINDS, MixedLocalKind
from bridges.babyai.text import GoalWriter, PromptHistory, describe_view, glam_prompt, make_lexicon
from bridges.frames import FrameRecorder
from bridges.spec import Observation, SkillError
from skills.babyai import MINIGRID_ACTIONS, action_texts

# Task name -> gymnasium id of minigrid's level (the mixed tasks are built here).
LEVELS: dict[str, str] = {
    "GoToLocal": "BabyAI-GoToLocal-v0",
    "PickupLoc": "BabyAI-PickupLoc-v0",
    "PutNextLocal": "BabyAI-PutNextLocal-v0",
}
MIXED = {"MixedTrainLocal": "train", "MixedTestLocal": "test"}
TASKS = tuple(LEVELS) + tuple(MIXED)
REWARD_MODES = ("glam", "native", "binary")
GLAM_REWARD_SCALE = 20.0


def _task_name(task: str) -> str:
    """Accept "GoToLocal", "gotolocal", "BabyAI-GoToLocal-v0", "mixed" ..."""
    t = task.strip()
    if t.startswith("BabyAI-"):
        t = t[len("BabyAI-") :]
    if t.endswith("-v0"):
        t = t[: -len("-v0")]
    aliases = {name.lower(): name for name in TASKS}
    aliases["mixed"] = "MixedTrainLocal"
    aliases["mixedtrain"] = "MixedTrainLocal"
    aliases["mixedtest"] = "MixedTestLocal"
    key = t.lower().replace("_", "").replace("-", "")
    if key not in aliases:
        raise ValueError(f"unknown BabyAI task {task!r}; known: {', '.join(TASKS)} (or 'mixed')")
    return aliases[key]


class BabyAITextEnv(FrameRecorder):
    """One BabyAI level with GLAM's text observations; the SkillEnv contract."""

    name = "babyai"

    def __init__(
        self,
        task: str = "GoToLocal",
        seed: int | None = None,
        reward: str = "glam",
        history: int = 3,
        language: str = "english",
        rename: str | Mapping[str, str] | None = None,
        actions: str | Sequence[str] | None = None,
        max_steps: int | None = None,
    ):
        self.task = _task_name(task)
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self.reward_mode = reward
        self.lex = make_lexicon(language, rename)
        self.skills = action_texts(actions, language)
        self.history = PromptHistory(int(history))
        self._write_goal = GoalWriter(self.lex)
        self._level_kwargs: dict[str, Any] = {} if max_steps is None else {"max_steps": int(max_steps)}
        self._levels: dict[str, Any] = {}
        if self.task in MIXED:
            split = MIXED[self.task]
            self._kinds: tuple[str, ...] = TRAIN_KINDS if split == "train" else TEST_KINDS
        else:
            self._kinds = (self.task,)
        self._seed = seed
        self._rng = random.Random(seed)
        self._env: Any = None  # the minigrid level of the current episode
        self._kind = ""
        self._goal = ""
        self._ended = True

    # -- minigrid levels ----------------------------------------------------------
    def _level(self, kind: str):
        if kind not in self._levels:
            if kind in LEVELS:
                self._levels[kind] = gym.make(LEVELS[kind], **self._level_kwargs).unwrapped
            else:
                self._levels[kind] = MixedLocalKind(kind, split=MIXED[self.task], **self._level_kwargs)
        return self._levels[kind]

    # -- SkillEnv ---------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode; the same seed gives the same episode."""
        if seed is None:
            # Without a seed, continue a stream seeded by the constructor's seed.
            seed = self._rng.randrange(2**31)
        seed = int(seed)
        self._kind = self._kinds[random.Random(seed).randrange(len(self._kinds))]
        self._env = self._level(self._kind)
        # The level generator prints when it rejects a sample; keep a server's stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            obs, _ = self._env.reset(seed=seed)
        self._goal = self._write_goal(self._env.instrs, self._env)
        self._ended = False
        self.history.clear()
        return self._observe(obs, reward=0.0, k=0)

    def step(self, skill: int) -> Observation:
        """Run one primitive action (skill index into ``skills``)."""
        try:
            index = operator.index(skill)
        except TypeError:
            raise SkillError(f"skill must be an integer index, got {skill!r}") from None
        if not 0 <= index < len(self.skills):
            raise SkillError(
                f"skill index {index} out of range: {len(self.skills)} skills are valid ({', '.join(self.skills)})"
            )
        if self._env is None or self._ended:
            raise SkillError("the episode has ended (or never started): call reset() first")
        self._capture()  # a video's frame: the state this primitive step acts on
        obs, native, terminated, truncated, _ = self._env.step(MINIGRID_ACTIONS[index])
        success = bool(terminated and native > 0)
        if not success:
            reward = 0.0
        elif self.reward_mode == "glam":
            reward = GLAM_REWARD_SCALE * float(native)
        elif self.reward_mode == "native":
            reward = float(native)
        else:
            reward = 1.0
        self.history.push_action(self.skills[index])
        out = self._observe(obs, reward=reward, k=1)
        out.done = bool(terminated)
        out.truncated = bool(truncated) and not terminated
        if out.done or out.truncated:
            self._ended = True
            out.info["success"] = success
            out.info["native_reward"] = float(native)
        return out

    def close(self) -> None:
        for level in self._levels.values():
            level.close()
        self._levels.clear()
        self._env = None

    # -- helpers ----------------------------------------------------------------
    def _observe(self, obs: dict, reward: float, k: int) -> Observation:
        image = obs["image"]
        self.history.push_observation(describe_view(image, self.lex))
        text = glam_prompt(self.lex, self.skills, self._goal, self.history)
        vector = image.reshape(-1).tolist()
        vector.append(int(obs["direction"]))
        info: dict[str, Any] = {
            "vector": vector,
            "mission": self._env.mission,
            "kind": self._kind,
            "step": int(self._env.step_count),
            "max_steps": int(self._env.max_steps),
        }
        return Observation(text=text, skills=list(self.skills), goal=self._goal, reward=reward, k=k, info=info)

    def render_rgb(self, tile_size: int = 24):
        """The whole grid as an RGB image (numpy uint8, H x W x 3), the agent's view highlighted."""
        if self._env is None:
            raise RuntimeError("nothing to render: call reset() first")
        return self._env.get_frame(highlight=True, tile_size=tile_size)

    @property
    def unwrapped(self):
        """The minigrid level of the current episode (for tests and scripted policies)."""
        return self._env

    @property
    def descriptions(self) -> list[str]:
        """The latest observation's descriptions."""
        return list(self.history.obs[-1]) if self.history.obs else []


def make_env(task: str = "GoToLocal", seed: int | None = None, **options: Any) -> BabyAITextEnv:
    """A BabyAI-Text environment. Options: reward (glam|native|binary), history (int),
    language (english|french), rename (preset name or map), actions (preset name or six
    texts), max_steps (int)."""
    known = {"reward", "history", "language", "rename", "actions", "max_steps"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown babyai option(s) {sorted(unknown)}; known: {sorted(known)}")
    return BabyAITextEnv(task=task, seed=seed, **options)


__all__ = ["BabyAITextEnv", "make_env", "TASKS", "REWARD_MODES", "SPLITS"]
