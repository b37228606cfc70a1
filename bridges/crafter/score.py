"""The Crafter score (Hafner, 2021): geometric mean of the 22 achievements' success rates.

Pure Python, so the runtime can score episodes without importing ``crafter``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# The 22 achievements, as in crafter's data.yaml (alphabetical there too).
ACHIEVEMENTS: tuple[str, ...] = (
    "collect_coal",
    "collect_diamond",
    "collect_drink",
    "collect_iron",
    "collect_sapling",
    "collect_stone",
    "collect_wood",
    "defeat_skeleton",
    "defeat_zombie",
    "eat_cow",
    "eat_plant",
    "make_iron_pickaxe",
    "make_iron_sword",
    "make_stone_pickaxe",
    "make_stone_sword",
    "make_wood_pickaxe",
    "make_wood_sword",
    "place_furnace",
    "place_plant",
    "place_stone",
    "place_table",
    "wake_up",
)


def score(success_rates: Mapping[str, float]) -> float:
    """Crafter score in percent: ``exp(mean_i ln(1 + s_i)) - 1`` over the 22 achievements.

    ``success_rates`` maps achievement name -> success rate in percent (0..100);
    an achievement left out counts as 0 %. Unknown names or rates outside
    [0, 100] raise ValueError.
    """
    unknown = sorted(set(success_rates) - set(ACHIEVEMENTS))
    if unknown:
        raise ValueError(f"unknown Crafter achievement(s): {', '.join(unknown)}")
    total = 0.0
    for name in ACHIEVEMENTS:
        s = float(success_rates.get(name, 0.0))
        if not 0.0 <= s <= 100.0 or math.isnan(s):
            raise ValueError(f"success rate of {name} must be a percentage in [0, 100], got {s}")
        total += math.log(1.0 + s)
    return math.exp(total / len(ACHIEVEMENTS)) - 1.0


def success_rates(episodes: Iterable[Mapping[str, int]]) -> dict[str, float]:
    """Per-achievement success rate in percent: share of episodes where its count was > 0.

    Each episode is the ``achievements`` dict (name -> count) at its end.
    """
    episodes = list(episodes)
    if not episodes:
        raise ValueError("success_rates needs at least one episode")
    for ep in episodes:
        unknown = sorted(set(ep) - set(ACHIEVEMENTS))
        if unknown:
            raise ValueError(f"unknown Crafter achievement(s) in an episode: {', '.join(unknown)}")
    n = len(episodes)
    return {name: 100.0 * sum(1 for ep in episodes if ep.get(name, 0) > 0) / n for name in ACHIEVEMENTS}


def score_episodes(episodes: Iterable[Mapping[str, int]]) -> float:
    """The Crafter score of a list of episodes' final achievement dicts."""
    return score(success_rates(episodes))
