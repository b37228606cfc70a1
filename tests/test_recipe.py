"""The learning-recipe switches of the PPO update: adaptive actor lr, per-epoch KL stop, value warm-up,
exploration by a uniform mixture (behaviour log-prob of the mixture, ratio 1 before the first step)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agent_runtime.algos.ppo import PPO, mixture_log_probs
from agent_runtime.buffer import Batch
from agent_runtime.config import PPOSection
from agent_runtime.policy import ActorCritic
from agent_runtime.rollout import LLMActor
from bridges.spec import Observation

PROMPTS = ["The key is behind the red door. You should", "The key is behind the blue door. You should"] * 2
CANDS = [["open the red door", "open the blue door", "wait"], ["open the red door", "open the blue door"]] * 2


@pytest.fixture()
def policy(tiny_lm):
    from agent_runtime.models import load_model

    lm = load_model("tiny", seed=3)
    return ActorCritic(lm, lora_r=4, lora_alpha=8, lora_dropout=0.0, critic_hidden=[16], normalization="sum")


def PPOSettings(**kw):  # noqa: N802 - the settings are the config section
    return PPOSection(**kw)


def _ppo(policy, settings, lr_actor, lr_critic):
    settings.lr_actor, settings.lr_critic = lr_actor, lr_critic
    return PPO(policy, settings)


def decide(policy, prompts, cands, greedy, generator, explore_eps=0.0, with_values=True):
    """One acting round through the rollout loop's actor: (encoded, actions, behaviour log-probs, values, probs)."""
    actor = LLMActor(policy, with_values, generator, explore_eps=explore_eps)
    obs = [Observation(text=p, skills=c) for p, c in zip(prompts, cands)]
    scored = actor.score(prompts, obs)
    actions = actor.choose(scored, obs, greedy)
    logps = [(scored.behaviour or scored.log_probs)[i][a] for i, a in enumerate(actions)]
    probs = [[math.exp(x) for x in lp] for lp in scored.log_probs]
    return scored.encoded, actions, logps, scored.values, probs


def _batch(policy: ActorCritic, eps: float = 0.0) -> Batch:
    enc, actions, logps, values, _ = decide(policy, PROMPTS, CANDS, greedy=False, generator=torch.Generator().manual_seed(0),
                                            explore_eps=eps)  # fmt: skip
    return Batch(
        encoded=enc, actions=torch.tensor(actions), logps=torch.tensor(logps), values=torch.tensor(values),
        advantages=torch.tensor([1.0, 1.0, -1.0, -1.0]), returns=torch.tensor([1.0, 1.0, 0.0, 0.0]),
        overridden=torch.zeros(4, dtype=torch.bool),
    )  # fmt: skip


def test_mixture_log_probs_is_the_uniform_mixture_over_valid_candidates():
    lp = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0], [1.0, -1.0, 0.0]]), -1)
    lp[1, 2] = -math.inf  # row 1 has two valid candidates
    mix = mixture_log_probs(lp, 0.2)
    p = lp.exp()
    want0 = 0.8 * p[0] + 0.2 / 3
    want1 = 0.8 * p[1, :2] / p[1, :2].sum() * p[1, :2].sum() + 0.2 / 2
    torch.testing.assert_close(mix[0].exp(), want0)
    torch.testing.assert_close(mix[1, :2].exp(), want1)
    assert mix[1, 2] == -math.inf
    assert torch.equal(mixture_log_probs(lp, 0.0), lp)


def test_exploration_records_the_mixture_and_the_first_ratio_is_one(policy):
    """Acting with eps records log mixture(a); the update re-scores the same mixture, so KL starts at 0."""
    eps = 0.3
    batch = _batch(policy, eps)
    with torch.no_grad():
        lp = policy(batch.encoded, with_values=False).log_probs.float()
    mix = mixture_log_probs(lp, eps).gather(1, batch.actions[:, None]).squeeze(1)
    pure = lp.gather(1, batch.actions[:, None]).squeeze(1)
    torch.testing.assert_close(batch.logps, mix, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(batch.logps, pure, atol=1e-3)
    # lr 0: the parameters do not move, so the ratio of the re-scored mixture to the recorded one is exactly 1.
    ppo = _ppo(policy, PPOSettings(update_epochs=1, minibatch_size=4, micro_batch_size=4, explore_eps=eps), 0.0, 0.0)
    stats = ppo.update(batch, np.random.default_rng(0))
    assert stats["approx_kl"] == pytest.approx(0.0, abs=1e-6) and stats["clipfrac"] == 0.0


def test_exploration_samples_actions_pi_would_not(policy):
    """With eps close to 1 the behaviour is nearly uniform: all three skills get picked."""
    _, actions, logps, _, probs = decide(policy, PROMPTS[:1] * 64, CANDS[:1] * 64, greedy=False,
                                         generator=torch.Generator().manual_seed(1), explore_eps=0.99, with_values=False)
    assert set(actions) == {0, 1, 2}
    assert all(abs(math.exp(lp) - (0.01 * probs[i][actions[i]] + 0.99 / 3)) < 1e-5 for i, lp in enumerate(logps))


def test_value_warmup_trains_only_the_critic(policy):
    ppo = _ppo(policy, PPOSettings(update_epochs=2, minibatch_size=4, micro_batch_size=2, value_warmup_updates=1), 1e-2, 1e-2)
    actor0 = [p.detach().clone() for p in policy.actor_parameters()]
    critic0 = [p.detach().clone() for p in policy.critic_parameters()]
    stats = ppo.update(_batch(policy), np.random.default_rng(0))
    assert stats["value_warmup"] == 1.0
    assert all(torch.equal(a, p) for a, p in zip(actor0, policy.actor_parameters()))
    assert any(not torch.equal(c, p) for c, p in zip(critic0, policy.critic_parameters()))
    stats = ppo.update(_batch(policy), np.random.default_rng(0))  # the second update moves the actor
    assert stats["value_warmup"] == 0.0
    assert any(not torch.equal(a, p) for a, p in zip(actor0, policy.actor_parameters()))


def test_adaptive_lr_follows_the_kl_target(policy):
    # A tiny step and a large target: KL below target/1.5, the rate grows by the factor.
    ppo = _ppo(policy, PPOSettings(update_epochs=1, minibatch_size=4, micro_batch_size=4, kl_target=1.0, kl_lr_factor=2.0), 1e-4, 1e-3)
    ppo.update(_batch(policy), np.random.default_rng(0))
    assert ppo.lr_actor == pytest.approx(2e-4) and ppo.actor_opt.param_groups[0]["lr"] == pytest.approx(2e-4)
    # A large step and a tiny target: the rate shrinks, within the bounds.
    ppo = _ppo(policy, PPOSettings(update_epochs=3, minibatch_size=2, micro_batch_size=2, kl_target=1e-9, kl_lr_factor=2.0,
                                  lr_actor_min=4e-2), 1e-1, 1e-3)  # fmt: skip
    ppo.update(_batch(policy), np.random.default_rng(0))
    assert ppo.lr_actor == pytest.approx(5e-2)
    ppo.update(_batch(policy), np.random.default_rng(0))
    assert ppo.lr_actor == pytest.approx(4e-2)  # clamped at lr_actor_min
    # The adapted rate is part of the PPO state (checkpoints).
    other = _ppo(policy, ppo.s, 1e-1, 1e-3)
    other.load_state_dict(ppo.state_dict())
    assert other.lr_actor == pytest.approx(4e-2) and other.updates_done == 2


def test_per_epoch_kl_stop_finishes_the_epoch(policy):
    """kl_stop 'epoch': the first epoch runs all its 4 minibatches, then stops; 'minibatch' may stop inside one."""
    s = PPOSettings(update_epochs=10, minibatch_size=1, micro_batch_size=1, target_kl=1e-9, kl_stop="epoch", ent_coef=0.0)
    stats = _ppo(policy, s, 5e-2, 1e-3).update(_batch(policy), np.random.default_rng(0))
    assert stats["early_stop"] == 1.0 and stats["actor_steps"] > 0 and stats["actor_steps"] % 4 == 0  # whole epochs
    s2 = PPOSettings(update_epochs=10, minibatch_size=1, micro_batch_size=1, target_kl=1e-9, kl_stop="minibatch", ent_coef=0.0)
    stats2 = _ppo(policy, s2, 5e-2, 1e-3).update(_batch(policy), np.random.default_rng(0))
    assert stats2["early_stop"] == 1.0 and stats2["actor_steps"] <= stats["actor_steps"]
