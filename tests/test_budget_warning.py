"""A run.total_decisions that is not whole PPO updates: one warning at start naming what the run will do."""

from __future__ import annotations

import logging

from agent_runtime.config import load_config
from agent_runtime.trainer import Trainer, budget_warning

TINY = ["model.name=tiny", "model.dtype=fp32", "run.progress=false", "log.tensorboard=false", "env.in_process=true"]


def test_the_message_names_the_budget_and_how_an_update_is_made():
    two_ranks = budget_warning(64, world=2, num_envs=8, num_steps=8)  # run --nproc 2 --total-decisions 64 (toy)
    assert two_ranks == (
        "run.total_decisions=64 is smaller than one update's rollout of 128 decisions (2 ranks x 8 envs x 8 steps): "
        "the run takes 1 update(s), 128 decisions"
    )
    one = budget_warning(100, world=1, num_envs=8, num_steps=8)
    assert one is not None and "not a multiple of one update's rollout of 64 decisions (8 envs x 8 steps)" in one
    assert "ranks" not in one and one.endswith("2 update(s), 128 decisions")
    assert budget_warning(128, world=2, num_envs=8, num_steps=8) is None
    assert budget_warning(192, world=1, num_envs=8, num_steps=8) is None


def _trainer(tmp_path, total: int) -> Trainer:
    extra = ["env.num_envs=2", "run.num_steps=4", "ppo.update_epochs=1", f"run.total_decisions={total}"]
    return Trainer(load_config("toy", [*TINY, f"run.output_dir={tmp_path}", f"run.name=t{total}", *extra]))


def test_a_one_process_run_warns_once_at_start_and_runs_whole_updates(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="agent_runtime"):
        t = _trainer(tmp_path, 12)
        at_start = [r.getMessage() for r in caplog.records if "run.total_decisions" in r.getMessage()]
        assert at_start == [
            "run.total_decisions=12 is not a multiple of one update's rollout of 8 decisions (2 envs x 4 steps): "
            "the run takes 2 update(s), 16 decisions"
        ]
        out = t.train()
    assert out["counters"]["decisions"] == 16 and out["counters"]["updates"] == 2  # what the warning said
    assert sum("run.total_decisions" in r.getMessage() for r in caplog.records) == 1


def test_whole_updates_give_no_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="agent_runtime"):
        _trainer(tmp_path, 16).close()
    assert "run.total_decisions" not in caplog.text
