"""TextWorld (Microsoft's text-game generator) as a simulator: ``pip install agent-runtime[textworld]``."""
