"""PPO update for the LLM actor-critic (CleanRL's PPO, re-scoring through the shared-prefix path).

Overridden decisions (a person chose the action) were not sampled from the
policy, so they are left out of the clipped ratio and of the advantage
normalisation; they still count for returns and the value loss. With
``bc_coef > 0`` a behaviour-cloning term ``-bc_coef * log pi(a_person | s)``
pulls the policy toward the person's choices.

Recipe switches (all off by default, the old behaviour):

- ``kl_target``: adaptive actor learning rate. After each update the actor's
  rate is multiplied by ``kl_lr_factor`` when the update's approximate KL was
  below ``kl_target / 1.5`` and divided by it when above ``1.5 * kl_target``
  (PPO-adaptive), kept within ``[lr_actor_min, lr_actor_max]``.
- ``kl_stop``: where ``target_kl`` is checked: after every minibatch (old) or
  after every epoch (the epoch's mean KL).
- ``value_warmup_updates``: the first N updates train the critic only, so the
  first policy steps use advantages from a critic that has seen returns.
- ``explore_eps``: the behaviour policy is the mixture
  ``(1 - eps) * pi + eps * uniform(valid skills)``; acting records the
  mixture's log-prob and the update re-scores the same mixture, so the ratio
  compares like with like (it is 1 before the first step). The entropy bonus
  is pi's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agent_runtime.buffer import Batch
from agent_runtime.policy import ActorCritic


@dataclass
class PPOSettings:
    clip_coef: float = 0.2
    clip_vloss: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.01
    update_epochs: int = 1
    minibatch_size: int = 32
    micro_batch_size: int = 8  # gradient accumulation: micro-batches per minibatch step
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    norm_adv: bool = True
    bc_coef: float = 0.0
    kl_target: float | None = None  # adaptive actor lr (None: fixed lr)
    kl_lr_factor: float = 1.5
    lr_actor_min: float = 1e-5
    lr_actor_max: float = 1e-2
    kl_stop: str = "minibatch"  # 'minibatch' | 'epoch': granularity of the target_kl early stop
    value_warmup_updates: int = 0
    explore_eps: float = 0.0


def mixture_log_probs(log_probs: torch.Tensor, eps: float) -> torch.Tensor:
    """log((1 - eps) * p + eps / n_valid) per candidate; padded candidates (log p = -inf) stay -inf."""
    if eps <= 0:
        return log_probs
    valid = torch.isfinite(log_probs)
    n = valid.sum(-1, keepdim=True).clamp(min=1).to(log_probs.dtype)
    mix = torch.logaddexp(log_probs + float(np.log1p(-eps)), torch.log(eps / n).expand_as(log_probs))
    return torch.where(valid, mix, log_probs)


class PPO:
    """Owns the optimisers; ``update`` runs the epochs over one rollout batch."""

    def __init__(self, policy: ActorCritic, settings: PPOSettings, lr_actor: float, lr_critic: float):
        self.policy = policy
        self.s = settings
        self.lr_actor = lr_actor
        self.lr_critic = lr_critic
        self.actor_opt = torch.optim.AdamW(policy.actor_parameters(), lr=lr_actor, eps=1e-5, weight_decay=0.0)
        self.critic_opt = torch.optim.AdamW(policy.critic_parameters(), lr=lr_critic, eps=1e-5, weight_decay=0.0)
        self.lr_frac = 1.0
        self.updates_done = 0  # for value_warmup_updates

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

    def set_lr_fraction(self, frac: float) -> None:
        """Linear annealing: frac goes from 1 to 0 over the run."""
        self.lr_frac = frac
        for g in self.actor_opt.param_groups:
            g["lr"] = frac * self.lr_actor
        for g in self.critic_opt.param_groups:
            g["lr"] = frac * self.lr_critic

    def update(self, batch: Batch, rng: np.random.Generator) -> dict[str, float]:
        s = self.s
        n = len(batch)
        sampled = ~batch.overridden
        stats: dict[str, list[float]] = {k: [] for k in ("pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac", "bc_loss")}
        stop = False
        warmup = self.updates_done < s.value_warmup_updates  # critic only
        params = self.policy.actor_parameters() + self.policy.critic_parameters()
        epoch_kls: list[float] = []
        steps = 0
        for _epoch in range(s.update_epochs):
            epoch_kls = []
            order = rng.permutation(n)
            for start in range(0, n, s.minibatch_size):
                mb = order[start : start + s.minibatch_size]
                adv = batch.advantages[mb]
                mb_sampled = sampled[mb]
                if s.norm_adv and int(mb_sampled.sum()) > 1:
                    a = adv[mb_sampled]
                    adv = (adv - a.mean()) / (a.std() + 1e-8)
                self.actor_opt.zero_grad(set_to_none=True)
                self.critic_opt.zero_grad(set_to_none=True)
                kls = []
                for ms in range(0, len(mb), s.micro_batch_size):
                    idx = mb[ms : ms + s.micro_batch_size]
                    sl = slice(ms, ms + len(idx))
                    out = self.policy([batch.encoded[i] for i in idx])
                    acts = batch.actions[idx].to(out.log_probs.device)
                    new_logp = mixture_log_probs(out.log_probs.float(), s.explore_eps).gather(1, acts[:, None]).squeeze(1).cpu()
                    values = out.values.float().cpu()
                    entropy = out.entropy().float().cpu()
                    weight = len(idx) / len(mb)  # micro-batch share of the minibatch mean
                    smp = mb_sampled[sl]
                    logratio = new_logp - batch.logps[idx]
                    ratio = logratio.exp()
                    if smp.any():
                        a = adv[sl][smp]
                        r = ratio[smp]
                        pg = torch.max(-a * r, -a * torch.clamp(r, 1 - s.clip_coef, 1 + s.clip_coef)).mean()
                        with torch.no_grad():
                            lr_s = logratio[smp]
                            kl = ((lr_s.exp() - 1) - lr_s).mean().item()
                            kls.append(kl)
                            epoch_kls.append(kl)
                            stats["approx_kl"].append(kl)
                            stats["clipfrac"].append(((r - 1).abs() > s.clip_coef).float().mean().item())
                        stats["pg_loss"].append(pg.item())
                        pg = pg * smp.float().mean()
                    else:
                        pg = torch.zeros(())
                    bc = torch.zeros(())
                    if s.bc_coef > 0 and (~smp).any():
                        bc = -new_logp[~smp].mean() * (~smp).float().mean()
                        stats["bc_loss"].append(bc.item())
                    ret = batch.returns[idx]
                    if s.clip_vloss:
                        old_v = batch.values[idx]
                        v_clipped = old_v + torch.clamp(values - old_v, -s.clip_coef, s.clip_coef)
                        v_loss = 0.5 * torch.max((values - ret) ** 2, (v_clipped - ret) ** 2).mean()
                    else:
                        v_loss = 0.5 * ((values - ret) ** 2).mean()
                    ent = entropy.mean()
                    loss = pg - s.ent_coef * ent + s.vf_coef * v_loss + s.bc_coef * bc
                    if warmup:
                        loss = s.vf_coef * v_loss
                    (loss * weight).backward()
                    stats["v_loss"].append(v_loss.item())
                    stats["entropy"].append(ent.item())
                nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                if not warmup:
                    self.actor_opt.step()
                    steps += 1
                self.critic_opt.step()
                if warmup:
                    continue
                if s.kl_stop == "minibatch" and s.target_kl is not None and kls and float(np.mean(kls)) > s.target_kl:
                    stop = True
                    break
            if s.kl_stop == "epoch" and s.target_kl is not None and epoch_kls and float(np.mean(epoch_kls)) > s.target_kl:
                stop = True
            if stop:
                break
        out = {k: float(np.mean(v)) if v else 0.0 for k, v in stats.items()}
        out["early_stop"] = float(stop)
        out["value_warmup"] = float(warmup)
        out["actor_steps"] = float(steps)
        if not warmup and epoch_kls:
            out["kl_last_epoch"] = float(np.mean(epoch_kls))
            self._adapt_lr(out["kl_last_epoch"])
        self.updates_done += 1
        y_pred, y_true = batch.values.numpy(), batch.returns.numpy()
        var_y = np.var(y_true)
        out["explained_variance"] = float("nan") if var_y == 0 else float(1 - np.var(y_true - y_pred) / var_y)
        return out

    def state_dict(self) -> dict:
        return {
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "lr_actor": self.lr_actor, "updates_done": self.updates_done,
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.s.kl_target is not None:  # the adapted rate goes on; a fixed-rate run keeps its configured rate
            self.lr_actor = state.get("lr_actor", self.lr_actor)
        self.updates_done = state.get("updates_done", self.updates_done)
