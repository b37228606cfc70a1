"""Rollouts (the one GAE with gamma**k, truncation), PPO update rules, override handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent_runtime.algos.ppo import PPO
from agent_runtime.buffer import Rollout, Transition
from agent_runtime.config import PPOSection
from agent_runtime.policy import ActorCritic


def _d(value=0.0, reward=0.0, k=1, done=False, overridden=False, action=0, truncated=False, final=None):
    return Transition(encoded=None, action=action, logp=-1.0, value=value, reward=reward, k=k, done=done,
                      truncated=truncated, overridden=overridden, final=final)


def PPOSettings(**kw):  # noqa: N802 - the settings are the config section; learning rates live there too
    return PPOSection(**kw)


def _ppo(policy, settings, lr_actor, lr_critic):
    settings.lr_actor, settings.lr_critic = lr_actor, lr_critic
    return PPO(policy, settings)


def test_gae_discounts_by_gamma_to_the_k():
    buf = Rollout(1)
    for d in [_d(value=0.5, reward=0.1, k=3), _d(value=0.2, reward=1.0, k=2, done=True), _d(value=0.4, reward=0.0, k=1)]:
        buf.add(0, d)
    buf.last = ["next"]
    g, lam = 0.9, 0.8
    batch = buf.batch(lambda enc: [0.7] * len(enc), gamma=g, gae_lambda=lam, time_limit_terminal=False)
    # by hand, backwards
    d2 = 0.0 + g**1 * 0.7 - 0.4
    a2 = d2
    d1 = 1.0 - 0.2  # episode ended: no bootstrap, no carry
    a1 = d1
    d0 = 0.1 + g**3 * 0.2 - 0.5
    a0 = d0 + g**3 * lam * a1
    torch.testing.assert_close(batch.advantages, torch.tensor([a0, a1, a2]))
    torch.testing.assert_close(batch.returns, torch.tensor([a0 + 0.5, a1 + 0.2, a2 + 0.4]))


@pytest.mark.parametrize("time_limit_terminal", [False, True])
def test_truncated_episode_bootstraps_unless_the_time_limit_is_terminal(time_limit_terminal):
    """A step-limit cut bootstraps from the value of the episode's last observation (0.9 here), unless the
    config declares the time limit part of the task (TWOSOME's setting)."""
    buf = Rollout(1)
    buf.add(0, _d(value=0.5, reward=0.1, k=2))
    buf.add(0, _d(value=0.3, reward=0.2, k=1, truncated=True, final="last obs"))
    buf.add(0, _d(value=0.6, reward=0.0, k=1))  # the next episode, cut by the rollout's end
    buf.last = ["next obs"]
    values = {"last obs": 0.9, "next obs": 0.7}
    g, lam = 0.9, 0.8
    batch = buf.batch(lambda enc: [values[e] for e in enc], gamma=g, gae_lambda=lam, time_limit_terminal=time_limit_terminal)
    a2 = 0.0 + g * 0.7 - 0.6
    a1 = 0.2 + (0.0 if time_limit_terminal else g * 0.9) - 0.3  # no carry across the episode boundary
    a0 = (0.1 + g**2 * 0.3 - 0.5) + g**2 * lam * a1
    torch.testing.assert_close(batch.advantages, torch.tensor([a0, a1, a2]))


def test_drop_partial_episode_keeps_finished_ones():
    buf = Rollout(2)
    buf.add(0, _d(reward=1.0, done=True))
    buf.add(0, _d(reward=0.0))
    buf.add(0, _d())  # in flight when the simulator died
    buf.add(1, _d())
    assert buf.drop_partial_episode(0) == 2
    assert len(buf.steps[0]) == 1 and buf.steps[0][0].reward == 1.0
    assert len(buf.steps[1]) == 1


@pytest.fixture()
def policy(tiny_lm):
    from agent_runtime.models import load_model

    lm = load_model("tiny", seed=3)
    return ActorCritic(lm, lora_r=4, lora_alpha=8, lora_dropout=0.0, critic_hidden=[16], normalization="sum")


def _batch(policy, overridden, actions=(0, 1, 1, 0)):
    from agent_runtime.buffer import Batch

    prompts = ["The key is behind the red door. You should", "The key is behind the blue door. You should"] * 2
    cands = [["open the red door", "open the blue door"]] * 4
    enc = policy.encode(prompts, cands)
    with torch.no_grad():
        out = policy(enc)
    acts = torch.tensor(list(actions))
    logps = out.log_probs.gather(1, acts[:, None]).squeeze(1)
    return Batch(
        encoded=enc, actions=acts, logps=logps, values=out.values.clone(),
        advantages=torch.tensor([1.0, 1.0, -1.0, -1.0]), returns=torch.tensor([1.0, 1.0, 0.0, 0.0]),
        overridden=torch.tensor(overridden),
    )  # fmt: skip


def test_update_moves_policy_toward_advantage(policy):
    ppo = _ppo(policy, PPOSettings(update_epochs=4, minibatch_size=4, micro_batch_size=2, ent_coef=0.0), 1e-2, 1e-2)
    batch = _batch(policy, [False] * 4)
    stats = ppo.update(batch, np.random.default_rng(0))
    with torch.no_grad():
        new = policy(batch.encoded).log_probs.gather(1, batch.actions[:, None]).squeeze(1)
    assert new[:2].sum() > batch.logps[:2].sum()  # positive advantage: more likely
    assert new[2:].sum() < batch.logps[2:].sum()  # negative: less likely
    assert stats["approx_kl"] > 0 and np.isfinite(stats["v_loss"])


def test_overridden_steps_do_not_enter_the_ratio(policy):
    """All steps overridden and no BC: the actor gets no policy gradient at all."""
    ppo = _ppo(policy, PPOSettings(update_epochs=1, minibatch_size=4, micro_batch_size=4, ent_coef=0.0, bc_coef=0.0), 1e-2, 1e-2)
    before = {n: p.detach().clone() for n, p in policy.model.named_parameters() if p.requires_grad}
    stats = ppo.update(_batch(policy, [True] * 4), np.random.default_rng(0))
    assert stats["pg_loss"] == 0.0 and stats["approx_kl"] == 0.0
    for n, p in policy.model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p, before[n])  # critic input is the base model: the actor is untouched


def test_behaviour_cloning_pulls_toward_the_person(policy):
    ppo = _ppo(policy, PPOSettings(update_epochs=3, minibatch_size=4, micro_batch_size=4, ent_coef=0.0, bc_coef=1.0), 1e-2, 1e-2)
    batch = _batch(policy, [True] * 4, actions=(0, 0, 0, 0))  # the person always opens the red door
    batch.advantages = torch.tensor([-5.0, -5.0, -5.0, -5.0])  # would push away if it entered the ratio
    stats = ppo.update(batch, np.random.default_rng(0))
    with torch.no_grad():
        new = policy(batch.encoded).log_probs.gather(1, batch.actions[:, None]).squeeze(1)
    assert stats["bc_loss"] > 0
    assert new.sum() > batch.logps.sum()


def test_target_kl_stops_early(policy):
    ppo = _ppo(policy, PPOSettings(update_epochs=20, minibatch_size=2, micro_batch_size=2, target_kl=1e-6), 5e-2, 1e-2)
    stats = ppo.update(_batch(policy, [False] * 4), np.random.default_rng(0))
    assert stats["early_stop"] == 1.0


def test_lr_anneal(policy):
    ppo = _ppo(policy, PPOSettings(), 1e-3, 2e-3)
    ppo.set_lr_fraction(0.25)
    assert ppo.actor_opt.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert ppo.critic_opt.param_groups[0]["lr"] == pytest.approx(5e-4)
