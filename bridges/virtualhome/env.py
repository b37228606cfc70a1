"""VirtualHome as a SkillEnv: TWOSOME's Food Preparation and Entertainment tasks.

Two modes share the task logic (flags, prompt text, valid skills, reward):

- ``symbolic`` (default): VirtualHome's evolving-graph executor (``executor.py``) on a scene
  graph (the project's own ``data/`` or a VirtualHome data folder given as ``vh_data``);
- ``unity``: a running VirtualHome Unity simulator (``unity.py``), driven by script lines and
  read back through ``environment_graph()``.

One ``step`` is one script line (``k`` = 1). As in TWOSOME, an offered skill may still fail
(an object not visible, or a precondition unmet): the state stays, the step counts, and
``info["error"]`` says why.
"""

from __future__ import annotations

import re
from typing import Any

from bridges.spec import Observation, SkillError
from bridges.virtualhome.tasks import Task, get_task, resolve_ids, visible_graph

_ID = re.compile(r"\((\d+)\)")


class SymbolicBackend:
    """The package's evolving-graph executor on a scene graph; reset rebuilds from the file."""

    def __init__(self, vh_data: str | None = None, scene: str | None = None):
        from bridges.virtualhome.executor import GraphExecutor
        from bridges.virtualhome.scene import load_scene

        self._make = GraphExecutor
        self.scene = load_scene(vh_data, scene)
        self._ex = GraphExecutor(self.scene.fresh_graph(), self.scene.name_equivalence)
        self.char_id = self._ex.char_id
        self.description = f"symbolic, scene {self.scene.name} ({self.scene.path})"

    def reset(self) -> dict:
        self._ex = self._make(self.scene.fresh_graph(), self.scene.name_equivalence)
        # Roles are resolved on the file's node order, as TWOSOME does.
        return self.scene.graph

    def graph(self) -> dict:
        return self._ex.graph()

    def execute(self, line: str) -> tuple[bool, str]:
        return self._ex.execute(line)

    def check(self, line: str) -> tuple[bool, str]:
        return self._ex.check(line)

    def close(self) -> None:
        pass


class VirtualHomeEnv:
    """One VirtualHome task instance (implements ``bridges.spec.SkillEnv``)."""

    name = "virtualhome"

    def __init__(
        self,
        task: Task,
        backend: Any,
        max_steps: int | None = None,
        log_gamma: float = 0.95,
        full_actions: bool = False,
    ):
        self.spec = task
        # full_actions: offer every action (the PPO-MLP baseline's Discrete space, spec §5);
        # the mask still comes in info["action_ids"], and an unmasked action may just fail.
        self.full_actions = bool(full_actions)
        self.task = task.name
        self.backend = backend
        self.max_steps = int(max_steps if max_steps is not None else task.max_steps)
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        self.log_gamma = float(log_gamma)
        self.ids: dict[str, int] = {}
        self.flags: dict[str, int] = {}
        self.action_ids: list[int] = []
        self._visible: set[int] = set()
        self._t = 0
        self._return = 0.0
        self._ended = True

    # ------------------------------------------------------------------ SkillEnv
    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode (the tasks are deterministic: ``seed`` changes nothing)."""
        initial = self.backend.reset()
        self.ids = resolve_ids(initial, self.spec.roles)
        self._t = 0
        self._return = 0.0
        self._ended = False
        return self._observe()

    def step(self, skill: int) -> Observation:
        """Run valid skill number ``skill`` (an index into the last ``skills``)."""
        if self._ended:
            raise SkillError("the episode has ended; call reset() first")
        ids = self.offered_ids
        if isinstance(skill, bool) or not isinstance(skill, int) or not 0 <= skill < len(ids):
            offered = "; ".join(f"{i}: {t}" for i, t in enumerate(self.skill_texts))
            raise SkillError(f"skill index {skill!r} out of range: {len(ids)} skills are valid now ({offered})")
        action = self.spec.skills[ids[skill]]
        return self._run(action.line(self.ids), action_id=action.id)

    def close(self) -> None:
        self.backend.close()

    # ------------------------------------------------------------------ debugging
    def check_line(self, line: str) -> tuple[bool, str]:
        """Whether a raw script line would execute now, and if not why (no state change)."""
        reason = self._invisible(line)
        return (False, reason) if reason else self.backend.check(line)

    def execute_line(self, line: str) -> Observation:
        """Execute a raw script line as one step (for debugging); ``info["error"]`` says why it failed."""
        if self._ended:
            raise SkillError("the episode has ended; call reset() first")
        return self._run(line, action_id=None)

    @property
    def offered_ids(self) -> list[int]:
        """Action ids behind the skill indices: the valid ones (TWOSOME's mask), or all."""
        return [s.id for s in self.spec.skills] if self.full_actions else self.action_ids

    @property
    def skill_texts(self) -> list[str]:
        return [self.spec.skills[i].text for i in self.offered_ids]

    @property
    def vector(self) -> list[int]:
        return [self.flags[n] for n in self.spec.flag_names]

    # ------------------------------------------------------------------ internals
    def _invisible(self, line: str) -> str:
        missing = [int(i) for i in _ID.findall(line) if int(i) not in self._visible]
        if missing:
            return f"{line} is an invalid action: object(s) {missing} not visible to the character"
        return ""

    def _run(self, line: str, action_id: int | None) -> Observation:
        reason = self._invisible(line)
        executed = False
        if not reason:
            executed, reason = self.backend.execute(line)
        self._t += 1
        obs = self._observe()
        reward = 1.0 if self.spec.success(self.flags) else 0.0
        self._return += reward * self.log_gamma ** (self._t - 1)
        obs.reward, obs.k = reward, 1
        obs.done = reward > 0
        obs.truncated = not obs.done and self._t >= self.max_steps
        obs.info.update(script=line, executed=executed)
        if action_id is not None:
            obs.info["action_id"] = action_id
        if not executed:
            obs.info["error"] = reason
        if obs.done or obs.truncated:
            self._ended = True
            obs.info["success"] = obs.done
            obs.info["episode"] = {"r": self._return, "l": self._t}
        return obs

    def _observe(self) -> Observation:
        masked = visible_graph(self.backend.graph(), self.backend.char_id)
        self._visible = {n["id"] for n in masked["nodes"]}
        self.flags = self.spec.flags(masked, self.ids, self.backend.char_id)
        text, self.action_ids = self.spec.text(self.flags)
        return Observation(
            text=text,
            skills=self.skill_texts,
            goal=self.spec.goal,
            info={"vector": self.vector, "action_ids": list(self.action_ids), "step": self._t},
        )


_INT_OPTIONS = ("max_steps", "port", "environment")
_FLOAT_OPTIONS = ("connect_timeout", "log_gamma")


def make_env(task: str = "food-preparation", seed: int | None = None, **options: Any) -> VirtualHomeEnv:
    """Build a VirtualHome task env.

    Options: ``mode`` (``symbolic`` | ``unity``), ``variant`` (Food Preparation words),
    ``max_steps`` (50), ``log_gamma`` (0.95, for ``info["episode"]["r"]`` only),
    ``full_actions`` (offer all actions, not only the valid ones: the PPO-MLP baseline's space);
    symbolic: ``vh_data`` (a VirtualHome data folder), ``scene`` (scene file stem);
    unity: ``host``, ``port``, ``executable``, ``connect_timeout``, ``environment``,
    ``character``, ``initial_room`` (see ``unity.py``). Values may be strings (from a CLI).
    """
    opts = dict(options)
    for key in _INT_OPTIONS:
        if opts.get(key) is not None:
            opts[key] = int(opts[key])
    for key in _FLOAT_OPTIONS:
        if opts.get(key) is not None:
            opts[key] = float(opts[key])
    mode = str(opts.pop("mode", "symbolic")).lower()
    spec = get_task(task, opts.pop("variant", None))
    max_steps = opts.pop("max_steps", None)
    log_gamma = opts.pop("log_gamma", 0.95)
    full_actions = opts.pop("full_actions", False)
    if isinstance(full_actions, str):
        full_actions = full_actions.strip().lower() in ("1", "true", "yes", "on")
    if mode == "symbolic":
        known = {"vh_data", "scene"}
        _reject_unknown(opts, known, mode)
        backend: Any = SymbolicBackend(opts.get("vh_data"), opts.get("scene"))
    elif mode == "unity":
        from bridges.virtualhome.unity import UNITY_OPTIONS, UnityBackend

        _reject_unknown(opts, set(UNITY_OPTIONS), mode)
        backend = UnityBackend(**opts)
    else:
        raise ValueError(f"unknown VirtualHome mode {mode!r}; use 'symbolic' or 'unity'")
    return VirtualHomeEnv(spec, backend, max_steps=max_steps, log_gamma=log_gamma, full_actions=full_actions)


def _reject_unknown(opts: dict, known: set[str], mode: str) -> None:
    unknown = sorted(set(opts) - known)
    if unknown:
        raise ValueError(
            f"unknown VirtualHome option(s) for mode {mode!r}: {', '.join(unknown)}; "
            f"known: mode, variant, max_steps, log_gamma, full_actions, {', '.join(sorted(known))}"
        )
