"""The Crafter score (geometric mean of success rates in percent) and success rates from episodes."""

from __future__ import annotations

import math

import pytest
from crafter import constants

from bridges.crafter.score import ACHIEVEMENTS, score, score_episodes, success_rates


def test_the_22_achievements_are_crafters():
    assert len(ACHIEVEMENTS) == 22
    assert set(ACHIEVEMENTS) == set(constants.achievements)


def test_score_on_known_rates():
    assert score({a: 100.0 for a in ACHIEVEMENTS}) == pytest.approx(100.0)
    assert score({}) == 0.0
    assert score({a: 0.0 for a in ACHIEVEMENTS}) == 0.0
    # One achievement always, the rest never: 101 ** (1/22) - 1.
    assert score({"collect_wood": 100.0}) == pytest.approx(101 ** (1 / 22) - 1) == pytest.approx(0.2334, abs=1e-4)
    # All at 50 %: the geometric mean of 51 is 51, less 1.
    assert score({a: 50.0 for a in ACHIEVEMENTS}) == pytest.approx(50.0)
    rates = {a: float(i * 4) for i, a in enumerate(ACHIEVEMENTS)}
    expected = math.exp(sum(math.log(1 + r) for r in rates.values()) / 22) - 1
    assert score(rates) == pytest.approx(expected)
    # Below the arithmetic mean: rare achievements weigh more.
    assert score(rates) < sum(rates.values()) / 22


def test_score_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown Crafter achievement"):
        score({"collect_gold": 10.0})
    with pytest.raises(ValueError, match=r"percentage in \[0, 100\]"):
        score({"collect_wood": 1.5e2 + 1})
    with pytest.raises(ValueError, match="percentage"):
        score({"collect_wood": -1.0})


def test_success_rates_from_episodes():
    eps = [
        {"collect_wood": 3, "place_table": 1},
        {"collect_wood": 1, "place_table": 0},
        {"collect_wood": 0},
        {},
    ]
    rates = success_rates(eps)
    assert rates["collect_wood"] == 50.0
    assert rates["place_table"] == 25.0
    assert rates["collect_diamond"] == 0.0
    assert set(rates) == set(ACHIEVEMENTS)
    assert score_episodes(eps) == pytest.approx(score(rates))
    with pytest.raises(ValueError, match="at least one episode"):
        success_rates([])
    with pytest.raises(ValueError, match="unknown"):
        success_rates([{"fly": 1}])
