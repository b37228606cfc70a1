"""BabyAI-Text skills: the six primitive actions, each one skill of one step.

GLAM (Carta et al., 2023) lets the LLM choose among the texts of minigrid's
first six actions; its generalisation tests swap those texts for synonyms or a
French translation while the meaning (the minigrid action) stays the same.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence

# minigrid's Actions enum: left=0, right=1, forward=2, pickup=3, drop=4, toggle=5 (done=6 unused).
MINIGRID_ACTIONS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)

ACTION_TEXTS: dict[str, tuple[str, ...]] = {
    # GLAM's training action space.
    "default": ("turn left", "turn right", "go forward", "pick up", "drop", "toggle"),
    # GLAM's "new action space" test: same meanings, words unseen in training.
    "synonyms": ("rotate left", "rotate right", "move ahead", "take", "release", "switch"),
    # GLAM's French translation of the actions.
    "french": ("tourner à gauche", "tourner à droite", "aller tout droit", "attraper", "lâcher", "basculer"),
}


def action_texts(actions: str | Sequence[str] | None, language: str = "english") -> list[str]:
    """The six skill texts for a preset name or an explicit list of six texts.

    ``None`` means the language's default (English or French).
    """
    if actions is None or actions == "default":
        return list(ACTION_TEXTS["french" if language == "french" else "default"])
    if isinstance(actions, str):
        if actions not in ACTION_TEXTS:
            raise ValueError(
                f"unknown action preset {actions!r}; known: {', '.join(sorted(ACTION_TEXTS))} or a list of six texts"
            )
        return list(ACTION_TEXTS[actions])
    texts = [str(a) for a in actions]
    if len(texts) != len(MINIGRID_ACTIONS):
        raise ValueError(
            f"actions must name {len(MINIGRID_ACTIONS)} texts (left, right, forward, pickup, "
            f"drop, toggle), got {len(texts)}: {texts}"
        )
    if len(set(texts)) != len(texts) or any(not t.strip() for t in texts):
        raise ValueError(f"action texts must be distinct and non-empty, got {texts}")
    return texts
