"""How likely the default model's zero-shot policy is to follow Food Preparation's shortest solution.

Walks the spec's 6-step optimal sequence in the symbolic simulator and prints, for each scoring
normalisation (sum, token, word), the policy's probability of the optimal skill at each step and the
product (the chance that a sampled episode starts with the whole solution). Writes prior.json here.
Usage (from the repo root): python docs/results/virtualhome/prior.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from agent_runtime.models import load_model
from agent_runtime.scoring import NORMALIZATIONS, Scorer
from bridges.virtualhome.env import make_env

FOOD_OPTIMAL = [4, 6, 5, 8, 7, 9]  # spec section 3.3: env action ids of the shortest solution


def main() -> None:
    torch.set_num_threads(1)
    lm = load_model(dtype="fp32")
    env = make_env("food-preparation")
    obs = env.reset()
    steps = []
    for a in FOOD_OPTIMAL:
        idx = env.action_ids.index(a)
        steps.append((obs.text, list(obs.skills), idx))
        obs = env.step(idx)
    assert obs.reward == 1.0, "the optimal sequence did not solve the task"
    out: dict = {"steps": [s[1][s[2]] for s in steps], "by_normalization": {}}
    for norm in NORMALIZATIONS:
        scorer = Scorer(lm.model, lm.tokenizer, normalization=norm, separator=" ")
        with torch.no_grad():
            probs = [float(scorer.score([t], [sk]).log_probs[0, i].exp()) for t, sk, i in steps]
        uniform = [1 / len(sk) for _, sk, _ in steps]
        out["by_normalization"][norm] = {"p_optimal": probs, "path": math.prod(probs)}
        out["uniform"] = {"p_optimal": uniform, "path": math.prod(uniform)}
        print(f"{norm:6s} " + " ".join(f"{p:.3f}" for p in probs) + f"   path {math.prod(probs):.2e}")
    print(f"{'random':6s} " + " ".join(f"{p:.3f}" for p in out["uniform"]["p_optimal"]) + f"   path {out['uniform']['path']:.2e}")
    env.close()
    Path(__file__).with_name("prior.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
