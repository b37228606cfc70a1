"""A CI-sized learning test on a real seed task: Tomato Salad, the default model, the task config's recipe.

Fixed seed (1), two torch threads, a short budget, and a sampled evaluation on the same fixed seeds before
(the zero-shot model) and after training. The zero-shot model already succeeds in most episodes here, but
wanders: it takes 30-45 decisions an episode where 6-12 suffice. What the recipe learns first is the short
way, so the bar is on both: after training, success over the evaluation episodes is at least SUCCESS_BAR and
the episodes take at most LENGTH_RATIO of the zero-shot model's decisions.

Calibration (docs/results/overcooked/recipe/README.md, "Session 4"): the recipe ("T6m", the configs' default)
on seeds 1-5, 1,536 decisions each, evaluated the same way at every 256 decisions. This test's own run (seed 1,
two threads) is a trajectory of its own, since the thread count changes the floating-point sums; it was run
on the idle 2-core machine and its figures are in the README section. It can fail: the earlier recipes (A3,
T6, T6f, T6b) did not shorten the episodes in this budget, and T6 lost success.

Reproducible: the same seed and thread count give the same run. Session 5 found why two runs of this test
had differed (18.6 and 30.25 decisions an episode after training, from identical zero-shot figures): the test
builds its policy before the Trainer, and ``build_policy`` did not seed, so the LoRA ``A`` matrices and the
value head started from a different random init each run (the zero-shot scores, with ``B = 0``, cannot show
it). ``build_policy`` now seeds from ``run.seed`` (tests/test_trainer.py checks the init and a whole run).
This test's seeded run, on the 2-core machine under load: 8/8 successes, 13.0 decisions an episode against
the zero-shot model's 32.25 (0.40x; the bar is 0.75x); training took about 6 minutes on idle cores.
"""

from __future__ import annotations

import time

import pytest

from agent_runtime.config import load_config
from agent_runtime.evaluate import evaluate
from agent_runtime.trainer import Trainer, build_policy

DECISIONS = 1280  # 10 updates of 4 envs x 32: 1 critic-only warm-up, then 9 policy updates
EVAL_SEEDS = list(range(1000, 1008))  # the kitchen is fixed; sampling is seeded by run.seed
SUCCESS_BAR = 0.875  # 7 of 8
LENGTH_RATIO = 0.75


@pytest.mark.slow
def test_tomato_salad_episodes_get_shorter_and_stay_successful_with_the_default_model(tmp_path):
    cfg = load_config(
        "overcooked-tomato-salad",
        ["env.in_process=true", f"run.output_dir={tmp_path}", "run.name=salad", "run.seed=1", "env.seed=1",
         f"run.total_decisions={DECISIONS}", "run.progress=false", "log.tensorboard=false", "checkpoint.every=0",
         "model.threads=2"],
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
    assert a["mean_length"] <= LENGTH_RATIO * b["mean_length"], msg
