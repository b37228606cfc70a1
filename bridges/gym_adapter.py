"""Any gymnasium text environment as a simulator (bridge name ``gym``), without writing a server.

    agent-runtime serve --gym MyTextEnv-v0 --bind tcp://127.0.0.1:5555
    agent-runtime serve --gym mypkg.envs:make_env --option kwargs='{"size": 3}'

or in a config: ``env.bridge: gym`` with ``env.options.id: MyTextEnv-v0`` (or ``mypkg.envs:make_env``).

What the environment must give (each has a default, each can be named by an option):

- **text**: the observation itself when it is a string; else ``obs[text_key]`` of a dict
  observation; else ``env.render()`` (made with ``render_mode="ansi"`` when ``render: true``).
- **valid actions**, as texts: the ``actions`` option (a fixed list, or a map text -> env
  action or list of env actions); else ``info[actions_key]`` (default: the first of
  ``valid_actions``, ``admissible_commands``, ``skills``, ``actions`` present); else a
  method of the environment (``actions_fn``, default ``valid_actions``) called each step.
- **the env action of a text**: the text itself for a ``Text`` action space; for a
  ``Discrete`` one, the text's index in the fixed list, or the value of a map.

A skill may be a *macro*: a map value that is a list of env actions runs them in order
(stopping when the episode ends) and reports ``k`` primitive steps and the summed reward.
``info["success"]`` is taken from the env's ``info["success"]`` or ``info["won"]`` when present.

Importing this module does not import gymnasium (a runtime naming ``gym`` stays light).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from bridges.registry import Option, Simulator
from bridges.spec import Observation, SkillError

ACTION_KEYS = ("valid_actions", "admissible_commands", "skills", "actions")
TEXT_KEYS = ("text", "description", "observation", "obs")
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _plain(value: Any) -> Any:
    """A msgpack-able copy of an info value, or None when it has none."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items if all(i is not None or v is None for i, v in zip(items, value)) else None
    if isinstance(value, Mapping):
        out = {str(k): _plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return None


def make_gym(id: str, kwargs: Mapping[str, Any] | None = None, render_mode: str | None = None) -> Any:
    """A gymnasium env by registered id (``gym.make``) or by ``module:factory`` (called with kwargs)."""
    kw = dict(kwargs or {})
    if render_mode is not None:
        kw["render_mode"] = render_mode
    if _FACTORY.match(id):
        module, _, attr = id.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj(**kw)
    import gymnasium

    return gymnasium.make(id, **kw)


class GymSkillEnv:
    """A gymnasium env as a SkillEnv: text observation, valid actions as skills.

    Subclass and override ``run_skill`` for skills the declarative options cannot say.
    """

    name = "gym"

    def __init__(
        self,
        env: Any,
        task: str = "",
        seed: int | None = None,
        actions: Any = None,
        actions_key: str | None = None,
        actions_fn: str = "valid_actions",
        text_key: str | None = None,
        goal_key: str = "goal",
        max_steps: int | None = None,
    ):
        self.env = env
        self.task = task or str(getattr(getattr(env, "spec", None), "id", "") or type(env.unwrapped).__name__)
        self._seed = seed
        self._fixed: dict[str, Any] | None = None
        if isinstance(actions, Mapping):
            self._fixed = dict(actions)
        elif isinstance(actions, (list, tuple)):
            self._fixed = {str(a): i for i, a in enumerate(actions)}
        elif actions is not None:
            raise ValueError(f"option actions must be a list of texts or a map text -> action, got {actions!r}")
        self.actions_key = actions_key
        self.actions_fn = actions_fn
        self.text_key = text_key
        self.goal_key = goal_key
        self.max_steps = max_steps
        self._text_actions = type(env.action_space).__name__ == "Text"
        self._skills: list[str] = []
        self._actions: list[Any] = []
        self._t = 0
        self._goal = ""

    # ------------------------------------------------------------------ text and actions
    def observation_text(self, obs: Any) -> str:
        if isinstance(obs, str):
            return obs
        if isinstance(obs, Mapping):
            for key in [self.text_key] if self.text_key else list(TEXT_KEYS):
                if key in obs and isinstance(obs[key], str):
                    return obs[key]
        if getattr(self.env, "render_mode", None) == "ansi":
            return str(self.env.render())
        if self.text_key:
            raise ValueError(f"observation has no text under {self.text_key!r}: {type(obs).__name__}")
        return str(obs)

    def valid_actions(self, info: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        """(skill texts, env action of each) valid now."""
        listed: Any = None
        if self.actions_key is not None:
            if self.actions_key not in info:
                raise ValueError(f"info has no {self.actions_key!r} (keys: {', '.join(map(str, info))})")
            listed = info[self.actions_key]
        elif self._fixed is None:
            listed = next((info[k] for k in ACTION_KEYS if k in info), None)
            fn = getattr(self.env.unwrapped, self.actions_fn, None) if listed is None else None
            if callable(fn):
                listed = fn()
        if listed is None:
            if self._fixed is None:
                raise ValueError(
                    "the environment names no valid actions: give the actions option, an info key "
                    f"({', '.join(ACTION_KEYS)}) or a method {self.actions_fn}()"
                )
            return list(self._fixed), list(self._fixed.values())
        if isinstance(listed, Mapping):
            return [str(k) for k in listed], list(listed.values())
        texts = [str(a) for a in listed]
        acts = texts if self._text_actions else list(range(len(texts)))
        if self._fixed is not None:  # the fixed map says what some texts are
            acts = [self._fixed.get(t, a) for t, a in zip(texts, acts)]
        return texts, acts

    def _observe(
        self,
        obs: Any,
        info: Mapping[str, Any],
        reward: float = 0.0,
        done: bool = False,
        truncated: bool = False,
        k: int = 0,
    ) -> Observation:
        if isinstance(obs, Mapping) and isinstance(obs.get("mission"), str):
            self._goal = obs["mission"]
        if isinstance(info.get(self.goal_key), str):
            self._goal = info[self.goal_key]
        self._skills, self._actions = self.valid_actions(info)
        if not self._skills and not (done or truncated):
            raise ValueError("the environment names no valid action in a state that has not ended")
        keep = {
            k: v
            for k, v in info.items()
            if k not in ACTION_KEYS and k != self.actions_key and isinstance(k, str) and _plain(v) is not None
        }
        extras = {k: _plain(v) for k, v in keep.items()}
        if done or truncated:
            for key in ("success", "won", "is_success"):
                if key in info:
                    extras["success"] = bool(info[key])
                    break
        return Observation(
            text=self.observation_text(obs),
            skills=list(self._skills),
            goal=self._goal,
            reward=float(reward),
            done=bool(done),
            truncated=bool(truncated),
            k=k,
            info=extras,
        )

    # ------------------------------------------------------------------ SkillEnv
    def reset(self, seed: int | None = None) -> Observation:
        if seed is None:
            seed, self._seed = self._seed, None  # the construction seed seeds the first episode
        obs, info = self.env.reset(seed=seed)
        self._t = 0
        return self._observe(obs, info)

    def run_skill(self, text: str, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any], int]:
        """Run one skill: one env action, or each of a list of them (a macro). Returns obs, reward, term, trunc, info, k."""
        steps = action if isinstance(action, list) else [action]
        total, obs, term, trunc, info, k = 0.0, None, False, False, {}, 0
        for a in steps:
            obs, r, term, trunc, info = self.env.step(a)
            total += float(r)
            k += 1
            if term or trunc:
                break
        return obs, total, bool(term), bool(trunc), dict(info), k

    def step(self, skill: int) -> Observation:
        if isinstance(skill, bool) or not isinstance(skill, int) or not 0 <= skill < len(self._skills):
            raise SkillError(f"skill index {skill!r} out of range: {len(self._skills)} skills are valid")
        obs, reward, term, trunc, info, k = self.run_skill(self._skills[skill], self._actions[skill])
        self._t += 1
        if self.max_steps is not None and self._t >= self.max_steps and not term:
            trunc = True
        return self._observe(obs, info, reward, term, trunc, k)

    def close(self) -> None:
        self.env.close()


def make_env(
    task: str = "",
    seed: int | None = None,
    id: str = "",
    kwargs: dict | None = None,
    actions: Any = None,
    actions_key: str | None = None,
    actions_fn: str = "valid_actions",
    text_key: str | None = None,
    goal_key: str = "goal",
    render: bool = False,
    max_steps: int | None = None,
) -> GymSkillEnv:
    """A gymnasium environment (``id``: a registered id or ``module:factory``) as a SkillEnv."""
    if not id:
        raise ValueError("the gym simulator needs the option id (a gymnasium env id or module:factory)")
    env = make_gym(id, kwargs, render_mode="ansi" if render else None)
    return GymSkillEnv(
        env,
        task=task or id,
        seed=seed,
        actions=actions,
        actions_key=actions_key,
        actions_fn=actions_fn,
        text_key=text_key,
        goal_key=goal_key,
        max_steps=max_steps,
    )


def _options() -> dict[str, Option]:
    return {
        "id": Option(str, "", "gymnasium env id, or module:factory returning a gymnasium.Env"),
        "kwargs": Option(dict, None, "keyword arguments for gym.make / the factory"),
        "actions": Option((list, dict), None, "fixed action texts, or a map text -> env action (a list: a macro)"),
        "actions_key": Option(str, None, "info key listing the valid actions"),
        "actions_fn": Option(str, "valid_actions", "env method returning the valid actions"),
        "text_key": Option(str, None, "key of the text in a dict observation"),
        "goal_key": Option(str, "goal", "info key of the goal text"),
        "render": Option(bool, False, "use env.render() (render_mode='ansi') as the text"),
        "max_steps": Option(int, None, "decisions per episode before truncation"),
    }


SIMULATOR = Simulator(make_env, _options(), task="", description="any gymnasium text environment")
