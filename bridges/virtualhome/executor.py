"""VirtualHome's own evolving-graph executor (PyPI ``virtualhome`` 2.3.0), with TWOSOME's rules.

``import virtualhome`` fails (its ``__init__`` indexes ``sys.path[5]``), so the pure-Python
modules under ``virtualhome/simulation/evolving_graph`` are loaded from the installed files
under a private package name. ``evolving_graph/__init__.py`` is deliberately *not* run: it
imports ``utils``, which needs numpy and calls ``random.seed(123)`` on the global generator.

:class:`GraphExecutor` runs one script line at a time for character 0 on an environment graph
(``{"nodes": [...], "edges": [...]}``). Where TWOSOME's copy of the executor differs from
upstream (spec ``virtualhome-tasks.md`` §2.2), the difference is applied here, around the
package's executors:

- SWITCHON / SWITCHOFF need a free hand (upstream has that check commented out);
- the character's SITTING / LYING state is visible to later checks (upstream stores the
  changed character node where ``get_char_node`` never looks; the graph is rebuilt from the
  state after every line, which makes the change stick);
- sitting ignores the furniture occupancy limit (the TWOSOME sofa carries 5 objects).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_PKG = "_agent_runtime_vh_evolving_graph"
INSTALL_HINT = "pip install --no-deps virtualhome==2.3.0"


def simulation_dir() -> Path:
    """The installed ``virtualhome/simulation`` folder (found without importing the package)."""
    spec = importlib.util.find_spec("virtualhome")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the 'virtualhome' package is not installed; install it with: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        sim = Path(location) / "simulation"
        if (sim / "evolving_graph" / "execution.py").is_file():
            return sim
    raise ImportError(f"'virtualhome' is installed but has no simulation/evolving_graph; reinstall: {INSTALL_HINT}")


def load_package_module(subpackage: str, module: str, alias: str) -> ModuleType:
    """Load ``virtualhome/simulation/<subpackage>/<module>.py`` as ``<alias>.<module>``.

    ``alias`` is registered as a namespace-like package pointing at the folder, without
    running the folder's ``__init__.py``; relative imports between its modules keep working.
    """
    folder = simulation_dir() / subpackage
    if alias not in sys.modules:
        pkg_spec = importlib.util.spec_from_file_location(
            alias, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert pkg_spec is not None
        sys.modules[alias] = importlib.util.module_from_spec(pkg_spec)
    return importlib.import_module(f"{alias}.{module}")


class _EvolvingGraph:
    """The package's ``environment``, ``execution``, ``scripts`` and ``common`` modules."""

    def __init__(self) -> None:
        self.environment = load_package_module("evolving_graph", "environment", _PKG)
        self.execution = load_package_module("evolving_graph", "execution", _PKG)
        self.scripts = load_package_module("evolving_graph", "scripts", _PKG)
        self.common = load_package_module("evolving_graph", "common", _PKG)


_EG: _EvolvingGraph | None = None


def evolving_graph() -> _EvolvingGraph:
    """The loaded evolving-graph modules (loaded once per process)."""
    global _EG
    if _EG is None:
        _EG = _EvolvingGraph()
    return _EG


class _NoOccupancyLimit(dict):
    """Stands in for ``SitExecutor._MAX_OCCUPANCIES``: no piece of furniture is ever full."""

    def get(self, key: Any, default: Any = None) -> int:
        return sys.maxsize


def _executors(eg: _EvolvingGraph) -> dict:
    table = dict(eg.execution.ScriptExecutor._action_executors)
    sit_cls = type("TwosomeSitExecutor", (eg.execution.SitExecutor,), {"_MAX_OCCUPANCIES": _NoOccupancyLimit()})
    table[eg.scripts.Action.SIT] = sit_cls()
    return table


class LineError(ValueError):
    """A script line that cannot be parsed."""


class GraphExecutor:
    """Executes VirtualHome script lines for character 0 on an environment graph.

    Objects are selected by the id in parentheses (the ``<name>`` is cosmetic). A line that
    cannot be executed leaves the graph unchanged and reports why.
    """

    def __init__(self, graph: dict, name_equivalence: dict | None = None):
        self._eg = evolving_graph()
        self._table = _executors(self._eg)
        self._name_equivalence = name_equivalence or {}
        self._executor_data: dict = {}
        self._load(graph)

    def _load(self, graph: dict) -> None:
        env = self._eg.environment
        self._dict = graph  # the graph as a dict, kept: to_dict() is the costliest call per step
        self._graph = env.EnvironmentGraph(graph)
        self._state = env.EnvironmentState(self._graph, self._name_equivalence, instance_selection=True)
        self._state.executor_data = self._executor_data
        chars = list(self._graph.get_nodes_by_attr("class_name", "character"))
        if not chars:
            raise ValueError("the scene graph has no node of class 'character'")
        self.char_id = min(n.id for n in chars)

    def graph(self) -> dict:
        """The current environment graph as a dict (shared: do not modify it)."""
        return self._dict

    def parse(self, line: str):
        """The package's ScriptLine for ``line``; raises LineError with the parser's reason."""
        try:
            return self._eg.scripts.parse_script_line(line, 0)
        except self._eg.scripts.ScriptParseException as exc:
            raise LineError(f"cannot parse script line {line!r}: {exc}") from None
        except ValueError as exc:  # a non-integer id in parentheses
            raise LineError(f"cannot parse script line {line!r}: {exc}") from None

    def _twosome_precheck(self, sl) -> str | None:
        env = self._eg.environment
        action = self._eg.scripts.Action
        for obj in sl.parameters:
            if self._state.get_node(obj.instance) is None:
                return f"no object with id {obj.instance} (written <{obj.name}>) in the scene"
        if sl.action in (action.SWITCHON, action.SWITCHOFF):
            held_r = self._state.get_node_ids_from(self.char_id, env.Relation.HOLDS_RH)
            held_l = self._state.get_node_ids_from(self.char_id, env.Relation.HOLDS_LH)
            if held_r and held_l:
                return f"<character> ({self.char_id}) does not have a free hand"
        return None

    def check(self, line: str) -> tuple[bool, str]:
        """Whether ``line`` is executable now, and if not why (the graph is not changed)."""
        return self._run(line, modify=False)

    def execute(self, line: str) -> tuple[bool, str]:
        """Execute ``line``; returns (executed, reason it was not). Unchanged graph on failure."""
        return self._run(line, modify=True)

    def _run(self, line: str, modify: bool) -> tuple[bool, str]:
        try:
            sl = self.parse(line)
        except LineError as exc:
            return False, str(exc)
        reason = self._twosome_precheck(sl)
        if reason is not None:
            return False, reason
        eg = self._eg
        info = eg.execution.ExecutionInfo()
        executor = self._table.get(sl.action)
        if executor is None:
            return False, f"action {sl.action.name} is not supported by the executor"
        try:
            states = executor.execute(eg.scripts.Script([sl]), self._state, info, 0, modify=modify)
            new_state = next(iter(states), None) if states is not None else None
        except eg.execution.ExecutionException as exc:
            return False, str(exc)
        except Exception as exc:  # noqa: BLE001 - the package asserts on odd graphs; the state is kept
            return False, f"the evolving-graph executor failed on {line!r}: {type(exc).__name__}: {exc}"
        finally:
            # The package records a timing entry per state change and never frees it.
            eg.common.TimeMeasurement.reset_all()
        if new_state is None:
            return False, info.get_error_string() or f"{line} is not executable"
        if modify:
            self._executor_data = new_state.executor_data
            self._load(new_state.to_dict())
        return True, ""
