"""Evaluation over a fixed seed list: a trained checkpoint, the zero-shot model, or a random policy."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent_runtime.acting import decide
from agent_runtime.checkpoint import find_checkpoint, load_checkpoint
from agent_runtime.config import Config
from agent_runtime.envs import make_env
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from bridges.spec import Observation

POLICIES = ("checkpoint", "zero-shot", "random")


@dataclass
class EvalResult:
    policy: str
    episodes: list[dict[str, Any]]

    @property
    def success_rate(self) -> float | None:
        s = [e["success"] for e in self.episodes if e.get("success") is not None]
        return float(np.mean(s)) if s else None

    @property
    def mean_return(self) -> float:
        return float(np.mean([e["return"] for e in self.episodes]))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy,
            "episodes": len(self.episodes),
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": float(np.mean([e["length"] for e in self.episodes])),
        }
        achievements = [e["achievements"] for e in self.episodes if "achievements" in e]
        if achievements:
            from bridges.crafter.score import score_episodes

            out["crafter_score"] = score_episodes(achievements)
        return out


def evaluate(
    cfg: Config,
    policy_kind: str,
    seeds: list[int],
    checkpoint: str | None = None,
    policy: ActorCritic | None = None,
    greedy: bool = True,
    num_envs: int | None = None,
) -> EvalResult:
    """Run one episode per seed with the chosen policy; returns per-episode records."""
    if policy_kind not in POLICIES:
        raise ValueError(f"policy {policy_kind!r} is not one of {POLICIES}")
    from agent_runtime.trainer import seed_everything

    seed_everything(cfg.run.seed)
    rng = random.Random(cfg.run.seed)
    if policy_kind != "random" and policy is None:
        from agent_runtime.trainer import build_policy

        policy = build_policy(cfg)
    if policy_kind == "checkpoint":
        if checkpoint is None:
            raise ValueError("policy 'checkpoint' needs a checkpoint path")
        load_checkpoint(find_checkpoint(checkpoint), policy, None, None)
    prompts = PromptBuilder(cfg.prompt.template)
    n = min(num_envs or cfg.env.num_envs, len(seeds))
    guide = None
    if cfg.guidance.enabled and policy is not None:
        from agent_runtime.guidance import Guidance

        guide = Guidance(cfg.guidance, policy, n, seed=cfg.run.seed)
        saved = find_checkpoint(checkpoint) / "guidance" if checkpoint is not None else None
        if saved is not None and saved.exists():
            guide.load(str(saved))
    venv = make_env(cfg.env, num_envs=n)
    episodes: list[dict[str, Any]] = []
    try:
        for start in range(0, len(seeds), n):
            chunk = seeds[start : start + n]
            obs: list[Observation] = venv.reset(chunk + [chunk[-1]] * (n - len(chunk)))
            live = [i < len(chunk) for i in range(n)]
            ret, length = [0.0] * n, [0] * n
            while any(live):
                if policy_kind == "random":
                    actions = [rng.randrange(len(o.skills)) for o in obs]
                else:
                    subgoals = guide.subgoals(obs) if guide else [""] * n
                    texts = [prompts.build(o, g) for o, g in zip(obs, subgoals)]
                    d = decide(policy, texts, [o.skills for o in obs], greedy, with_values=False)
                    actions = d.actions
                    if guide:
                        guide.observe(obs, actions)
                new = venv.step(actions)
                nxt = []
                for i, o in enumerate(new):
                    if live[i]:
                        ret[i] += o.reward
                        length[i] += 1
                        if o.ended:
                            live[i] = False
                            if guide:
                                guide.episode_end(i, o)
                            rec = {"seed": chunk[i], "return": ret[i], "length": length[i], "success": o.info.get("success")}
                            if "achievements" in o.info:
                                rec["achievements"] = o.info["achievements"]
                            episodes.append(rec)
                    nxt.append(o.reset_obs if o.ended else o)
                obs = nxt
    finally:
        venv.close()
        if guide:
            guide.close()
    return EvalResult(policy_kind, episodes)
