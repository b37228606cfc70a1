"""GLAM's mixed single-room BabyAI tasks, on minigrid 3.2's level classes.

GLAM's BabyAI-MixedTrainLocal draws one of five kinds of mission per episode in
an 8x8 room with 8 distractors: go to X, pick up X, put X next to Y, open a
locked door (two rooms; the key lies in the agent's room), and "pick up X then
go to Y" (either order of words: "..., then ..." / "... after you ...").
Training leaves out missions that mention a yellow box, a red key, a red door,
a green ball or a grey door; MixedTestLocal keeps only those and adds
"pick up X then pick up Y".

Written for minigrid's ``RoomGridLevel``; the level generator may print on
rejection (the environment silences stdout around resets).
"""

from __future__ import annotations

from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    BeforeInstr,
    GoToInstr,
    Instr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

HELD_OUT = ("yellow box", "red key", "red door", "green ball", "grey door")
TRAIN_KINDS = ("goto", "pickup", "open", "putnext", "pickup_then_goto")
TEST_KINDS = TRAIN_KINDS + ("pickup_then_pickup",)
SPLITS = ("train", "test")


class MixedLocalKind(RoomGridLevel):
    """One kind of GLAM's mixed missions (the mix is drawn per episode by the caller)."""

    instrs: Instr

    def __init__(self, kind: str, split: str = "train", room_size: int = 8, num_dists: int = 8, **kwargs):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        kinds = TRAIN_KINDS if split == "train" else TEST_KINDS
        if kind not in kinds:
            raise ValueError(f"kind must be one of {kinds} for split {split!r}, got {kind!r}")
        self.kind = kind
        self.split = split
        self.num_dists = num_dists
        num_cols = 2 if kind == "open" else 1
        super().__init__(room_size=room_size, num_rows=1, num_cols=num_cols, **kwargs)

    def _pick(self, objs, not_like=None):
        """A random non-door object, different in description from ``not_like``
        unless several objects share that description."""
        while True:
            obj = self._rand_elem(objs)
            if obj.type == "door":
                continue
            if not_like is not None and (obj.type, obj.color) == (not_like.type, not_like.color):
                same = [o for o in objs if (o.type, o.color) == (obj.type, obj.color)]
                if len(same) < 2:
                    continue
            return obj

    def gen_mission(self) -> None:
        if self.kind == "open":
            colors = ["red", "grey"] if self.split == "test" else ["yellow", "green", "blue", "purple"]
            color = self._rand_elem(colors)
            locked_i = self._rand_int(0, 2)
            # Room 0's door 0 (its right wall) is the only door between the two rooms.
            self.add_door(0, 0, 0, color=color, locked=True)
            free_i = 1 - locked_i
            self.add_object(free_i, 0, "key", color)
            self.add_distractors(free_i, 0, num_distractors=self.num_dists, all_unique=False)
            self.place_agent(free_i, 0)
            self.check_objs_reachable()
            self.instrs = OpenInstr(ObjDesc("door", self._rand_elem([None, color])))
        else:
            self.place_agent()
            extra = {"goto": 1, "pickup": 1}.get(self.kind, 2)
            objs = self.add_distractors(num_distractors=self.num_dists + extra, all_unique=False)
            self.check_objs_reachable()
            if self.kind == "goto":
                obj = self._rand_elem(objs)
                self.instrs = GoToInstr(ObjDesc(obj.type, obj.color))
            elif self.kind == "pickup":
                obj = self._pick(objs)
                self.instrs = PickupInstr(ObjDesc(obj.type, obj.color))
            elif self.kind == "putnext":
                a = self._pick(objs)
                b = self._pick(objs, not_like=a)
                self.instrs = PutNextInstr(ObjDesc(a.type, a.color), ObjDesc(b.type, b.color))
            else:
                a = self._pick(objs)
                b = self._pick(objs, not_like=a)
                first = PickupInstr(ObjDesc(a.type, a.color))
                second = (GoToInstr if self.kind == "pickup_then_goto" else PickupInstr)(ObjDesc(b.type, b.color))
                if self._rand_bool():
                    self.instrs = BeforeInstr(first, second)
                else:
                    self.instrs = AfterInstr(second, first)

        surface = self.instrs.surface(self)
        held_out = any(s in surface for s in HELD_OUT)
        if self.split == "train" and held_out:
            raise RejectSampling("mission names a held-out object (train split)")
        if self.split == "test" and not held_out:
            raise RejectSampling("mission names no held-out object (test split)")
