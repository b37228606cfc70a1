"""The real Overcooked simulator (overcooked-ai 1.1.0) as a skill bridge; runs in .venv-overcooked_ai/."""
