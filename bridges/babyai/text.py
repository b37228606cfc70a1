"""BabyAI-Text wording: the agent's 7x7 view, the goal and GLAM's prompt, as text.

The wording follows BabyAI-Text (GLAM, Carta et al., ICML 2023):
"You carry a red key", "You see a wall 2 steps forward", "You see a red ball
1 step left and 2 steps forward", and its French version ("Tu vois une balle
rouge 1 pas à gauche et 2 pas devant"). Everything here is computed from the
encoded view (``gen_obs()['image']``, minigrid's (type, colour, state) triplets)
and from the instruction tree of a BabyAI level, so no rendering is involved.

A :class:`Lexicon` holds every word that can change between GLAM's test
variants: object nouns and colours (renamed to out-of-vocabulary or invented
words), and the language (English or French). Action texts live in
``skills.babyai``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# minigrid.core.constants (fixed by the encoding; copied as numbers so this module
# describes an image without importing minigrid).
_UNSEEN, _EMPTY, _WALL, _DOOR = 0, 1, 2, 4
IDX_TO_OBJECT = {3: "floor", 4: "door", 5: "key", 6: "ball", 7: "box", 8: "goal", 9: "lava", 10: "agent"}
IDX_TO_COLOR = {0: "red", 1: "green", 2: "blue", 3: "purple", 4: "yellow", 5: "grey"}
IDX_TO_STATE = {0: "open", 1: "closed", 2: "locked"}
CARRIABLE = {5, 6, 7}  # key, ball, box

COLORS = tuple(IDX_TO_COLOR.values())
NOUNS = ("key", "ball", "box")

LANGUAGES = ("english", "french")

# GLAM's generalisation tests rename words (post-training_tests.py, dict_modifier_*).
# Keys are the canonical (English, minigrid) names; values the words shown instead.
RENAME_PRESETS: dict[str, dict[str, dict[str, str]]] = {
    "english": {
        "ood_nouns": {"key": "chair", "ball": "table", "box": "car"},
        "ood_adjectives": {
            "red": "vermilion",
            "green": "jade",
            "blue": "cyan",
            "purple": "violet",
            "yellow": "golden",
            "grey": "silver",
        },
    },
    "french": {
        "ood_nouns": {"key": "chaise", "ball": "table", "box": "voiture"},
        "ood_adjectives": {
            "red": "vermilion",
            "green": "jade",
            "blue": "cyan",
            "purple": "mauve",
            "yellow": "dorée",
            "grey": "argent",
        },
    },
}
_INVENTED_NOUNS = {"key": "dax", "ball": "xolo", "box": "afze"}
_INVENTED_ADJS = {"red": "faze", "green": "jatu", "blue": "croh", "purple": "vurst", "yellow": "gakul", "grey": "sil"}
for _lang in LANGUAGES:
    RENAME_PRESETS[_lang]["invented_nouns"] = dict(_INVENTED_NOUNS)
    RENAME_PRESETS[_lang]["invented_adjectives"] = dict(_INVENTED_ADJS)
    RENAME_PRESETS[_lang]["invented_words"] = {**_INVENTED_NOUNS, **_INVENTED_ADJS}

_FR_NOUNS = {
    "key": "clef",
    "ball": "balle",
    "box": "boîte",
    "door": "porte",
    "wall": "mur",
    "object": "objet",
    "floor": "sol",
    "goal": "but",
    "lava": "lave",
}
_FR_MASCULINE = {"object", "wall", "floor", "goal"}
# GLAM's French colours are feminine (all its nouns are); masculine forms for "objet".
_FR_COLORS_F = {
    "red": "rouge",
    "green": "verte",
    "blue": "bleue",
    "purple": "violette",
    "yellow": "jaune",
    "grey": "grise",
}
_FR_COLORS_M = {"red": "rouge", "green": "vert", "blue": "bleu", "purple": "violet", "yellow": "jaune", "grey": "gris"}
_FR_STATES = {"open": "ouverte", "closed": "fermée", "locked": "fermée à clef"}


@dataclass
class Lexicon:
    """The words of one language, after renaming (GLAM's test variants).

    ``rename`` maps canonical names (minigrid's: "key", "ball", "box", "red", ...)
    to the words to show instead, or names a preset of :data:`RENAME_PRESETS`.
    """

    language: str = "english"
    rename: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        unknown = set(self.rename) - set(COLORS) - set(NOUNS) - {"door"}
        if unknown:
            raise ValueError(
                f"rename can only change colours {COLORS}, nouns {NOUNS} or 'door'; unknown keys: {sorted(unknown)}"
            )
        bad = {k: v for k, v in self.rename.items() if not isinstance(v, str) or not v.strip()}
        if bad:
            raise ValueError(f"rename values must be non-empty words, got {bad}")
        self.french = self.language == "french"

    # -- words -------------------------------------------------------------
    def noun(self, name: str) -> str:
        if name in self.rename:
            return self.rename[name]
        return _FR_NOUNS.get(name, name) if self.french else name

    def color(self, name: str, masculine: bool = False) -> str:
        if name in self.rename:
            return self.rename[name]
        if self.french:
            return (_FR_COLORS_M if masculine else _FR_COLORS_F).get(name, name)
        return name

    def state(self, name: str) -> str:
        return _FR_STATES[name] if self.french else name

    # -- prompt heads --------------------------------------------------------
    @property
    def actions_head(self) -> str:
        return "Actions possibles pour l'agent:" if self.french else "Possible action of the agent:"

    @property
    def goal_head(self) -> str:
        return "But de l'agent:" if self.french else "Goal of the agent:"


def make_lexicon(language: str = "english", rename: str | Mapping[str, str] | None = None) -> Lexicon:
    """A lexicon from a language and a rename preset name (or an explicit map)."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    if rename is None or rename == "none":
        return Lexicon(language)
    if isinstance(rename, str):
        presets = RENAME_PRESETS[language]
        if rename not in presets:
            raise ValueError(
                f"unknown rename preset {rename!r}; known: none, {', '.join(sorted(presets))} "
                "or a map such as {key: chair}"
            )
        return Lexicon(language, dict(presets[rename]))
    return Lexicon(language, dict(rename))


# ---------------------------------------------------------------------------
# The view
# ---------------------------------------------------------------------------
def _steps(n: int, where: str, lex: Lexicon) -> str:
    if lex.french:
        return f"{n} pas {where}"
    return f"{n} step{'s' if n > 1 else ''} {where}"


def _where(lex: Lexicon, side: str) -> str:
    if lex.french:
        return {"left": "à gauche", "right": "à droite", "forward": "devant"}[side]
    return side


def describe_view(image: np.ndarray | Sequence, lex: Lexicon) -> list[str]:
    """GLAM's descriptions of an encoded egocentric view (width x height x 3).

    The agent stands at (width // 2, height - 1) looking towards row 0; the cell
    it stands on holds what it carries. Order as in BabyAI-Text: what is carried,
    the walls straight ahead / left / right (only when nothing stands between),
    then every seen object column by column, far to near.
    """
    cells = image.tolist() if isinstance(image, np.ndarray) else image  # plain ints: fast to read
    w, h = len(cells), len(cells[0])
    ax, ay = w // 2, h - 1
    out: list[str] = []

    ct, cc, _ = cells[ax][ay]
    if ct in CARRIABLE:
        noun, color = IDX_TO_OBJECT[ct], IDX_TO_COLOR.get(cc, "")
        if lex.french:
            out.append(f"Tu portes une {lex.noun(noun)} {lex.color(color)}")
        else:
            out.append(f"You carry a {lex.color(color)} {lex.noun(noun)}")

    # A wall is named only if it is the first thing seen along the straight line.
    for side, line in (
        ("forward", ((ax, j) for j in range(ay - 1, -1, -1))),
        ("left", ((i, ay) for i in range(ax - 1, -1, -1))),
        ("right", ((i, ay) for i in range(ax + 1, w))),
    ):
        for i, j in line:
            t = cells[i][j][0]
            if t == _UNSEEN or t == _EMPTY:
                continue
            if t == _WALL:
                n = (ay - j) if side == "forward" else abs(i - ax)
                if lex.french:
                    out.append(f"Tu vois un mur à {n} pas {_where(lex, side)}")
                else:
                    out.append(f"You see a wall {_steps(n, side, lex)}")
            break

    # Column by column (left to right), far to near, as BabyAI-Text lists them.
    for i in range(w):
        column = cells[i]
        for j in range(h):
            t, c, s = column[j]
            if t <= _WALL or (i == ax and j == ay):
                continue
            noun = IDX_TO_OBJECT.get(t, str(t))
            color = IDX_TO_COLOR.get(c, "")
            dx, dy = i - ax, ay - j
            side = "right" if dx > 0 else "left"
            if dx == 0:
                parts = [_steps(dy, _where(lex, "forward"), lex)]
            elif dy == 0:
                parts = [_steps(abs(dx), _where(lex, side), lex)]
            else:
                parts = [_steps(abs(dx), _where(lex, side), lex), _steps(dy, _where(lex, "forward"), lex)]
            where = (" et " if lex.french else " and ").join(parts)
            if lex.french:
                what = f"une {lex.noun(noun)} {lex.color(color)}"
                if t == _DOOR:
                    what += f" {lex.state(IDX_TO_STATE.get(s, 'closed'))}"
                out.append(f"Tu vois {what} {where}")
            else:
                if t == _DOOR:
                    state = IDX_TO_STATE.get(s, "closed")
                    art = "an" if state == "open" else "a"
                    what = f"{art} {state} {lex.color(color)} {lex.noun(noun)}"
                else:
                    what = f"a {lex.color(color)} {lex.noun(noun)}"
                out.append(f"You see {what} {where}")
    return out


# ---------------------------------------------------------------------------
# The goal (from a BabyAI instruction tree)
# ---------------------------------------------------------------------------
_EN_LOC = {"front": "in front of you", "behind": "behind you", "left": "on your left", "right": "on your right"}
_FR_LOC = {"front": "devant toi", "behind": "derrière toi", "left": "à ta gauche", "right": "à ta droite"}


def _desc(desc, lex: Lexicon, unique: bool) -> str:
    kind = desc.type or "object"
    if lex.french:
        masc = kind in _FR_MASCULINE and kind not in lex.rename
        s = lex.noun(kind)
        if desc.color:
            s += " " + lex.color(desc.color, masculine=masc)
        if desc.loc:
            s += " " + _FR_LOC[desc.loc]
        if unique:
            # Only the built-in "objet" elides; renamed nouns keep GLAM's "la".
            return ("l'" if masc and s.startswith("objet") else ("le " if masc else "la ")) + s
        return ("un " if masc else "une ") + s
    s = lex.noun(kind)
    if desc.color:
        s = lex.color(desc.color) + " " + s
    if desc.loc:
        s += " " + _EN_LOC[desc.loc]
    return ("the " if unique else "a ") + s


def _fr_de(phrase: str) -> str:
    """French "de" + noun phrase, with the contractions."""
    if phrase.startswith("le "):
        return "du " + phrase[3:]
    if phrase.startswith("une ") or phrase.startswith("un ") or phrase.startswith("l'"):
        return "d'" + phrase
    return "de " + phrase


class GoalWriter:
    """Writes a BabyAI instruction as text; the article ("the" / "a") depends on how
    many objects match each description, so call it right after reset, as minigrid does."""

    def __init__(self, lex: Lexicon):
        self.lex = lex

    def __call__(self, instr, env) -> str:
        return self._write(instr, env, perfect=False)

    def _obj(self, desc, env) -> str:
        objs, _ = desc.find_matching_objs(env)
        if not objs:
            raise ValueError(f"no object matches the description {desc}")
        return _desc(desc, self.lex, unique=len(objs) == 1)

    def _write(self, instr, env, perfect: bool) -> str:
        name = type(instr).__name__
        fr = self.lex.french
        if name == "GoToInstr":
            x = self._obj(instr.desc, env)
            if fr:
                return ("être allé à " if perfect else "aller à ") + x
            return "go to " + x
        if name == "PickupInstr":
            x = self._obj(instr.desc, env)
            if fr:
                return ("avoir attrapé " if perfect else "attraper ") + x
            return "pick up " + x
        if name == "OpenInstr":
            x = self._obj(instr.desc, env)
            if fr:
                return ("avoir ouvert " if perfect else "ouvrir ") + x
            return "open " + x
        if name == "PutNextInstr":
            a, b = self._obj(instr.desc_move, env), self._obj(instr.desc_fixed, env)
            if fr:
                return ("avoir mis " if perfect else "mettre ") + a + " à côté " + _fr_de(b)
            return f"put {a} next to {b}"
        if name == "AndInstr":
            join = " et " if fr else " and "
            return self._write(instr.instr_a, env, perfect) + join + self._write(instr.instr_b, env, perfect)
        if name == "BeforeInstr":
            then = ", puis " if fr else ", then "
            return self._write(instr.instr_a, env, False) + then + self._write(instr.instr_b, env, False)
        if name == "AfterInstr":
            if fr:
                return self._write(instr.instr_a, env, False) + " après " + self._write(instr.instr_b, env, True)
            return self._write(instr.instr_a, env, False) + " after you " + self._write(instr.instr_b, env, False)
        raise ValueError(f"cannot write instruction of type {name}")


# ---------------------------------------------------------------------------
# GLAM's prompt
# ---------------------------------------------------------------------------
class PromptHistory:
    """The last ``n_obs`` observations and the ``n_obs - 1`` actions between them.

    GLAM keeps 3 observations; the window is cleared at every episode start.
    """

    def __init__(self, n_obs: int = 3):
        if n_obs < 1:
            raise ValueError(f"history (number of observations in the prompt) must be >= 1, got {n_obs}")
        self.n_obs = n_obs
        self.obs: deque[list[str]] = deque(maxlen=n_obs)
        self.actions: deque[str] = deque(maxlen=max(n_obs - 1, 0))

    def clear(self) -> None:
        self.obs.clear()
        self.actions.clear()

    def push_observation(self, descriptions: Sequence[str]) -> None:
        self.obs.append(list(descriptions))

    def push_action(self, action: str) -> None:
        if self.n_obs > 1:
            self.actions.append(action)


def glam_prompt(lex: Lexicon, skills: Iterable[str], goal: str, history: PromptHistory) -> str:
    """GLAM's prompt: actions, goal, then ``Observation i: ...`` / ``Action i:`` pairs.

    Layout as in GLAM's ``generate_prompt`` (`` \\n `` separators, each description
    followed by ", "); the text ends with ``Action N:`` *without* GLAM's trailing
    space, so the scorer puts the boundary space in front of the action text.
    """
    parts = [f"{lex.actions_head} " + ", ".join(skills), f" \n {lex.goal_head} {goal}"]
    acts = list(history.actions)
    for i, descs in enumerate(history.obs):
        parts.append(f" \n Observation {i}: " + "".join(f"{d}, " for d in descs))
        parts.append(f"\n Action {i}: " + (acts[i] if i < len(acts) else ""))
    return "".join(parts).rstrip(" ")
