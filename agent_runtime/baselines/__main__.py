"""Run a baseline on a task config and write its episode logs as JSON lines.

    python -m agent_runtime.baselines ppo-mlp --config configs/overcooked-tomato-salad.yaml \
        --decisions 100000 --seed 1 --out runs/ppo-mlp-tomato-salad-s1.jsonl [--set env.num_envs=8]

The environments come from the config's ``env:`` section (in-process, spawned servers in their
own virtualenv, or running ones), as for the LLM runtime. One JSON object per finished episode:
``decisions`` (so far), ``return``, ``success``, ``length``, ``primitive_steps``, ``env`` (see
``agent_runtime.episodes.episode_record``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from agent_runtime.baselines import run_random, train_ppo_mlp


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agent_runtime.baselines", description=__doc__.split("\n")[0])
    p.add_argument("method", choices=["ppo-mlp", "random", "saycan", "zero-shot"])
    p.add_argument("--config", required=True, help="task config (YAML) whose env: section to use")
    p.add_argument("--decisions", type=int, required=True, help="decisions over all environments")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="JSON-lines file for the episode logs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    p.add_argument("--hidden", type=int, default=64, help="ppo-mlp: MLP width")
    p.add_argument("--lr", type=float, default=2.5e-4, help="ppo-mlp: Adam learning rate")
    p.add_argument("--num-steps", type=int, default=128, help="ppo-mlp: decisions per env per rollout")
    args = p.parse_args(argv)

    from agent_runtime.config import load_config
    from agent_runtime.envs import make_env

    cfg = load_config(args.config, overrides=args.set)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    venv = make_env(cfg.env)
    start = time.time()
    with out.open("w") as f:

        def log(entry: dict) -> None:
            f.write(json.dumps(entry) + "\n")
            f.flush()

        try:
            if args.method == "random":
                logs = run_random(venv, args.decisions, seed=args.seed, log_fn=log)
            elif args.method in ("saycan", "zero-shot"):
                from agent_runtime.baselines.saycan import run_llm_policy
                from agent_runtime.prompt import PromptBuilder
                from agent_runtime.trainer import build_policy

                logs = run_llm_policy(
                    venv,
                    build_policy(cfg),
                    PromptBuilder(cfg.prompt.template),
                    args.decisions,
                    seed=args.seed,
                    saycan=args.method == "saycan",
                    log_fn=log,
                )
            else:
                logs = train_ppo_mlp(
                    venv,
                    args.decisions,
                    seed=args.seed,
                    hidden=args.hidden,
                    lr=args.lr,
                    num_steps=args.num_steps,
                    gamma=cfg.ppo.gamma,
                    gae_lambda=cfg.ppo.gae_lambda,
                    log_fn=log,
                )
        finally:
            venv.close()
    tail = logs[-max(1, len(logs) // 10) :] if logs else []
    mean = (lambda key: sum(float(e[key] or 0) for e in tail) / len(tail)) if tail else (lambda key: float("nan"))
    print(
        f"{args.method}: {len(logs)} episodes in {time.time() - start:.1f}s; last 10%: "
        f"return {mean('return'):.3f}, success {mean('success'):.2f} -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
