"""The argv filter that relaunched runs use: torchrun's ranks drop --nproc, `run --tui`'s child the TUI flags."""

from __future__ import annotations

import pytest

from agent_runtime.cli import NPROC_FLAGS, TUI_FLAGS, _without_flags


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["run", "--nproc", "2", "--set", "a=b"], ["run", "--set", "a=b"]),
        (["run", "--nproc=2", "--set", "a=b"], ["run", "--set", "a=b"]),
        (["run", "--set", "a=b", "--nproc", "4"], ["run", "--set", "a=b"]),
        (["run", "--nproc", "-1", "--tui"], ["run", "--tui"]),  # a value is taken whatever it looks like
        (["run", "--nprocs=2", "--tui"], ["run", "--nprocs=2", "--tui"]),  # another flag: kept
    ],
)
def test_nproc_dropped_in_both_forms(argv, kept):
    assert _without_flags(argv, NPROC_FLAGS) == kept


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["run", "--tui", "--nproc", "2"], ["run", "--nproc", "2"]),
        (["run", "--tui-public", "--tui-web", "0.0.0.0:8080", "--x"], ["run", "--x"]),
        (["run", "--tui-web=0.0.0.0:8080", "--tui-public", "--x"], ["run", "--x"]),
        (["run", "--tui-web", "--set", "a=b"], ["run", "--set", "a=b"]),  # no HOST:PORT: the next flag is kept
        (["run", "--tui-web"], ["run"]),
        (["run", "--tui=1", "--tui-webx"], ["run", "--tui=1", "--tui-webx"]),  # not the flags: kept
    ],
)
def test_tui_flags_dropped_with_and_without_values(argv, kept):
    assert _without_flags(argv, TUI_FLAGS) == kept
