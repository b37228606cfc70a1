"""BabyAI-Text (GLAM) over the real minigrid package: ``make_env`` lives in ``bridges.babyai.env``."""
