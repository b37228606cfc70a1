"""PPO (CleanRL's, re-scoring through the shared-prefix path), and the clipped policy update it shares
with the critic-free algorithm.

Overridden decisions (a person chose the action) were not sampled from the policy, so they are left
out of the clipped ratio and of the advantage normalisation; they still count for returns and the
value loss. With ``bc_coef > 0`` a behaviour-cloning term ``-bc_coef * log pi(a_person | s)`` pulls
the policy toward the person's choices.

The learning recipe for small models (each off by default, the plain update):

- ``kl_target``: adaptive actor learning rate. After each update the actor's rate is multiplied by
  ``kl_lr_factor`` when the last epoch's approximate KL was below ``kl_target / 1.5`` and divided by
  it when above ``1.5 * kl_target`` (PPO-adaptive), kept within ``[lr_actor_min, lr_actor_max]``.
- ``kl_stop``: where ``target_kl`` is checked: after every minibatch, or after every epoch.
- ``value_warmup_updates`` (PPO): the first N updates train the critic only, so the first policy
  steps use advantages from a critic that has seen returns.
- ``explore_eps``: the behaviour policy is ``(1 - eps) * pi + eps * uniform(valid skills)``; acting
  records the mixture's log-prob and the update re-scores the same mixture, so the ratio compares
  like with like. The entropy bonus is pi's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from agent_runtime import distributed as dp
from agent_runtime.buffer import Batch, Rollout
from agent_runtime.config import PolicyUpdateSection, PPOSection
from agent_runtime.policy import ActorCritic

STATS = ("pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac", "bc_loss")


def mixture_log_probs(log_probs: torch.Tensor, eps: float) -> torch.Tensor:
    """log((1 - eps) * p + eps / n_valid) per candidate; padded candidates (log p = -inf) stay -inf."""
    if eps <= 0:
        return log_probs
    valid = torch.isfinite(log_probs)
    n = valid.sum(-1, keepdim=True).clamp(min=1).to(log_probs.dtype)
    mix = torch.logaddexp(log_probs + float(np.log1p(-eps)), torch.log(eps / n).expand_as(log_probs))
    return torch.where(valid, mix, log_probs)


class ClippedPolicyUpdate:
    """Epochs of minibatches (with micro-batch gradient accumulation) of the clipped surrogate, the
    entropy bonus, behaviour cloning on overrides and, when ``critic``, the clipped value loss."""

    def __init__(
        self,
        policy: ActorCritic,
        s: PolicyUpdateSection,
        lr_actor: float,
        critic: bool,
        lr_critic: float = 0.0,
        vf_coef: float = 0.0,
        clip_vloss: bool = True,
    ):
        self.policy, self.s, self.critic = policy, s, critic
        self.vf_coef, self.clip_vloss = vf_coef, clip_vloss
        self.lr_actor, self.lr_critic = lr_actor, lr_critic
        self.on_progress: Callable[[int, int], None] | None = None  # (minibatches done, planned) during update
        self.lr_frac = 1.0  # the annealing fraction
        self.updates_done = 0
        self.warmup_updates = 0  # updates that train the critic only (PPO's value_warmup_updates)
        self.actor_opt = torch.optim.AdamW(policy.actor_parameters(), lr=lr_actor, eps=1e-5, weight_decay=0.0)
        self.critic_opt = (
            torch.optim.AdamW(policy.critic_parameters(), lr=lr_critic, eps=1e-5, weight_decay=0.0) if critic else None
        )

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        opts: list[torch.optim.Optimizer] = [self.actor_opt]
        return opts + ([self.critic_opt] if self.critic_opt is not None else [])

    def set_lr_fraction(self, frac: float) -> None:
        """Linear annealing: frac goes from 1 to 0 over the run."""
        self.lr_frac = frac
        for opt, lr in zip(self.optimizers, (self.lr_actor, self.lr_critic)):
            for g in opt.param_groups:
                g["lr"] = frac * lr

    @property
    def lr(self) -> float:
        return float(self.actor_opt.param_groups[0]["lr"])

    def _adapt_lr(self, kl: float) -> None:
        """PPO-adaptive: scale the actor's base learning rate toward ``kl_target``."""
        s = self.s
        if s.kl_target is None or not np.isfinite(kl):
            return
        if kl < s.kl_target / 1.5:
            self.lr_actor = min(self.lr_actor * s.kl_lr_factor, s.lr_actor_max)
        elif kl > s.kl_target * 1.5:
            self.lr_actor = max(self.lr_actor / s.kl_lr_factor, s.lr_actor_min)
        for g in self.actor_opt.param_groups:
            g["lr"] = self.lr_frac * self.lr_actor

    def update(self, batch: Batch, rng: np.random.Generator) -> dict[str, float]:
        s = self.s
        n = len(batch)
        sampled = ~batch.overridden
        stats: dict[str, list[float]] = {k: [] for k in STATS}
        stop = False
        warmup = self.critic and self.updates_done < self.warmup_updates  # the critic alone
        params = self.policy.actor_parameters() + (self.policy.critic_parameters() if self.critic else [])
        n_iter = dp.all_max(n)  # data-parallel: every rank steps as often as the rank with the most decisions
        planned, done, actor_steps = s.update_epochs * -(-n_iter // s.minibatch_size), 0, 0
        epoch_kls: list[float] = []
        for _epoch in range(s.update_epochs):
            epoch_kls = []
            order = rng.permutation(n)
            for start in range(0, n_iter, s.minibatch_size):
                mb = order[start : start + s.minibatch_size]
                adv = batch.advantages[mb]
                mb_sampled = sampled[mb]
                if s.norm_adv:
                    adv = dp.normalize_advantages(adv, mb_sampled)  # over all ranks' minibatches
                for opt in self.optimizers:
                    opt.zero_grad(set_to_none=True)
                kls: list[float] = []
                for ms in range(0, len(mb), s.micro_batch_size):
                    idx = mb[ms : ms + s.micro_batch_size]
                    sl = slice(ms, ms + len(idx))
                    loss = self._loss(batch, idx, adv[sl], mb_sampled[sl], stats, kls, warmup)
                    (loss * len(idx) / len(mb)).backward()  # micro-batch share of the minibatch mean
                epoch_kls += kls
                dp.average_gradients(params, len(mb))
                nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                for opt in self.optimizers[1:] if warmup else self.optimizers:
                    opt.step()
                actor_steps += 0 if warmup else 1
                done += 1
                if self.on_progress is not None:
                    self.on_progress(done, planned)
                if warmup:
                    continue
                if s.kl_stop == "minibatch" and s.target_kl is not None:
                    kl = dp.global_mean(kls)  # all ranks stop together
                    if kl is not None and kl > s.target_kl:
                        stop = True
                        break
            if s.kl_stop == "epoch" and not warmup and s.target_kl is not None:
                kl = dp.global_mean(epoch_kls)
                stop = kl is not None and kl > s.target_kl
            if stop:
                break
        out = dp.average_stats({k: float(np.mean(v)) if v else 0.0 for k, v in stats.items()})
        out["early_stop"] = float(stop)
        out["value_warmup"] = float(warmup)
        out["actor_steps"] = float(actor_steps)
        last_kl = None if warmup else dp.global_mean(epoch_kls)
        if last_kl is not None:
            out["kl_last_epoch"] = last_kl
            self._adapt_lr(last_kl)
        self.updates_done += 1
        return out

    def _loss(
        self,
        batch: Batch,
        idx: Any,
        adv: torch.Tensor,
        smp: torch.Tensor,
        stats: dict[str, list[float]],
        kls: list[float],
        warmup: bool = False,
    ) -> torch.Tensor:
        s = self.s
        out = self.policy([batch.encoded[i] for i in idx], with_values=self.critic)
        acts = batch.actions[idx].to(out.log_probs.device)
        behaviour = mixture_log_probs(out.log_probs.float(), s.explore_eps)  # the policy that acted
        new_logp = behaviour.gather(1, acts[:, None]).squeeze(1).cpu()
        logratio = new_logp - batch.logps[idx]
        ratio = logratio.exp()
        pg = torch.zeros(())
        if smp.any():
            a, r = adv[smp], ratio[smp]
            pg = torch.max(-a * r, -a * torch.clamp(r, 1 - s.clip_coef, 1 + s.clip_coef)).mean()
            with torch.no_grad():
                lr_s = logratio[smp]
                kl = ((lr_s.exp() - 1) - lr_s).mean().item()
            kls.append(kl)
            stats["approx_kl"].append(kl)
            stats["clipfrac"].append(((r - 1).abs() > s.clip_coef).float().mean().item())
            stats["pg_loss"].append(pg.item())
            pg = pg * smp.float().mean()
        bc = torch.zeros(())
        if s.bc_coef > 0 and (~smp).any():
            bc = -new_logp[~smp].mean() * (~smp).float().mean()
            stats["bc_loss"].append(bc.item())
        ent = out.entropy().float().cpu().mean()
        stats["entropy"].append(ent.item())
        loss = torch.zeros(()) if warmup else pg - s.ent_coef * ent + s.bc_coef * bc
        if self.critic:
            assert out.values is not None
            values, ret = out.values.float().cpu(), batch.returns[idx]
            if self.clip_vloss:
                old_v = batch.values[idx]
                v_clipped = old_v + torch.clamp(values - old_v, -s.clip_coef, s.clip_coef)
                v_loss = 0.5 * torch.max((values - ret) ** 2, (v_clipped - ret) ** 2).mean()
            else:
                v_loss = 0.5 * ((values - ret) ** 2).mean()
            stats["v_loss"].append(v_loss.item())
            loss = loss + self.vf_coef * v_loss
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor_opt": self.actor_opt.state_dict(),
            "lr_actor": self.lr_actor,
            "updates_done": self.updates_done,
            **({"critic_opt": self.critic_opt.state_dict()} if self.critic_opt is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor_opt.load_state_dict(state["actor_opt"])
        if self.critic_opt is not None:
            self.critic_opt.load_state_dict(state["critic_opt"])
        if self.s.kl_target is not None:  # the adapted rate goes on; a fixed-rate run keeps its configured rate
            self.lr_actor = state.get("lr_actor", self.lr_actor)
        self.updates_done = state.get("updates_done", self.updates_done)


class PPO(ClippedPolicyUpdate):
    """PPO over fixed-length rollouts of every environment, advantages by GAE (``algos.gae``)."""

    name = "ppo"

    def __init__(self, policy: ActorCritic, settings: PPOSection):
        super().__init__(
            policy,
            settings,
            settings.lr_actor,
            critic=True,
            lr_critic=settings.lr_critic,
            vf_coef=settings.vf_coef,
            clip_vloss=settings.clip_vloss,
        )
        self.settings = settings
        self.warmup_updates = settings.value_warmup_updates

    def collect(self, collector: Any, num_steps: int, update: int) -> Rollout:
        return collector.steps(num_steps)

    def learn(self, rollout: Rollout, rng: np.random.Generator) -> dict[str, float]:
        s = self.settings
        with torch.no_grad():
            batch = rollout.batch(
                lambda enc: self.policy.values(enc).float().cpu().tolist(), s.gamma, s.gae_lambda, s.time_limit_terminal
            )
        if not dp.all_max(len(batch)):
            return {}
        self.policy.train()
        try:
            out = self.update(batch, rng)
        finally:
            self.policy.eval()
        y_pred, y_true = batch.values.numpy(), batch.returns.numpy()
        var_y = np.var(y_true)
        out["explained_variance"] = float("nan") if var_y == 0 else float(1 - np.var(y_true - y_pred) / var_y)
        return out
