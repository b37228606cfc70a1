"""A CI-sized learning test on a real seed task: Tomato Salad, the default model, the task config's recipe.

Fixed seed (1), a short budget, and a sampled evaluation of the same fixed seeds before (the zero-shot
model) and after training. The bar: after training, success over the evaluation episodes is at least
SUCCESS_BAR and above the zero-shot model's, and the episodes are shorter. It can fail: the earlier
recipe (lr_actor 2e-4, 1 epoch) left the policy where it started (docs/results/README.md).

NOT YET CALIBRATED, so it runs only with AGENT_RUNTIME_LEARNING_TEST=1: on the shared development machine
(load 8-14 on 2 cores) one attempt did not get through the zero-shot evaluation in 27 minutes and was
stopped, and the recipe runs of docs/results/overcooked/recipe/ show seeds 2 and 4 losing success within
400 decisions. Expected cost on 2 idle cores, from issue 13's 0.56 s a decision: about 3 minutes of
training plus up to 2 x 2 minutes of evaluation (an evaluation chunk with a failing episode runs ~190
rounds). Calibrate the budget and the bar on an idle machine, then drop the skipif.

Session 3: the fast path (lora.top_layers 6) made such runs cheap (0.18 s a decision), but no recipe yet
learns Tomato Salad reliably (docs/results/overcooked/recipe/README.md: T6 collapsed on 3 of 3 seeds, T6f
held the zero-shot level without rising), so there is still no honest bar to set; the test stays gated.
"""

from __future__ import annotations

import os
import time

import pytest

from agent_runtime.config import load_config
from agent_runtime.evaluate import evaluate
from agent_runtime.trainer import Trainer, build_policy

DECISIONS = 320  # 5 updates of 4 envs x 16: 1 critic-only warm-up, then 4 policy updates
EVAL_SEEDS = list(range(1000, 1008))  # the kitchen is fixed; sampling is seeded by run.seed
SUCCESS_BAR = 0.9


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("AGENT_RUNTIME_LEARNING_TEST") != "1", reason="not yet calibrated (see the module docstring)")
def test_tomato_salad_success_rises_with_the_default_model(tmp_path):
    cfg = load_config(
        "overcooked-tomato-salad",
        ["env.in_process=true", f"run.output_dir={tmp_path}", "run.name=salad", "run.seed=1", "env.seed=1",
         f"run.total_decisions={DECISIONS}", "run.progress=false", "log.tensorboard=false", "checkpoint.every=0"],
    )  # fmt: skip
    policy = build_policy(cfg)  # a fresh LoRA adapter (B = 0): exactly the zero-shot model before training
    t0 = time.perf_counter()
    before = evaluate(cfg, "zero-shot", EVAL_SEEDS, policy=policy, greedy=False)
    t1 = time.perf_counter()
    Trainer(cfg, policy=policy).train()
    t2 = time.perf_counter()
    after = evaluate(cfg, "zero-shot", EVAL_SEEDS, policy=policy, greedy=False)  # the same object, now trained
    t3 = time.perf_counter()
    b, a = before.summary(), after.summary()
    msg = f"before {b}, after {a}; eval {t1 - t0:.0f}s + train {t2 - t1:.0f}s + eval {t3 - t2:.0f}s"
    print(msg)
    assert a["success_rate"] >= SUCCESS_BAR, msg
    assert a["success_rate"] > b["success_rate"], msg
    assert a["mean_length"] < b["mean_length"], msg
