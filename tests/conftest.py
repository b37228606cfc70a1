"""Shared fixtures: tiny models built from configs (fast), the real default model (slow)."""

from __future__ import annotations

import os
import warnings

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture(scope="session")
def tiny_lm():
    from agent_runtime.models import load_model

    return load_model("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_t5():
    from agent_runtime.models import load_model

    return load_model("tiny-t5", seed=0)


@pytest.fixture(scope="session")
def default_lm():
    from agent_runtime.models import load_model

    return load_model()
