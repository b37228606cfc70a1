"""TWOSOME's VirtualHome tasks: objects, partial observation, binary flags, success.

Follows ``shared/specs/virtualhome-tasks.md``. Standard library only; the graph is the plain
dict form (``{"nodes": [...], "edges": [...]}``) that both the symbolic executor and the Unity
simulator's ``environment_graph()`` produce.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skills import virtualhome as sk

ROOMS = ("kitchen", "bathroom", "bedroom", "livingroom")
MAX_STEPS = 50


@dataclass(frozen=True)
class Task:
    """One task: its skills, the scene objects they name, flags, text/mask rules and success."""

    name: str
    goal: str
    skills: tuple[sk.Skill, ...]
    flag_names: tuple[str, ...]
    # role -> (class_name, occurrence): TWOSOME takes the first node of the class in file
    # order, except the sofa, which is the third.
    roles: dict[str, tuple[str, int]]
    flags: Callable[[dict, dict[str, int], int], dict[str, int]]
    text: Callable[[dict[str, int]], tuple[str, list[int]]]
    success: Callable[[dict[str, int]], bool]
    max_steps: int = MAX_STEPS


# --------------------------------------------------------------------------- observation


def visible_graph(graph: dict, char_id: int) -> dict:
    """The character's masked view of ``graph`` (spec §2.1).

    Nodes: everything transitively INSIDE the character's room, except objects INSIDE a
    container that is not OPEN; the room nodes; what the character holds. Edges: those with
    both ends visible.
    """
    nodes = {n["id"]: n for n in graph["nodes"]}
    rooms = {i for i, n in nodes.items() if n.get("category") == "Rooms"}
    inside: dict[int, set[int]] = {}
    contents: dict[int, set[int]] = {}
    held: set[int] = set()
    for e in graph["edges"]:
        rel = e["relation_type"]
        if rel == "INSIDE":
            inside.setdefault(e["from_id"], set()).add(e["to_id"])
            contents.setdefault(e["to_id"], set()).add(e["from_id"])
        elif rel in ("HOLDS_RH", "HOLDS_LH") and e["from_id"] == char_id:
            held.add(e["to_id"])
    char_rooms = sorted(inside.get(char_id, set()) & rooms)
    if not char_rooms:
        raise ValueError(f"the character (id {char_id}) is INSIDE no room in the graph")
    seen: set[int] = set()
    frontier = [char_rooms[0]]
    while frontier:
        container = frontier.pop()
        for obj in contents.get(container, ()):
            if obj not in seen and obj not in rooms:
                seen.add(obj)
                frontier.append(obj)

    def hidden(obj: int) -> bool:
        return any(c not in rooms and "OPEN" not in nodes[c].get("states", ()) for c in inside.get(obj, ()))

    visible = {o for o in seen if not hidden(o)} | rooms | held
    return {
        "nodes": [nodes[i] for i in nodes if i in visible],
        "edges": [e for e in graph["edges"] if e["from_id"] in visible and e["to_id"] in visible],
    }


class _View:
    """Lookups on a masked graph."""

    def __init__(self, masked: dict, char_id: int):
        self.char = char_id
        self.nodes = {n["id"]: n for n in masked["nodes"]}
        self.edges = {(e["from_id"], e["relation_type"], e["to_id"]) for e in masked["edges"]}

    def see(self, i: int) -> int:
        return int(i in self.nodes)

    def edge(self, a: int, rel: str, b: int) -> int:
        return int((a, rel, b) in self.edges)

    def close(self, i: int) -> int:
        return self.edge(self.char, "CLOSE", i)

    def hold(self, i: int) -> int:
        return int(self.edge(self.char, "HOLDS_RH", i) or self.edge(self.char, "HOLDS_LH", i))

    def state(self, i: int, s: str) -> int:
        return int(i in self.nodes and s in self.nodes[i].get("states", ()))

    def rooms(self, ids: dict[str, int]) -> dict[str, int]:
        return {f"in_{r}": self.edge(self.char, "INSIDE", ids[r]) for r in ROOMS}


def food_flags(masked: dict, ids: dict[str, int], char_id: int) -> dict[str, int]:
    """The 11 Food Preparation flags (§3.2)."""
    v = _View(masked, char_id)
    p, m = ids["pancake"], ids["microwave"]
    return {
        **v.rooms(ids),
        "see_pancake": v.see(p),
        "close_to_pancake": v.close(p),
        "hold_pancake": v.hold(p),
        "see_microwave": v.see(m),
        "close_to_microwave": v.close(m),
        "is_microwave_open": v.state(m, "OPEN"),
        "pancake_in_microwave": v.edge(p, "INSIDE", m),
    }


def entertainment_flags(masked: dict, ids: dict[str, int], char_id: int) -> dict[str, int]:
    """The 21 Entertainment flags (§4.2)."""
    v = _View(masked, char_id)
    c, m, tv, sofa, table = ids["chips"], ids["milk"], ids["tv"], ids["sofa"], ids["coffeetable"]
    return {
        **v.rooms(ids),
        "see_chips": v.see(c),
        "close_to_chips": v.close(c),
        "hold_chips": v.hold(c),
        "chips_on_coffeetable": v.edge(c, "ON", table),
        "see_milk": v.see(m),
        "close_to_milk": v.close(m),
        "hold_milk": v.hold(m),
        "milk_on_coffeetable": v.edge(m, "ON", table),
        "see_tv": v.see(tv),
        "close_to_tv": v.close(tv),
        "is_face_tv": v.edge(char_id, "FACING", tv),
        "is_tv_on": v.state(tv, "ON"),
        "see_sofa": v.see(sofa),
        "close_to_sofa": v.close(sofa),
        "is_sit_sofa": v.edge(char_id, "ON", sofa),
        "see_coffeetable": v.see(table),
        "close_to_coffeetable": v.close(table),
    }


def food_success(f: dict[str, int]) -> bool:
    """In the kitchen and the pancake out of sight (it is in the closed microwave)."""
    return bool(f["in_kitchen"] and not f["see_pancake"])


def entertainment_success(f: dict[str, int]) -> bool:
    """Sitting on the sofa facing the TV that is on, chips and milk at hand or on the table."""
    return bool(
        f["in_livingroom"]
        and f["is_face_tv"]
        and f["is_tv_on"]
        and f["is_sit_sofa"]
        and (f["close_to_milk"] or f["milk_on_coffeetable"])
        and (f["close_to_chips"] or f["chips_on_coffeetable"])
    )


# --------------------------------------------------------------------------- registry

_ROOM_ROLES = {r: (r, 0) for r in ROOMS}


def _food(variant: str) -> Task:
    words = sk.FOOD_VARIANTS[variant]
    name = "food-preparation" if variant == "pancake" else f"food-preparation-{variant}"
    return Task(
        name=name,
        goal=f"heat up the {words.food} in the {words.appliance}",
        skills=tuple(sk.food_skills(words)),
        flag_names=sk.FOOD_FLAGS,
        roles={**_ROOM_ROLES, "pancake": ("pancake", 0), "microwave": ("microwave", 0)},
        flags=food_flags,
        text=lambda f: sk.food_text(f, words),
        success=food_success,
    )


def _entertainment() -> Task:
    return Task(
        name="entertainment",
        goal="enjoy the chips and the milk while watching TV",
        skills=tuple(sk.entertainment_skills()),
        flag_names=sk.ENT_FLAGS,
        roles={
            **_ROOM_ROLES,
            "chips": ("chips", 0),
            "milk": ("milk", 0),
            "tv": ("tv", 0),
            "sofa": ("sofa", 2),
            "coffeetable": ("coffeetable", 0),
        },
        flags=entertainment_flags,
        text=sk.entertainment_text,
        success=entertainment_success,
    )


def task_names() -> list[str]:
    """All task names: the two tasks and the Food Preparation variants."""
    return ["food-preparation", "entertainment"] + [f"food-preparation-{v}" for v in sk.FOOD_VARIANTS if v != "pancake"]


def get_task(name: str, variant: str | None = None) -> Task:
    """A task by name; ``variant`` (Food Preparation only) picks the unseen-task words."""
    if name == "entertainment":
        if variant not in (None, ""):
            raise ValueError(f"task 'entertainment' has no variants (got variant={variant!r})")
        return _entertainment()
    if name.startswith("food-preparation"):
        from_name = name[len("food-preparation-") :] if name != "food-preparation" else None
        if from_name and variant and from_name != variant:
            raise ValueError(f"task {name!r} conflicts with variant={variant!r}")
        v = from_name or variant or "pancake"
        if v not in sk.FOOD_VARIANTS:
            raise ValueError(f"unknown Food Preparation variant {v!r}; known: {', '.join(sk.FOOD_VARIANTS)}")
        return _food(v)
    raise ValueError(f"unknown VirtualHome task {name!r}; known tasks: {', '.join(task_names())}")


def resolve_ids(graph: dict, roles: dict[str, tuple[str, int]]) -> dict[str, int]:
    """Node id of each role: the n-th node of its class in the graph's node order."""
    by_class: dict[str, list[int]] = {}
    for n in graph["nodes"]:
        by_class.setdefault(n["class_name"], []).append(n["id"])
    ids, missing = {}, []
    for role, (cls, nth) in roles.items():
        found = by_class.get(cls, [])
        if len(found) <= nth:
            missing.append(f"{role} (node #{nth + 1} of class {cls!r}; the scene has {len(found)})")
        else:
            ids[role] = found[nth]
    if missing:
        raise ValueError("the scene lacks objects the task needs: " + "; ".join(missing))
    return ids
