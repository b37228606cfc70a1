"""TWOSOME's Overcooked salad kitchen (Tomato Salad, Tomato-Lettuce Salad) as a skill environment."""

from bridges.overcooked.env import SaladEnv, make_env

__all__ = ["SaladEnv", "make_env"]
