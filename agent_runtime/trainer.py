"""The runtime loop: collect decisions from N environments, update with PPO, log, checkpoint.

bridge (observations) -> prompt -> scorer (probabilities, value) -> action -> bridge
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from agent_runtime.acting import decide
from agent_runtime.buffer import Decision, RolloutBuffer
from agent_runtime.checkpoint import find_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from agent_runtime.config import Config
from agent_runtime.envs import make_env
from agent_runtime.episodes import EpisodeStats
from agent_runtime.logs import RunLogger, console
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from agent_runtime.ppo import PPO, PPOSettings
from agent_runtime.prompt import PromptBuilder
from agent_runtime.telemetry import Telemetry
from bridges.spec import Observation, VecEnv

log = logging.getLogger("agent_runtime")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_policy(cfg: Config) -> ActorCritic:
    """Load the base model and put the LoRA actor and the value head on it."""
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    loaded = load_model(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.cache_dir, seed=cfg.run.seed)
    return ActorCritic(
        loaded,
        lora_r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        critic_input=cfg.critic.input,
        critic_hidden=cfg.critic.hidden,
        normalization=cfg.scoring.normalization,
        separator=cfg.scoring.separator,
        autocast=cfg.model.autocast,
    )


class Trainer:
    """Online PPO of the LLM actor-critic on the configured environments."""

    def __init__(self, cfg: Config, venv: VecEnv | None = None, policy: ActorCritic | None = None):
        self.cfg = cfg
        seed_everything(cfg.run.seed)
        self.run_dir = Path(cfg.run.output_dir) / cfg.run.name
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.policy = policy if policy is not None else build_policy(cfg)
        p = cfg.ppo
        settings = PPOSettings(
            clip_coef=p.clip_coef, clip_vloss=p.clip_vloss, vf_coef=p.vf_coef, ent_coef=p.ent_coef,
            update_epochs=p.update_epochs, minibatch_size=p.minibatch_size, micro_batch_size=p.micro_batch_size,
            max_grad_norm=p.max_grad_norm, target_kl=p.target_kl, norm_adv=p.norm_adv, bc_coef=p.bc_coef,
            kl_target=p.kl_target, kl_lr_factor=p.kl_lr_factor, lr_actor_min=p.lr_actor_min,  # recipe keys
            lr_actor_max=p.lr_actor_max, kl_stop=p.kl_stop, value_warmup_updates=p.value_warmup_updates,  # recipe keys
            explore_eps=p.explore_eps,  # recipe keys
        )  # fmt: skip
        self.ppo = PPO(self.policy, settings, p.lr_actor, p.lr_critic)
        self.np_rng = np.random.default_rng(cfg.run.seed)
        self.sample_gen = torch.Generator().manual_seed(cfg.run.seed)
        self.counters = {"decisions": 0, "updates": 0, "episodes": 0}
        self.resumed_from: Path | None = None
        self._saved_at: tuple[int, int] | None = None  # (decisions, updates) of this run's last checkpoint
        if cfg.checkpoint.resume:
            self._resume(cfg.checkpoint.resume)
        self.prompts = PromptBuilder(cfg.prompt.template)
        self.venv = venv if venv is not None else make_env(cfg.env)
        self.num_envs = self.venv.num_envs
        resume_at = self.counters["decisions"] if self.resumed_from is not None else None
        self.logger = RunLogger(self.run_dir, tensorboard=cfg.log.tensorboard, jsonl=cfg.log.jsonl, resume_at=resume_at)
        demos = cfg.telemetry.demos or (str(self.run_dir / "demonstrations.jsonl") if cfg.telemetry.control else None)
        self.telemetry = Telemetry(cfg.telemetry.pub, cfg.telemetry.control, demos)
        self.guide = None
        if cfg.guidance.enabled:
            from agent_runtime.guidance import Guidance

            self.guide = Guidance(cfg.guidance, self.policy, self.num_envs, seed=cfg.run.seed)
            if self.resumed_from is not None and (self.resumed_from / "guidance").exists():
                self.guide.load(str(self.resumed_from / "guidance"))
        self.stats = EpisodeStats(self.num_envs)
        self.recent: list[dict[str, Any]] = []  # finished episodes since the last update
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))

    # ----------------------------------------------------------------- setup
    def _resume(self, where: str) -> None:
        if where == "auto" and not list_checkpoints(self.ckpt_dir):
            log.info("no checkpoint in %s yet: starting a new run", self.ckpt_dir)
            return
        path = find_checkpoint(self.ckpt_dir if where == "auto" else where)
        self.resumed_from = path
        self.counters = load_checkpoint(path, self.policy, self.ppo, self.np_rng)
        # The sampling generator continues from a state derived from the restored counters.
        self.sample_gen.manual_seed(self.cfg.run.seed + self.counters["decisions"])
        log.info("resumed from %s at decision %d (update %d)", path, self.counters["decisions"], self.counters["updates"])

    @property
    def num_updates(self) -> int:
        return math.ceil(self.cfg.run.total_decisions / (self.num_envs * self.cfg.run.num_steps))

    def save(self) -> Path:
        path = save_checkpoint(
            self.ckpt_dir, self.policy, self.ppo, dict(self.counters), self.np_rng, self.cfg.checkpoint.keep,
            yaml.safe_dump(self.cfg.to_dict(), sort_keys=False),
            extra=(lambda tmp: self.guide.save(str(tmp / "guidance"))) if self.guide else None,
        )  # fmt: skip
        self._saved_at = (self.counters["decisions"], self.counters["updates"])
        log.info("checkpoint %s", path)
        return path

    # ----------------------------------------------------------------- acting
    def _greedy(self) -> bool:
        g = self.telemetry.greedy
        return self.cfg.run.greedy if g is None else g

    def _round(self, obs: list[Observation], buffer: RolloutBuffer) -> list[Observation]:
        """One decision per environment, one step of the environments."""
        tel = self.telemetry
        tel.set_pending([{"env": i, "text": o.text, "skills": o.skills} for i, o in enumerate(obs)])
        tel.poll()
        tel.wait_while_paused()
        subgoals = self.guide.subgoals(obs) if self.guide else [""] * len(obs)
        prompts = [self.prompts.build(o, sg) for o, sg in zip(obs, subgoals)]
        skills = [o.skills for o in obs]
        overrides = [tel.take_override(i, len(s)) for i, s in enumerate(skills)]
        greedy = self._greedy()
        d = decide(self.policy, prompts, skills, greedy, overrides, self.sample_gen, explore_eps=self.cfg.ppo.explore_eps)  # recipe
        for i in range(len(obs)):
            buffer.add(i, Decision(d.encoded[i], d.actions[i], d.logps[i], d.values[i], overridden=d.overridden[i]))
            msg = {
                "env": i, "step": self.counters["decisions"] + i, "episode_step": self.stats.length[i],
                "text": prompts[i], "skills": skills[i], "probs": d.probs[i], "value": d.values[i],
                "action": d.actions[i], "overridden": d.overridden[i], "reward": obs[i].reward, "greedy": greedy,
            }  # fmt: skip
            tel.publish_decision(msg)
            if d.overridden[i]:
                tel.record_override({**msg, "prompt": prompts[i], "action_text": skills[i][d.actions[i]]})
        if self.guide:
            self.guide.observe(obs, d.actions)
        new = self.venv.step(d.actions)
        self.counters["decisions"] += len(obs)
        nxt = []
        for i, o in enumerate(new):
            if o.dropped:
                n = buffer.drop_partial_episode(i)
                self.stats.pop(i)
                log.warning("env %d: simulator lost and restarted; dropped its partial episode (%d decisions)", i, n)
                nxt.append(o.reset_obs)
                continue
            buffer.complete(i, o.reward, max(1, o.k), o.ended)
            self.stats.add(i, o.reward, o.k)
            if o.ended:
                self._episode_end(i, o)
                nxt.append(o.reset_obs)
            else:
                nxt.append(o)
        return nxt

    def _episode_end(self, i: int, o: Observation) -> None:
        ret, length, prim = self.stats.pop(i)
        self.counters["episodes"] += 1
        rec = {
            "env": i, "return": ret, "length": length, "primitive_steps": prim,
            "success": o.info.get("success"), "truncated": o.truncated, "decisions": self.counters["decisions"],
        }  # fmt: skip
        if "achievements" in o.info:
            rec["achievements"] = o.info["achievements"]
        self.recent.append(rec)
        self.logger.episode(rec, self.counters["decisions"])
        self.telemetry.publish_episode(rec)
        if self.guide:
            self.guide.episode_end(i, o)

    # ----------------------------------------------------------------- training
    def train(self) -> dict[str, Any]:
        """Run until ``run.total_decisions``; returns a summary of the last updates."""
        cfg = self.cfg
        obs = self.venv.reset([cfg.env.seed + i + 7919 * self.counters["episodes"] for i in range(self.num_envs)])
        buffer = RolloutBuffer(self.num_envs)
        history: list[dict[str, Any]] = []
        progress = Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("decisions"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not cfg.run.progress,
        )  # fmt: skip
        try:
            with progress:
                task = progress.add_task("train", total=cfg.run.total_decisions, completed=self.counters["decisions"])
                while self.counters["decisions"] < cfg.run.total_decisions:
                    t0 = time.perf_counter()
                    buffer.reset()
                    for _ in range(cfg.run.num_steps):
                        obs = self._round(obs, buffer)
                        progress.update(task, completed=self.counters["decisions"])
                        if self.telemetry.save_requested:
                            self.telemetry.save_requested = False
                            self.save()
                    record = self._update(obs, buffer, collect_s=time.perf_counter() - t0)
                    history.append(record)
                    if cfg.checkpoint.every and self.counters["updates"] % cfg.checkpoint.every == 0:
                        self.save()
            if self._saved_at != (self.counters["decisions"], self.counters["updates"]):
                self.save()  # the final state, unless the last update's checkpoint already holds it
        finally:
            self.close()
        return {"updates": history, "counters": dict(self.counters)}

    def _update(self, obs: list[Observation], buffer: RolloutBuffer, collect_s: float = 0.0) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.perf_counter()
        if cfg.ppo.anneal_lr:
            self.ppo.set_lr_fraction(max(0.0, 1.0 - self.counters["updates"] / self.num_updates))
        with torch.no_grad():
            subgoals = self.guide.subgoals(obs) if self.guide else [""] * len(obs)
            enc = self.policy.encode([self.prompts.build(o, s) for o, s in zip(obs, subgoals)], [o.skills for o in obs])
            last_values = self.policy.values(enc).float().cpu().tolist()
        batch = buffer.compute(last_values, cfg.ppo.gamma, cfg.ppo.gae_lambda)
        self.policy.train()
        stats = self.ppo.update(batch, self.np_rng) if len(batch) else {}
        self.policy.eval()
        self.counters["updates"] += 1
        eps = self.recent
        self.recent = []
        succ = [e["success"] for e in eps if e.get("success") is not None]
        record = {
            "update": self.counters["updates"],
            "decisions": self.counters["decisions"],
            "episodes": len(eps),
            "episode_return_mean": float(np.mean([e["return"] for e in eps])) if eps else None,
            "success_rate": float(np.mean(succ)) if succ else None,
            "lr_actor": self.ppo.actor_opt.param_groups[0]["lr"],
            "collect_s": collect_s,
            "update_s": time.perf_counter() - t0,
            **stats,
        }
        if self.guide:
            record.update(self.guide.after_update(self.counters["updates"]))
        self.logger.update(record, self.counters["decisions"])
        self.telemetry.publish_stats(record)
        if cfg.log.console_every and self.counters["updates"] % cfg.log.console_every == 0:
            ret = record["episode_return_mean"]
            sr = record["success_rate"]
            log.info(
                "update %d  decisions %d  episodes %d  return %s  success %s  pg %.4f  v %.4f  ent %.3f  kl %.4f",
                record["update"], record["decisions"], len(eps),
                "-" if ret is None else f"{ret:.3f}", "-" if sr is None else f"{sr:.2f}",
                stats.get("pg_loss", 0.0), stats.get("v_loss", 0.0), stats.get("entropy", 0.0), stats.get("approx_kl", 0.0),
            )  # fmt: skip
        return record

    def close(self) -> None:
        self.telemetry.close()
        self.logger.close()
        self.venv.close()
        if self.guide:
            self.guide.close()
