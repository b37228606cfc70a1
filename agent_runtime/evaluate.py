"""Evaluation over a fixed seed list: a trained checkpoint, the zero-shot model, or a random policy."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent_runtime.checkpoint import find_checkpoint, load_checkpoint
from agent_runtime.config import Config
from agent_runtime.envs import make_env
from agent_runtime.metrics import achievement_score
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from agent_runtime.rollout import Actor, Collector, LLMActor, RandomActor

POLICIES = ("checkpoint", "zero-shot", "random")
log = logging.getLogger("agent_runtime")


@dataclass
class EvalResult:
    policy: str
    episodes: list[dict[str, Any]]
    dropped: int = 0  # episodes lost to a crashed simulator (not counted)
    guidance: dict[str, int] | None = None  # RLAdapter guide queries and fallbacks (sub-goal text named none)

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
            "dropped": self.dropped,
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": float(np.mean([e["length"] for e in self.episodes])),
        }
        achievements = [e["achievements"] for e in self.episodes if "achievements" in e]
        if achievements:
            out["achievement_score"] = achievement_score(achievements)
            # Per episode, the achievements it unlocked (for per-achievement counts and a bootstrap over episodes).
            out["achievements_unlocked"] = [sorted(a for a, n in e.items() if n > 0) for e in achievements]
        if self.guidance is not None:
            out.update({f"guidance_{k}": v for k, v in self.guidance.items()})
        return out


def make_actor(
    cfg: Config, policy_kind: str, num_envs: int, checkpoint: str | None = None, policy: ActorCritic | None = None
) -> tuple[Actor, Any]:
    """The evaluation actor of ``policy_kind`` (and its RLAdapter guidance, or None), seeded by the run's seed."""
    if policy_kind not in POLICIES:
        raise ValueError(f"policy {policy_kind!r} is not one of {POLICIES}")
    from agent_runtime.trainer import build_guidance, build_policy, seed_everything

    seed_everything(cfg.run.seed)
    if policy_kind != "random" and policy is None:
        policy = build_policy(cfg)
    if policy_kind == "checkpoint":
        if checkpoint is None:
            raise ValueError("policy 'checkpoint' needs a checkpoint path")
        load_checkpoint(find_checkpoint(checkpoint), policy, None, None)  # type: ignore[arg-type]
    guide = build_guidance(cfg, policy, num_envs) if policy is not None else None
    if guide is not None and checkpoint is not None and (find_checkpoint(checkpoint) / "guidance").exists():
        guide.load(str(find_checkpoint(checkpoint) / "guidance"))
    actor: Actor = RandomActor(cfg.run.seed) if policy is None else LLMActor(policy, with_values=False)
    return actor, guide


def evaluate(
    cfg: Config,
    policy_kind: str,
    seeds: list[int],
    checkpoint: str | None = None,
    policy: ActorCritic | None = None,
    greedy: bool = True,
    num_envs: int | None = None,
) -> EvalResult:
    """Run one episode per seed with the chosen policy; returns per-episode records.

    An episode whose simulator crashed is dropped (not counted, and logged); ``dropped`` says how many.
    """
    n = min(num_envs or cfg.env.num_envs, len(seeds))
    actor, guide = make_actor(cfg, policy_kind, n, checkpoint, policy)
    venv = make_env(cfg.env, num_envs=n)
    try:
        collector = Collector(venv, actor, PromptBuilder(cfg.prompt.template), guide=guide, greedy=greedy)
        episodes = [e.record for e in collector.episodes_from(seeds)]
        counts = {"queries": guide.queries, "fallbacks": guide.fallbacks} if guide else None
    finally:
        venv.close()
        if guide:
            guide.close()
    if collector.dropped:
        log.warning("%s: %d of %d episodes dropped (a simulator crashed)", policy_kind, collector.dropped, len(seeds))
    return EvalResult(policy_kind, episodes, collector.dropped, counts)
