"""Crafter bridge: text observations, a skill library and the Crafter score over the real ``crafter`` package."""
