"""``agent-runtime bench`` finds its scripts in a source checkout, and says so where there is none (a wheel)."""

from __future__ import annotations

from agent_runtime import cli


def test_without_a_benchmarks_folder_one_line_says_it_needs_a_source_checkout(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "BENCHMARKS", tmp_path / "site-packages" / "benchmarks")  # as in an installed wheel
    assert cli.main(["bench", "scoring", "--seconds", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("agent-runtime: bench: the installed package") and str(tmp_path / "site-packages") in err
    assert "need a source checkout" in err and "`python -m agent_runtime.cli bench scoring` from its root" in err


def test_in_the_checkout_an_unknown_name_lists_the_benchmarks(capsys):
    assert cli.BENCHMARKS.is_dir()
    assert cli.main(["bench", "no-such-benchmark"]) == 2
    err = capsys.readouterr().err
    assert "no benchmark 'no-such-benchmark'; available:" in err and "scoring" in err and "ppo_update" in err
