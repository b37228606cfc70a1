"""Scene graphs and resource data for the symbolic VirtualHome mode.

A data folder has VirtualHome's layout: ``scenes/<name>.json`` (an environment graph:
``{"nodes": [...], "edges": [...]}``) and optionally ``resources/properties_data.json``
(class name -> property names; fills the ``properties`` of nodes that lack them) and
``resources/class_name_equivalence.json`` (script name -> equivalent class names).
The project ships its own small folder (``data/``, scene ``twosome_home``, written for the
TWOSOME tasks with the ids of their scene); a VirtualHome data folder (``vh_data``) can be
used instead, e.g. one holding TWOSOME's ``turn_on_tv.json``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_SCENE = "twosome_home"
PREFERRED_SCENES = ("twosome_home", "turn_on_tv")
RELATIONS = {"ON", "INSIDE", "BETWEEN", "CLOSE", "FACING", "HOLDS_RH", "HOLDS_LH", "SITTING"}


@dataclass
class Scene:
    """An environment graph with its resource data."""

    name: str
    path: Path
    graph: dict
    name_equivalence: dict = field(default_factory=dict)

    def fresh_graph(self) -> dict:
        """A deep copy of the initial graph (episodes must not share state)."""
        return copy.deepcopy(self.graph)


def _read_json(path: Path, what: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path} is not valid JSON: {exc}") from None


def _pick_scene(folder: Path, scene: str | None) -> Path:
    scenes_dir = folder / "scenes"
    if not scenes_dir.is_dir():
        raise FileNotFoundError(f"VirtualHome data folder {folder} has no scenes/ subfolder")
    available = sorted(p.stem for p in scenes_dir.glob("*.json"))
    if not available:
        raise FileNotFoundError(f"{scenes_dir} holds no scene (*.json)")
    if scene is None:
        preferred = [s for s in PREFERRED_SCENES if s in available]
        if preferred:
            scene = preferred[0]
        elif len(available) == 1:
            scene = available[0]
        else:
            raise ValueError(f"{scenes_dir} holds several scenes; pick one with scene=NAME: {', '.join(available)}")
    name = scene[:-5] if scene.endswith(".json") else scene
    if name not in available:
        raise FileNotFoundError(f"no scene {name!r} in {scenes_dir}; available: {', '.join(available)}")
    return scenes_dir / f"{name}.json"


def validate_graph(graph: dict, where: str) -> None:
    """Raise ValueError naming the first problem of a malformed environment graph."""
    if not (isinstance(graph, dict) and isinstance(graph.get("nodes"), list) and isinstance(graph.get("edges"), list)):
        raise ValueError(f"{where}: a scene graph is a map with 'nodes' and 'edges' lists")
    ids = set()
    for n in graph["nodes"]:
        for key in ("id", "class_name", "properties", "states"):
            if key not in n:
                raise ValueError(f"{where}: node {n.get('id', n)!r} has no {key!r}")
        ids.add(n["id"])
    for e in graph["edges"]:
        if e.get("from_id") not in ids or e.get("to_id") not in ids:
            raise ValueError(f"{where}: edge {e} names a node that is not in the graph")
        if e.get("relation_type", "").upper() not in RELATIONS:
            raise ValueError(f"{where}: edge {e} has an unknown relation_type")


def load_scene(vh_data: str | Path | None = None, scene: str | None = None) -> Scene:
    """Load a scene from ``vh_data`` (a VirtualHome data folder) or the project's own data."""
    folder = Path(vh_data).expanduser() if vh_data else DATA_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"VirtualHome data folder {folder} does not exist")
    path = _pick_scene(folder, scene)
    graph = _read_json(path, "scene")
    props_path = folder / "resources" / "properties_data.json"
    props = _read_json(props_path, "resource") if props_path.is_file() else {}
    for n in graph.get("nodes", []) if isinstance(graph, dict) else []:
        if "properties" not in n and "class_name" in n:
            n["properties"] = list(props.get(n["class_name"], []))
        n.setdefault("states", [])
    validate_graph(graph, str(path))
    eq_path = folder / "resources" / "class_name_equivalence.json"
    name_eq = _read_json(eq_path, "resource") if eq_path.is_file() else {}
    return Scene(name=path.stem, path=path, graph=graph, name_equivalence=name_eq)
