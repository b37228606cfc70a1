"""PPO (CleanRL's, re-scoring through the shared-prefix path), and the clipped policy update it shares
with the critic-free algorithm.

Overridden decisions (a person chose the action) were not sampled from the policy, so they are left
out of the clipped ratio and of the advantage normalisation; they still count for returns and the
value loss. With ``bc_coef > 0`` a behaviour-cloning term ``-bc_coef * log pi(a_person | s)`` pulls
the policy toward the person's choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from agent_runtime.buffer import Batch, Rollout
from agent_runtime.config import PolicyUpdateSection, PPOSection
from agent_runtime.policy import ActorCritic

STATS = ("pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac", "bc_loss")


class ClippedPolicyUpdate:
    """Epochs of minibatches (with micro-batch gradient accumulation) of the clipped surrogate, the
    entropy bonus, behaviour cloning on overrides and, when ``critic``, the clipped value loss."""

    def __init__(self, policy: ActorCritic, s: PolicyUpdateSection, lr_actor: float, critic: bool,
                 lr_critic: float = 0.0, vf_coef: float = 0.0, clip_vloss: bool = True):
        self.policy, self.s, self.critic = policy, s, critic
        self.vf_coef, self.clip_vloss = vf_coef, clip_vloss
        self.lr_actor, self.lr_critic = lr_actor, lr_critic
        self.on_progress: Callable[[int, int], None] | None = None  # (minibatches done, planned) during update
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
        for opt, lr in zip(self.optimizers, (self.lr_actor, self.lr_critic)):
            for g in opt.param_groups:
                g["lr"] = frac * lr

    @property
    def lr(self) -> float:
        return float(self.actor_opt.param_groups[0]["lr"])

    def update(self, batch: Batch, rng: np.random.Generator) -> dict[str, float]:
        s = self.s
        n = len(batch)
        sampled = ~batch.overridden
        stats: dict[str, list[float]] = {k: [] for k in STATS}
        stop = False
        params = self.policy.actor_parameters() + (self.policy.critic_parameters() if self.critic else [])
        planned, done = s.update_epochs * -(-n // s.minibatch_size), 0
        for _epoch in range(s.update_epochs):
            order = rng.permutation(n)
            for start in range(0, n, s.minibatch_size):
                mb = order[start : start + s.minibatch_size]
                adv = batch.advantages[mb]
                mb_sampled = sampled[mb]
                if s.norm_adv and int(mb_sampled.sum()) > 1:
                    a = adv[mb_sampled]
                    adv = (adv - a.mean()) / (a.std() + 1e-8)
                for opt in self.optimizers:
                    opt.zero_grad(set_to_none=True)
                kls: list[float] = []
                for ms in range(0, len(mb), s.micro_batch_size):
                    idx = mb[ms : ms + s.micro_batch_size]
                    sl = slice(ms, ms + len(idx))
                    loss = self._loss(batch, idx, adv[sl], mb_sampled[sl], stats, kls)
                    (loss * len(idx) / len(mb)).backward()  # micro-batch share of the minibatch mean
                nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                for opt in self.optimizers:
                    opt.step()
                done += 1
                if self.on_progress is not None:
                    self.on_progress(done, planned)
                if s.target_kl is not None and kls and float(np.mean(kls)) > s.target_kl:
                    stop = True
                    break
            if stop:
                break
        out = {k: float(np.mean(v)) if v else 0.0 for k, v in stats.items()}
        out["early_stop"] = float(stop)
        return out

    def _loss(self, batch: Batch, idx: Any, adv: torch.Tensor, smp: torch.Tensor,
              stats: dict[str, list[float]], kls: list[float]) -> torch.Tensor:
        s = self.s
        out = self.policy([batch.encoded[i] for i in idx], with_values=self.critic)
        acts = batch.actions[idx].to(out.log_probs.device)
        new_logp = out.log_probs.gather(1, acts[:, None]).squeeze(1).float().cpu()
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
        loss = pg - s.ent_coef * ent + s.bc_coef * bc
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
        return {"actor_opt": self.actor_opt.state_dict(),
                **({"critic_opt": self.critic_opt.state_dict()} if self.critic_opt is not None else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor_opt.load_state_dict(state["actor_opt"])
        if self.critic_opt is not None:
            self.critic_opt.load_state_dict(state["critic_opt"])


class PPO(ClippedPolicyUpdate):
    """PPO over fixed-length rollouts of every environment, advantages by GAE (``algos.gae``)."""

    name = "ppo"

    def __init__(self, policy: ActorCritic, settings: PPOSection):
        super().__init__(policy, settings, settings.lr_actor, critic=True, lr_critic=settings.lr_critic,
                         vf_coef=settings.vf_coef, clip_vloss=settings.clip_vloss)
        self.settings = settings

    def collect(self, collector: Any, num_steps: int, update: int) -> Rollout:
        return collector.steps(num_steps)

    def learn(self, rollout: Rollout, rng: np.random.Generator) -> dict[str, float]:
        s = self.settings
        with torch.no_grad():
            batch = rollout.batch(lambda enc: self.policy.values(enc).float().cpu().tolist(), s.gamma, s.gae_lambda,
                                  s.time_limit_terminal)
        if not len(batch):
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
