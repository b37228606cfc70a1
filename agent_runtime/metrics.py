"""Episode metrics that need no simulator code."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def achievement_score(episodes: Sequence[Mapping[str, int]]) -> float:
    """The Crafter score over episodes' achievement counts (``info['achievements']``), in percent:
    ``exp(mean_a ln(1 + s_a)) - 1`` with ``s_a`` each achievement's success rate in percent, over the
    achievements the simulator reports (Crafter reports all 22 in every episode)."""
    names = sorted({a for e in episodes for a in e})
    if not names:
        return 0.0
    rates = [100.0 * sum(1 for e in episodes if e.get(a, 0) > 0) / len(episodes) for a in names]
    return math.exp(sum(math.log(1 + r) for r in rates) / len(rates)) - 1
