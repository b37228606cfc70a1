"""Which simulators exist and how to build them: built-in ones, plugins, ``module:factory`` paths.

A simulator is named in three ways (``env.bridge`` in a config, ``--bridge`` of a server):

- a built-in name (``BRIDGES`` below: ``toy``, ``babyai``, ..., ``gym``, ``textworld``);
- the name of an entry point in the group ``agent_runtime.simulators`` of an installed
  package (``[project.entry-points."agent_runtime.simulators"] mysim = "mypkg.sim:SIMULATOR"``);
- a ``module:factory`` path (``mypkg.envs:make``), imported as it is.

An entry point or a path points at a :class:`Simulator` (a factory plus its declared
options) or at a plain factory function; a plain function's options are read from its
signature (keyword parameters other than ``task`` and ``seed``: names, annotated types,
defaults; a ``**kwargs`` parameter means "any option").  A factory is called as
``factory(task=..., seed=..., **options)`` and returns a SkillEnv (bridges.spec).

Built-in simulators are declared here as data, so that naming one and checking its
options imports nothing heavy (the runtime does not import simulators).
Standard library only.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import UnionType
from typing import Any

from bridges.spec import SkillEnv

# VirtualHome's unity-mode options (bridges/virtualhome/unity.py reads them from here: one list).
VH_UNITY_OPTIONS = (
    "host", "port", "executable", "connect_timeout", "request_timeout", "environment", "character",
    "initial_room", "x_display", "no_graphics",
)  # fmt: skip

ENTRY_POINT_GROUP = "agent_runtime.simulators"

# name -> "module:function" of the built-in simulators (imported lazily).
BRIDGES: dict[str, str] = {
    "toy": "bridges.toy:make_env",
    "babyai": "bridges.babyai.env:make_env",
    "overcooked": "bridges.overcooked.env:make_env",
    "overcooked_ai": "bridges.overcooked_ai.env:make_env",
    "virtualhome": "bridges.virtualhome.env:make_env",
    "crafter": "bridges.crafter.env:make_env",
    "unity": "bridges.unity.env:make_env",
    "gym": "bridges.gym_adapter:make_env",
    "textworld": "bridges.textworld.env:make_env",
}

ANY = object  # an option of any type


class OptionError(ValueError):
    """An option the simulator does not declare, or a value of the wrong type (one line)."""


@dataclass(frozen=True)
class Option:
    """One declared option: its type (int, float, str, bool, list, dict, ANY, or a tuple of them) and default.

    ``None`` is accepted when the default is None, or when ``nullable``.
    """

    type: Any = ANY
    default: Any = None
    help: str = ""
    nullable: bool = False  # None is accepted (always when the default is None)

    def accepts(self, value: Any) -> bool:
        if value is None and (self.default is None or self.nullable):
            return True
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        for t in types:
            if t is ANY:
                return True
            if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                return True
            if t is int and isinstance(value, bool):
                continue
            if isinstance(value, t):
                return True
        return False

    def type_name(self) -> str:
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return "|".join("any" if t is ANY else getattr(t, "__name__", str(t)) for t in types)


@dataclass
class Simulator:
    """A simulator: how to build one environment and which options it takes.

    factory: a function ``(task=..., seed=..., **options) -> SkillEnv``, or ``"module:function"``.
    options: name -> Option; None = not declared (any option is passed on unchecked).
    task:    the default task name (given to the factory when the config names none).
    """

    factory: Callable[..., SkillEnv] | str
    options: Mapping[str, Option] | None = None
    task: str | None = None
    description: str = ""
    name: str = ""
    _loaded: Callable[..., SkillEnv] | None = field(default=None, repr=False, compare=False)

    def load(self) -> Callable[..., SkillEnv]:
        """The factory function (imports its module the first time)."""
        if self._loaded is None:
            self._loaded = _import(self.factory) if isinstance(self.factory, str) else self.factory
        return self._loaded

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise OptionError (one line) for an undeclared option or a value of the wrong type."""
        if self.options is None:
            return
        allowed = ", ".join(sorted(self.options)) or "(none)"
        for key, value in options.items():
            opt = self.options.get(key)
            if opt is None:
                raise OptionError(f"unknown option {key!r} for simulator {self.name!r}; allowed options: {allowed}")
            if not opt.accepts(value):
                raise OptionError(
                    f"option {key!r} of simulator {self.name!r}: expected {opt.type_name()}, got {value!r}"
                )

    def make_env(self, task: str | None = None, seed: int | None = None, **options: Any) -> SkillEnv:
        """Check the options, then build one environment."""
        self.check_options(options)
        kw = dict(options)
        task = task if task is not None else self.task
        if task is not None:
            kw["task"] = task
        return self.load()(seed=seed, **kw)


def _o(type_: Any = ANY, default: Any = None, help: str = "") -> Option:
    return Option(type_, default, help)


# Option declarations of the built-in simulators (their factories check values further).
_BUILTIN_OPTIONS: dict[str, dict[str, Option]] = {
    "toy": {
        "num_candidates": _o(int, 4, "doors per question"),
        "steps": _o(int, 1, "questions per episode"),
        "noun": _o(str, "door", "what the key is behind (a word change only)"),
        "verb": _o(str, "open", "the action's verb (a word change only)"),
    },
    "babyai": {
        "reward": _o(str, "glam", "glam | native | binary"),
        "history": _o(int, 3),
        "language": _o(str, "english", "english | french"),
        "rename": _o((str, dict), None),
        "actions": _o((str, list), None),
        "max_steps": _o(int, None),
    },
    "overcooked": {
        "randomize": _o(bool, False),
        "max_steps": _o(int, 200),
        "rewards": _o(list, None),
        "timeout_terminal": _o(bool, True),
    },
    "overcooked_ai": {
        "partner": _o(str, "scripted"),
        "agent_index": _o(int, 0),
        "horizon": _o(int, 400),
        "gamma": _o(float, 0.99),
        "reward_scale": _o(float, 1.0),
        "shaped_reward": _o(float, 0.0),
        "max_soups": _o(int, 0),
        "max_skill_steps": _o(int, 40),
        "wait_steps": _o(int, 3),
        "partner_epsilon": _o(float, 0.0),
        "random_start": _o(bool, False),
    },
    "virtualhome": {
        "mode": _o(str, "symbolic", "symbolic | unity"),
        "variant": _o(str, None),
        "max_steps": _o((int, str), None),
        "log_gamma": _o((float, str), 0.95),
        "full_actions": _o((bool, str), False),
        "vh_data": _o(str, None),
        "scene": _o(str, None),
        **{k: _o(ANY, None, "unity mode") for k in VH_UNITY_OPTIONS},
    },
    "crafter": {
        "prefetch": _o((bool, str), None),
        "skills": _o((bool, str), None),
        "primitives": _o((bool, str), None),
        **{
            k: _o((int, str), None)
            for k in ("max_steps", "max_skill_steps", "explore_steps", "history", "prefetch_depth")
        },
    },
    "unity": {
        "file_name": _o(str, None),
        "worker_id": _o((int, str), 0),
        "base_port": _o((int, str), None),
        "no_graphics": _o((bool, str), True),
        "time_scale": _o((float, str), 20.0),
        "env_params": _o(dict, None),
        "timeout_wait": _o((float, str), 60),
        "bind_host": _o(str, "localhost"),
        "additional_args": _o(list, None),
        "log_folder": _o(str, None),
        "max_substeps": _o((int, str), 10_000),
        "key_observation": _o((int, str), None),
    },
}
_BUILTIN_TASKS = {"toy": "pick-named", "gym": "", "textworld": "simple"}


def _import(path: str) -> Any:
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise KeyError(f"{path!r} is not of the form module:factory")
    try:
        obj: Any = importlib.import_module(module)
    except ModuleNotFoundError as e:
        # a module in the current folder (a console script does not put it on the path; ``python -m`` does)
        if e.name != module.split(".")[0] or os.getcwd() in sys.path:
            raise
        sys.path.append(os.getcwd())
        obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _option_type(annotation: Any, default: Any) -> Any:
    """The Option type of a parameter annotation (int | None -> int, list[str] -> list, a class -> ANY)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is UnionType:
        kinds = tuple(_option_type(a, None) for a in typing.get_args(annotation) if a is not type(None))
        return ANY if ANY in kinds or not kinds else (kinds[0] if len(kinds) == 1 else kinds)
    if origin in (list, tuple, Sequence):
        return list
    if origin in (dict, Mapping):
        return dict
    if annotation in (int, float, str, bool, list, dict):
        return annotation
    if annotation is inspect.Parameter.empty and default is not None and type(default) in (int, float, str, bool):
        return type(default)
    return ANY


def from_function(fn: Callable[..., SkillEnv], name: str = "") -> Simulator:
    """A Simulator whose options are the factory's keyword parameters (other than task and seed)."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError, AttributeError):  # an annotation that does not evaluate here
        hints = {}
    options: dict[str, Option] | None = {}
    task = None
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            options = None
            continue
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        if p.name == "task":
            task = default
            continue
        if p.name == "seed":
            continue
        if options is not None:
            annotation = hints.get(p.name, p.annotation)
            nullable = type(None) in typing.get_args(annotation)
            options[p.name] = Option(_option_type(annotation, default), default, nullable=nullable)
    return Simulator(fn, options, task=task, description=(fn.__doc__ or "").strip().split("\n")[0], name=name)


def _as_simulator(obj: Any, name: str) -> Simulator:
    if isinstance(obj, Simulator):
        return Simulator(obj.factory, obj.options, obj.task, obj.description, name, obj._loaded)
    if callable(obj):
        return from_function(obj, name)
    raise KeyError(f"simulator {name!r} is a {type(obj).__name__}, not a Simulator or a factory function")


def plugin_names() -> list[str]:
    """Names of the simulators installed packages declare in the entry-point group."""
    return sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})


def known_names() -> list[str]:
    return sorted(set(BRIDGES) | set(plugin_names()))


def get_simulator(name: str) -> Simulator:
    """The simulator called ``name`` (built-in, entry point, or ``module:factory``); KeyError if none."""
    if name in BRIDGES:
        path = BRIDGES[name]
        if name == "gym" or name == "textworld" or name not in _BUILTIN_OPTIONS:
            # declared by its own module (light to import), or registered at run time
            return _declared_in_module(path, name)
        return Simulator(path, _BUILTIN_OPTIONS[name], task=_BUILTIN_TASKS.get(name), name=name)
    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if eps:
        return _as_simulator(eps[0].load(), name)
    if ":" in name:
        try:
            obj = _import(name)
        except (ImportError, AttributeError) as e:
            raise KeyError(f"simulator {name!r} could not be imported: {type(e).__name__}: {e}") from None
        return _as_simulator(obj, name)
    raise KeyError(
        f"unknown bridge {name!r}; known bridges: {', '.join(known_names())} "
        f"(or a module:factory path, or an entry point in group {ENTRY_POINT_GROUP!r})"
    )


def _declared_in_module(path: str, name: str) -> Simulator:
    """A built-in whose module declares ``SIMULATOR`` (imported without its simulator package)."""
    module = path.partition(":")[0]
    mod = importlib.import_module(module)
    sim = getattr(mod, "SIMULATOR", None)
    if isinstance(sim, Simulator):
        return _as_simulator(sim, name)
    return Simulator(path, None, task=_BUILTIN_TASKS.get(name), name=name)


def env_factory(bridge: str) -> Callable[..., SkillEnv]:
    """A ``make_env(task=..., seed=..., **options)`` for a simulator, by name.

    A built-in's own factory (it checks its options itself); for a plugin or a ``module:factory``
    path, a function that checks the options against the declaration first.
    """
    sim = get_simulator(bridge)
    return sim.load() if bridge in BRIDGES else sim.make_env
