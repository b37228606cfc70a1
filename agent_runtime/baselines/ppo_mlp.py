"""TWOSOME's PPO baseline: an MLP actor-critic on the symbolic observation, trained with PPO.

CleanRL-style and meant to be read top to bottom: collect ``num_steps`` decisions from every
environment, compute GAE, then run ``update_epochs`` epochs of clipped PPO over minibatches.

Inputs come from any VecEnv (``bridges.local.LocalVecEnv`` or a bridge):
- the observation is ``Observation.info["vector"]`` (a list of numbers, fixed length);
- the action space is discrete. When the simulator tags its skills with catalogue ids
  (``info["skill_ids"]``, ``info["num_skill_ids"]``, e.g. overcooked_ai, whose valid skills change
  with the state) the head has one output per catalogue id and invalid ids are masked out.
  Otherwise every skill must always be offered (the salad kitchen offers all of its skills) and the
  head has ``len(Observation.skills)`` outputs.
- one transition takes ``k`` primitive steps, so it is discounted by ``gamma ** k`` in both the TD
  error and the GAE recursion (the simulator already discounted the reward inside the macro).

An episode cut by a step limit (``truncated`` without ``done``) bootstraps from the value of its
last observation; a ``dropped`` episode (crashed simulator) ends without a bootstrap and is not
logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from agent_runtime.algos.gae import gae
from agent_runtime.episodes import EpisodeStats, episode_record
from agent_runtime.rollout import Collector
from bridges.spec import Observation, VecEnv


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant bias (as in CleanRL)."""
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class MLPAgent(nn.Module):
    """Separate two-layer tanh MLPs for the actor and the critic."""

    def __init__(self, obs_dim: int, num_actions: int, hidden: int = 64):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, num_actions), std=0.01),
        )

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def get_action_and_value(
        self, x: torch.Tensor, mask: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or score) an action among the unmasked ones: (action, log-prob, entropy, value)."""
        logits = self.actor(x).masked_fill(~mask, -1e9)
        dist = Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.get_value(x)


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    ks: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
    bootstrap: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over a rollout of shape [T, N] with the project's one GAE (``algos.gae``).

    ``dones[t]`` is 1 when transition t ended its episode; ``next_value`` is V of the observation after
    the last transition. ``bootstrap[t]``, where not NaN, is V of the last observation of an episode
    that transition t truncated (it is bootstrapped from). Returns (advantages, returns).
    """
    following = torch.cat([values[1:], next_value[None]])
    terminal = dones.clone()
    if bootstrap is not None:
        cut = ~torch.isnan(bootstrap)
        following = torch.where(cut, bootstrap, following)
        terminal = torch.where(cut, torch.zeros_like(dones), dones)
    return gae(rewards, values, following, ks, terminal, dones, gamma, gae_lambda)


class _ActionSpace:
    """Maps between the network's action ids and each observation's skill indices."""

    def __init__(self, first: Observation, num_actions: int | None):
        self.by_id = "skill_ids" in first.info
        if self.by_id:
            self.n = int(first.info.get("num_skill_ids") or num_actions or 0)
            if self.n < 1:
                raise ValueError("observations carry info['skill_ids'] but no info['num_skill_ids']: pass num_actions=")
        else:
            self.n = num_actions or len(first.skills)

    def mask(self, obs: Observation) -> list[bool]:
        if self.by_id:
            ids = obs.info["skill_ids"]
            if len(ids) != len(obs.skills):
                raise ValueError(f"info['skill_ids'] has {len(ids)} ids for {len(obs.skills)} skills")
            allowed = [False] * self.n
            for sid in ids:
                allowed[int(sid)] = True
            return allowed
        if len(obs.skills) != self.n:
            raise ValueError(
                f"the action space is fixed at {self.n} skills, but an observation offers {len(obs.skills)}; "
                "a simulator whose valid skills change must tag them with info['skill_ids']"
            )
        return [True] * self.n

    def skill_index(self, obs: Observation, action: int) -> int:
        return obs.info["skill_ids"].index(action) if self.by_id else action


def _vector(obs: Observation) -> list[float]:
    vec = obs.info.get("vector")
    if vec is None:
        raise ValueError(f"observation has no info['vector'] (symbolic observation) for the MLP: {obs.text[:80]!r}")
    return vec


def train_ppo_mlp(
    venv: VecEnv,
    total_decisions: int,
    seed: int = 0,
    hidden: int = 64,
    lr: float = 2.5e-4,
    num_steps: int = 128,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
    update_epochs: int = 4,
    num_minibatches: int = 4,
    clip_coef: float = 0.2,
    ent_coef: float = 0.01,
    vf_coef: float = 0.5,
    max_grad_norm: float = 0.5,
    anneal_lr: bool = True,
    norm_adv: bool = True,
    num_actions: int | None = None,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
    agent_out: dict[str, Any] | None = None,
    num_threads: int | None = 1,
) -> list[dict[str, Any]]:
    """Train an MLP actor-critic with PPO for ``total_decisions`` decisions (all environments together).

    Environments are reset with seeds ``seed + i``; torch, numpy and the sampler are seeded with
    ``seed``. Returns one record per finished episode (``episodes.episode_record``: ``decisions``
    so far, ``return``, ``success``, ``length``, ``primitive_steps``, ``env``; also passed to ``log_fn``). If ``agent_out``
    is a dict, the trained ``MLPAgent`` is stored in it under ``"agent"``. ``num_threads``: torch
    threads while training (default 1: a 64-unit MLP only loses to thread hand-offs, badly so on a
    busy machine); None leaves torch's setting alone.
    """
    with _torch_threads(num_threads):
        if total_decisions < 1:
            raise ValueError(f"total_decisions must be >= 1, got {total_decisions}")
        n_envs = venv.num_envs
        batch_size = n_envs * num_steps
        if batch_size % num_minibatches:
            raise ValueError(
                f"num_envs * num_steps ({batch_size}) must be divisible by num_minibatches ({num_minibatches})"
            )
        minibatch_size = batch_size // num_minibatches
        num_updates = max(1, -(-total_decisions // batch_size))

        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

        obs_list = venv.reset(seeds=[seed + i for i in range(n_envs)])
        space = _ActionSpace(obs_list[0], num_actions)
        obs_dim = len(_vector(obs_list[0]))
        agent = MLPAgent(obs_dim, space.n, hidden)
        optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
        stats = EpisodeStats(n_envs)
        logs: list[dict[str, Any]] = []
        decisions = 0

        def as_tensors(batch: Sequence[Observation]) -> tuple[torch.Tensor, torch.Tensor]:
            vecs = [_vector(o) for o in batch]
            if any(len(v) != obs_dim for v in vecs):
                raise ValueError(f"info['vector'] changed length (expected {obs_dim})")
            return (
                torch.tensor(vecs, dtype=torch.float32),
                torch.tensor([space.mask(o) for o in batch], dtype=torch.bool),
            )

        # Rollout storage
        obs_buf = torch.zeros((num_steps, n_envs, obs_dim))
        mask_buf = torch.zeros((num_steps, n_envs, space.n), dtype=torch.bool)
        actions = torch.zeros((num_steps, n_envs), dtype=torch.long)
        logprobs = torch.zeros((num_steps, n_envs))
        rewards = torch.zeros((num_steps, n_envs))
        dones = torch.zeros((num_steps, n_envs))
        ks = torch.zeros((num_steps, n_envs))
        values = torch.zeros((num_steps, n_envs))
        bootstrap = torch.full((num_steps, n_envs), float("nan"))

        next_obs, next_mask = as_tensors(obs_list)
        for update in range(num_updates):
            if anneal_lr:
                optimizer.param_groups[0]["lr"] = lr * (1.0 - update / num_updates)

            # 1. Collect num_steps decisions from every environment.
            for step in range(num_steps):
                obs_buf[step], mask_buf[step] = next_obs, next_mask
                with torch.no_grad():
                    action, logprob, _, value = agent.get_action_and_value(next_obs, next_mask)
                actions[step], logprobs[step], values[step] = action, logprob, value

                results = venv.step([space.skill_index(o, int(a)) for o, a in zip(obs_list, action.tolist())])
                decisions += n_envs
                for i, o in enumerate(results):
                    if o.dropped:
                        stats.pop(i)
                    else:
                        stats.add(i, o.reward, o.k)
                    if o.ended and not o.dropped:
                        logs.append(episode_record(i, None, stats.pop(i), o, decisions))
                        if log_fn is not None:
                            log_fn(logs[-1])
                    if o.truncated and not o.done and not o.dropped:
                        with torch.no_grad():  # cut by a step limit: bootstrap from the last observation
                            bootstrap[step, i] = agent.get_value(torch.tensor([_vector(o)], dtype=torch.float32))
                    rewards[step, i] = o.reward
                    ks[step, i] = o.k
                    dones[step, i] = float(o.ended or o.dropped)
                obs_list = [Collector._next(o) for o in results]
                next_obs, next_mask = as_tensors(obs_list)

            # 2. Advantages with GAE (discount gamma**k per transition).
            with torch.no_grad():
                next_value = agent.get_value(next_obs)
            advantages, returns = compute_gae(rewards, values, dones, ks, next_value, gamma, gae_lambda, bootstrap)

            # 3. PPO epochs over shuffled minibatches.
            b_obs = obs_buf.reshape(batch_size, obs_dim)
            b_mask = mask_buf.reshape(batch_size, space.n)
            b_actions, b_logprobs = actions.reshape(-1), logprobs.reshape(-1)
            b_adv, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
            for _ in range(update_epochs):
                for idx in torch.randperm(batch_size).split(minibatch_size):
                    _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                        b_obs[idx], b_mask[idx], b_actions[idx]
                    )
                    ratio = (newlogprob - b_logprobs[idx]).exp()
                    mb_adv = b_adv[idx]
                    if norm_adv and len(idx) > 1:
                        mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                    pg_loss = torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - clip_coef, 1 + clip_coef)).mean()
                    # Clipped value loss (CleanRL's default)
                    v_clipped = b_values[idx] + (newvalue - b_values[idx]).clamp(-clip_coef, clip_coef)
                    v_loss = 0.5 * torch.max((newvalue - b_returns[idx]) ** 2, (v_clipped - b_returns[idx]) ** 2).mean()
                    loss = pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                    optimizer.step()

        if agent_out is not None:
            agent_out["agent"] = agent
        return logs


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
