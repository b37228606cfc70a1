"""The training loop: the algorithm collects through the one rollout loop, learns, logs, checkpoints.

bridge -> prompt -> scorer -> action -> bridge is ``rollout.Collector``; what a rollout teaches is
``algos/``; where events go is ``sinks``. This file wires them and keeps the counters.
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

from agent_runtime import distributed as dp
from agent_runtime.algos.base import make_algorithm
from agent_runtime.buffer import Rollout
from agent_runtime.checkpoint import (
    STATE_FILE,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from agent_runtime.config import Config
from agent_runtime.envs import make_env
from agent_runtime.logs import console
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from agent_runtime.prompt import PromptBuilder
from agent_runtime.rollout import Collector, LLMActor
from agent_runtime.sinks import Sink, run_sinks
from agent_runtime.telemetry import Telemetry
from bridges.spec import VecEnv

log = logging.getLogger("agent_runtime")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_policy(cfg: Config) -> ActorCritic:
    """Load the base model and put the LoRA actor and the critic on it.

    Seeds every RNG from ``run.seed`` first: the LoRA ``A`` matrices and the value head are random, and a
    caller that builds the policy before a Trainer (an evaluation, a test) would otherwise start training
    from an unseeded init that differs run to run while the zero-shot scores (``B = 0``) stay identical."""
    seed_everything(cfg.run.seed)
    if cfg.model.threads:
        torch.set_num_threads(cfg.model.threads)
    loaded = load_model(cfg.model.name, cfg.model.dtype, cfg.model.device, cfg.model.cache_dir, seed=cfg.run.seed)
    return ActorCritic(
        loaded, lora_r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules, critic_input=cfg.critic.input, critic_hidden=cfg.critic.hidden,
        normalization=cfg.scoring.normalization, separator=cfg.scoring.separator, autocast=cfg.model.autocast,
        cache_features=cfg.critic.cache_features, top_layers=cfg.lora.top_layers,
        trunk_memo_mb=cfg.lora.trunk_memo_mb,
    )  # fmt: skip


def build_guidance(cfg: Config, policy: ActorCritic, num_envs: int) -> Any:
    """RLAdapter guidance when ``guidance.enabled``, else None."""
    if not cfg.guidance.enabled:
        return None
    from agent_runtime.guidance import Guidance

    return Guidance(cfg.guidance, policy, num_envs, seed=cfg.run.seed)


def budget_warning(total: int, world: int, num_envs: int, num_steps: int) -> str | None:
    """What a PPO run does with a ``run.total_decisions`` that is not whole updates; None when it is.

    Each update's rollout is ``world x num_envs x num_steps`` decisions and the loop collects rollouts
    until the total is reached, so the last one is collected whole: ``ceil(total / rollout)`` updates."""
    per_update = world * num_envs * num_steps
    if total % per_update == 0:
        return None
    made = (f"{world} ranks x " if world > 1 else "") + f"{num_envs} envs x {num_steps} steps"
    updates = math.ceil(total / per_update)
    what = "smaller than" if total < per_update else "not a multiple of"
    return (
        f"run.total_decisions={total} is {what} one update's rollout of {per_update} decisions ({made}): "
        f"the run takes {updates} update(s), {updates * per_update} decisions"
    )


class Trainer:
    """Online training of the LLM actor-critic on the configured environments.

    Under torchrun each rank builds one (see ``distributed``): ``venv`` is then this rank's
    simulators (made from ``dp.rank_config(cfg).env``), and only rank 0 writes or serves anything."""

    def __init__(self, cfg: Config, venv: VecEnv | None = None, policy: ActorCritic | None = None):
        self.cfg = cfg
        rc = dp.rank_config(cfg)  # this rank's seeds, share of --connect, telemetry (rank 0's equals cfg)
        if dp.active() and cfg.guidance.enabled:
            raise ValueError("guidance.enabled: not supported with several ranks (its adapter is not shared)")
        seed_everything(cfg.run.seed)
        self.run_dir = Path(cfg.run.output_dir) / cfg.run.name
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.policy = policy if policy is not None else build_policy(cfg)
        self.algo = make_algorithm(cfg, self.policy)
        seed = dp.rank_seed(cfg.run.seed)  # per rank: sampling, minibatch order, dropout
        if dp.active():
            seed_everything(seed)
        self.np_rng = np.random.default_rng(seed)
        self.sample_gen = torch.Generator().manual_seed(seed)
        start = {"decisions": 0, "updates": 0, "episodes": 0}
        self.resumed_from = self._find_resume(cfg.checkpoint.resume)
        if self.resumed_from is not None:
            start = load_checkpoint(self.resumed_from, self.policy, self.algo, self.np_rng)
            self.sample_gen.manual_seed(seed + start["decisions"])  # continues from the restored counters
            if dp.active():
                self._restore_rank_rng(self.resumed_from)
            log.info(
                "resumed from %s at decision %d (update %d)", self.resumed_from, start["decisions"], start["updates"]
            )
        dp.broadcast_parameters(self.policy.actor_parameters() + self.policy.critic_parameters())
        self.updates = start["updates"]
        self._saved_at: tuple[int, int] | None = None  # (decisions, updates) of this run's last checkpoint
        self.venv = venv if venv is not None else make_env(rc.env)
        self.telemetry = Telemetry(rc.telemetry.pub, rc.telemetry.control, None)
        if rc.telemetry.frames and rc.telemetry.pub:
            from agent_runtime.video import LiveFrames

            self.venv = LiveFrames(self.venv, self.telemetry)
        resume_at = start["decisions"] if self.resumed_from else None
        self.sink = run_sinks(rc, self.run_dir, self.telemetry, resume_at) if dp.is_main() else Sink()
        self.algo.on_progress = lambda done, total: self.sink.status("updating", done=done, total=total)
        self.guide = build_guidance(cfg, self.policy, self.venv.num_envs)
        if self.guide is not None and self.resumed_from is not None and (self.resumed_from / "guidance").exists():
            self.guide.load(str(self.resumed_from / "guidance"))
        actor = LLMActor(self.policy, self.algo.critic, self.sample_gen, explore_eps=self.algo.settings.explore_eps)
        self.collector = Collector(
            self.venv,
            actor,
            PromptBuilder(cfg.prompt.template),
            self.sink,
            self.guide,
            self.telemetry,
            cfg.run.greedy,
            start["decisions"],
            base_seed=rc.env.seed,
        )
        self.collector.episodes = start["episodes"]
        # PPO: all ranks take the same rounds, each round is world x num_envs decisions. Whole-episode
        # algorithms take as many rounds as their episodes need: their decisions are summed at each update.
        self.collector.world = dp.world() if self.algo.name == "ppo" else 1
        self._synced = {"episodes": start["episodes"], "decisions": start["decisions"]}  # at the last update
        self.env_seed, self.progress = rc.env.seed, rc.run.progress
        if dp.is_main():
            (self.run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
            budget = (cfg.run.total_decisions, dp.world(), self.venv.num_envs, cfg.run.num_steps)
            if self.algo.name == "ppo" and (warning := budget_warning(*budget)):  # fixed-length rollouts only
                log.warning(warning)

    def _find_resume(self, where: str | None) -> Path | None:
        if where is None:
            return None
        if where == "auto" and not list_checkpoints(self.ckpt_dir):
            log.info("no checkpoint in %s yet: starting a new run", self.ckpt_dir)
            return None
        return find_checkpoint(self.ckpt_dir if where == "auto" else where)

    @property
    def counters(self) -> dict[str, int]:
        c = self.collector if hasattr(self, "collector") else None
        return {"decisions": c.decisions if c else 0, "updates": self.updates, "episodes": c.episodes if c else 0}

    def save(self) -> Path | None:
        """A checkpoint (rank 0 writes it, with every rank's RNG state); every rank calls this together."""
        rank_rng = dp.gather_objects({**rng_state(self.np_rng), "sample": self.sample_gen.get_state()})
        self._saved_at = (self.counters["decisions"], self.updates)
        if not dp.is_main():
            return None
        path = save_checkpoint(
            self.ckpt_dir, self.policy, self.algo, self.counters, self.np_rng, self.cfg.checkpoint.keep,
            yaml.safe_dump(self.cfg.to_dict(), sort_keys=False),
            extra=(lambda tmp: self.guide.save(str(tmp / "guidance"))) if self.guide else None,
            extra_state={"rank_rng": rank_rng} if dp.active() else None,
        )  # fmt: skip
        log.info("checkpoint %s", path)
        return path

    def _restore_rank_rng(self, path: Path) -> None:
        """This rank's RNG states from a data-parallel checkpoint (written with as many ranks)."""
        saved = torch.load(path / STATE_FILE, weights_only=False).get("rank_rng") or []
        if len(saved) != dp.world():
            log.warning("checkpoint %s holds RNG states of %d rank(s), not %d: fresh per-rank seeds", path,
                        len(saved), dp.world())  # fmt: skip
            return
        mine = saved[dp.rank()]
        set_rng_state(mine, self.np_rng)
        self.sample_gen.set_state(mine["sample"])

    def _lr_fraction(self) -> float:
        """Linear annealing: from 1 at the start to 0 at ``run.total_decisions``."""
        total, per_update = self.cfg.run.total_decisions, self.venv.num_envs * self.cfg.run.num_steps * dp.world()
        if self.algo.name == "ppo":  # a fixed number of decisions per update
            return max(0.0, 1.0 - self.updates / math.ceil(total / per_update))
        return max(0.0, 1.0 - self.collector.decisions / total)

    def train(self) -> dict[str, Any]:
        """Run until ``run.total_decisions``; returns the update records and the counters."""
        cfg, c = self.cfg, self.collector
        c.reset([self.env_seed + i + 7919 * c.episodes for i in range(self.venv.num_envs)])
        history: list[dict[str, Any]] = []
        progress = Progress(
            TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("decisions"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not self.progress,
        )  # fmt: skip
        try:
            with progress:
                task = progress.add_task("train", total=cfg.run.total_decisions, completed=c.decisions)

                # Ranks act in lockstep under PPO (fixed-length rollouts): requests are shared every round;
                # whole-episode algorithms take a varying number of rounds per rank: between updates.
                each_round = not dp.active() or self.algo.name == "ppo"

                def on_round() -> None:
                    progress.update(task, completed=c.decisions)
                    if each_round:
                        self._handle_requests()

                c.on_round = on_round
                while c.decisions < cfg.run.total_decisions and not c.halt:
                    t0 = time.perf_counter()
                    if not each_round:
                        self._handle_requests()
                        if c.halt:
                            break
                    if getattr(self.algo.settings, "anneal_lr", False):
                        self.algo.set_lr_fraction(self._lr_fraction())
                    rollout = self.algo.collect(c, cfg.run.num_steps, self.updates)
                    if c.halt:
                        log.info(
                            "stopped by the TUI at decision %d: the partial rollout is not trained on", c.decisions
                        )
                        break
                    history.append(self._learn(rollout, collect_s=time.perf_counter() - t0))
                    if cfg.checkpoint.every and self.updates % cfg.checkpoint.every == 0:
                        self.save()
            if self._saved_at != (c.decisions, self.updates):
                self.save()  # the final state, unless the last update's checkpoint already holds it
        finally:
            self.close()
        return {"updates": history, "counters": self.counters}

    def _handle_requests(self) -> None:
        save, stop = self.telemetry.save_requested, self.telemetry.stop_requested
        self.telemetry.save_requested = False
        if dp.active():  # rank 0 serves the TUI: its requests hold for every rank, this round
            save, stop = (x > 0 for x in dp.all_sum([save, stop]))
        if save:
            self.save()
        self.collector.halt = stop  # the TUI's q: stop, with a checkpoint

    def _learn(self, rollout: Rollout, collect_s: float) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.sink.status("updating", update=self.updates + 1)
        stats = self.algo.learn(rollout, self.np_rng)
        self.updates += 1
        if dp.active():
            self._sync_counters()
            self._log_other_ranks_episodes(rollout)
        eps = [e.record for e in rollout.episodes]
        succ = [float(e["success"]) for e in eps if e.get("success") is not None]
        n, ret, n_succ, succ_sum = dp.all_sum([len(eps), sum(e["return"] for e in eps), len(succ), sum(succ)])
        record = {
            "update": self.updates, "decisions": self.collector.decisions, "episodes": int(n),
            "episode_return_mean": ret / n if n else None,
            "success_rate": succ_sum / n_succ if n_succ else None, "lr_actor": self.algo.lr,
            "collect_s": collect_s, "update_s": time.perf_counter() - t0, **stats,
        }  # fmt: skip
        if self.guide:
            record.update(self.guide.after_update(self.updates))
        self.sink.update(record)
        self.sink.status("acting")
        return record

    def _sync_counters(self) -> None:
        """The global episode (and, for whole-episode algorithms, decision) counts on every rank."""
        c = self.collector
        keys = ["episodes"] + ([] if c.world > 1 else ["decisions"])
        new = dp.all_sum([getattr(c, k) - self._synced[k] for k in keys])
        for k, n in zip(keys, new):
            self._synced[k] += int(n)
            setattr(c, k, self._synced[k])

    def _log_other_ranks_episodes(self, rollout: Rollout) -> None:
        """Rank 0 logs the other ranks' episodes of this update (tagged with their rank) after its own."""
        gathered = dp.gather_objects([e.record for e in rollout.episodes])
        if dp.is_main():
            for r, records in enumerate(gathered[1:], start=1):
                for rec in records:
                    self.sink.episode({**rec, "rank": r})

    def close(self) -> None:
        self.sink.close()
        self.telemetry.close()
        self.venv.close()
        if self.guide:
            self.guide.close()
