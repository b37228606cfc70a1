"""The one rollout loop: environments -> prompts -> scores -> actions -> environments.

Training, evaluation and every baseline policy run through ``Collector``. It owns the vector
environment, the prompt building, the guidance hook and the override source (a person at the TUI);
it records each transition once, complete, and handles ended, truncated and dropped episodes in one
place: a dropped episode (its simulator crashed and was restarted) is removed from the rollout,
never logged, and counted in ``dropped``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from agent_runtime.buffer import Episode, Rollout, Transition
from agent_runtime.episodes import EpisodeStats, episode_record
from agent_runtime.prompt import PromptBuilder
from agent_runtime.scoring import EncodedPrompt
from agent_runtime.sinks import Sink
from bridges.spec import Observation, VecEnv

log = logging.getLogger("agent_runtime")


# ---------------------------------------------------------------- policies
@dataclass
class Scored:
    """A policy's view of one round: per env the skills' log-probabilities (and value, encoding)."""

    log_probs: list[list[float]]  # the policy's (what a person sees)
    values: list[float] | None = None
    encoded: list[EncodedPrompt] | None = None
    behaviour: list[list[float]] | None = None  # what actions are drawn from, when that is not the policy


class Actor(Protocol):
    """Scores the valid skills of each environment, then picks one per environment."""

    def score(
        self, prompts: list[str], obs: list[Observation], encoded: list[EncodedPrompt] | None = None
    ) -> Scored: ...

    def choose(self, scored: Scored, obs: list[Observation], greedy: bool) -> list[int]: ...


class LLMActor:
    """The LLM policy: softmax over the valid skills' scores; sampled, greedy, or SayCan-greedy.

    ``saycan``: greedy on p_LLM(skill) x affordance(skill) (``info['affordance']``, else 1).
    ``explore_eps``: sample from ``(1 - eps) * pi + eps * uniform`` (its log-prob is recorded).
    """

    def __init__(
        self,
        policy: Any,
        with_values: bool = True,
        generator: torch.Generator | None = None,
        saycan: bool = False,
        explore_eps: float = 0.0,
    ):
        self.policy = policy
        self.with_values = with_values
        self.generator = generator
        self.saycan = saycan
        self.explore_eps = explore_eps

    @torch.no_grad()
    def score(self, prompts: list[str], obs: list[Observation], encoded: list[EncodedPrompt] | None = None) -> Scored:
        if encoded is None:
            encoded = self.policy.encode(prompts, [o.skills for o in obs])
        out = self.policy(encoded, with_values=self.with_values)
        lp = out.log_probs.float().cpu()
        values = out.values.float().cpu().tolist() if out.values is not None else None
        scored = Scored([lp[i, : len(o.skills)].tolist() for i, o in enumerate(obs)], values, encoded)
        if self.explore_eps > 0:
            from agent_runtime.algos.ppo import mixture_log_probs

            mix = mixture_log_probs(lp, self.explore_eps)
            scored.behaviour = [mix[i, : len(o.skills)].tolist() for i, o in enumerate(obs)]
        return scored

    def choose(self, scored: Scored, obs: list[Observation], greedy: bool) -> list[int]:
        actions = []
        for lp, o in zip(scored.log_probs if greedy or scored.behaviour is None else scored.behaviour, obs):
            t = torch.tensor(lp).exp()
            if self.saycan:
                t = t * affordance(o)
            if greedy or self.saycan:
                actions.append(int(torch.argmax(t)))
            else:
                actions.append(int(torch.multinomial(t, 1, generator=self.generator)))
        return actions


class RandomActor:
    """Uniform over each observation's valid skills."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def score(self, prompts: list[str], obs: list[Observation], encoded: list[EncodedPrompt] | None = None) -> Scored:
        for i, o in enumerate(obs):
            if not o.skills:
                raise ValueError(f"environment {i} offers no skills: {o.text[:80]!r}")
        return Scored([[-math.log(len(o.skills))] * len(o.skills) for o in obs])

    def choose(self, scored: Scored, obs: list[Observation], greedy: bool) -> list[int]:
        return [self.rng.randrange(len(o.skills)) for o in obs]


def affordance(obs: Observation) -> torch.Tensor:
    """Affordance of each offered skill (the mask: all ones unless the simulator says otherwise)."""
    a = obs.info.get("affordance")
    if a is None:
        return torch.ones(len(obs.skills))
    if len(a) != len(obs.skills):
        raise ValueError(f"info['affordance'] has {len(a)} values for {len(obs.skills)} skills")
    return torch.tensor([float(x) for x in a])


# ---------------------------------------------------------------- a person, and guidance
class Control(Protocol):
    """Where a person steers the loop (the telemetry control socket), or nothing."""

    greedy: bool | None

    def set_pending(self, entries: list[dict[str, Any]] | None) -> None: ...

    def wait_while_paused(self) -> None: ...

    def take_override(self, env: int, num_skills: int) -> int | None: ...


class NoControl:
    greedy: bool | None = None

    def set_pending(self, entries: list[dict[str, Any]] | None) -> None:
        return None

    def wait_while_paused(self) -> None:
        return None

    def take_override(self, env: int, num_skills: int) -> int | None:
        return None


class Guide(Protocol):
    """Sub-goals for the prompts (RLAdapter); told what was chosen and when episodes end."""

    def subgoals(self, obs: list[Observation]) -> list[str]: ...

    def observe(self, obs: list[Observation], actions: list[int]) -> None: ...

    def episode_end(self, env: int, obs: Observation) -> None: ...


# ---------------------------------------------------------------- the loop
class Collector:
    """Steps ``venv`` with ``actor``; emits decision and episode events to ``sink``."""

    def __init__(
        self,
        venv: VecEnv,
        actor: Actor,
        prompts: PromptBuilder | None = None,
        sink: Sink | None = None,
        guide: Guide | None = None,
        control: Control | None = None,
        greedy: bool = False,
        decisions: int = 0,
        base_seed: int = 0,
    ):
        self.venv = venv
        self.n = venv.num_envs
        self.actor = actor
        self.prompts = prompts or PromptBuilder()
        self.sink = sink or Sink()
        self.guide = guide
        self.control = control or NoControl()
        self.greedy = greedy
        self.decisions = decisions  # all environments' decisions so far (the global step)
        self.world = 1  # data-parallel ranks acting in step (each round is world x n decisions)
        self.episodes = 0
        self.dropped = 0
        self.stats = EpisodeStats(self.n)
        self.obs: list[Observation] | None = None
        self.seeds: list[int | None] = [None] * self.n  # each env's episode start seed, where known
        self.lost = [False] * self.n  # per env: its last step dropped the episode
        self.base_seed = base_seed  # where algorithms that pick start seeds (grouped episodes) start
        self.on_round: Callable[[], Any] | None = None  # called after every round (progress, requests)
        self.halt = False  # set (e.g. by on_round) to end the current collection after this round
        self._pre: tuple[list[Observation], list[str], list[EncodedPrompt]] | None = None

    def reset(self, seeds: list[int]) -> None:
        self.obs = self.venv.reset(seeds)
        self.seeds = list(seeds)
        self.stats = EpisodeStats(self.n)

    def steps(self, num_steps: int) -> Rollout:
        """``num_steps`` rounds of every environment (episodes reset automatically)."""
        rollout = Rollout(self.n)
        for _ in range(num_steps):
            self._round(rollout)
            if self.halt:
                break
        self.last_encoded(rollout)
        return rollout

    def last_encoded(self, rollout: Rollout) -> None:
        """Tokenise the observations the environments act on next (the rollout's bootstrap states)."""
        policy = getattr(self.actor, "policy", None)
        if policy is None or self.obs is None:
            return
        subgoals = self.guide.subgoals(self.obs) if self.guide else [""] * self.n
        prompts = [self.prompts.build(o, g) for o, g in zip(self.obs, subgoals)]
        encoded: list[EncodedPrompt] = policy.encode(prompts, [o.skills for o in self.obs])
        rollout.last = encoded
        self._pre = (self.obs, prompts, encoded)  # the next round acts on these: encoded once

    def run(self, decisions: int) -> list[dict[str, Any]]:
        """Act until ``decisions`` more decisions are made; the finished episodes' records."""
        out: list[dict[str, Any]] = []
        start = self.decisions
        while self.decisions - start < decisions:
            out += [e.record for e in self._round(Rollout(self.n))]
        return out

    def episodes_from(self, seeds: list[int]) -> list[Episode]:
        """One episode from each start seed (``n`` at a time); in the order they finish."""
        done: list[Episode] = []
        for start in range(0, len(seeds), self.n):
            chunk = seeds[start : start + self.n]
            self.reset(chunk + [chunk[-1]] * (self.n - len(chunk)))
            live = [i < len(chunk) for i in range(self.n)]
            rollout = Rollout(self.n)
            while any(live) and not self.halt:
                ended = self._round(rollout, live)
                done += ended
                for e in ended:
                    live[e.record["env"]] = False
                for i in range(self.n):
                    if live[i] and self.lost[i]:
                        live[i] = False
        return done

    # ------------------------------------------------------------ one round
    def _round(self, rollout: Rollout, live: list[bool] | None = None) -> list[Episode]:
        """One decision per environment, one step of the environments; the episodes that ended."""
        obs = self.obs
        if obs is None:
            raise RuntimeError("Collector.reset(seeds) first")
        subgoals = self.guide.subgoals(obs) if self.guide else [""] * self.n
        prompts = [self.prompts.build(o, sg) for o, sg in zip(obs, subgoals)]
        pre = self._pre
        same = pre is not None and pre[0] is obs and pre[1] == prompts
        scored = self.actor.score(prompts, obs, pre[2] if pre is not None and same else None)
        self._pre = None
        probs = [[math.exp(x) for x in lp] for lp in scored.log_probs]
        ctl = self.control
        ctl.set_pending([
            {"observation": o.text, "skills": o.skills, "probs": probs[i],
             "value": scored.values[i] if scored.values else None}
            for i, o in enumerate(obs)
        ])  # fmt: skip
        ctl.wait_while_paused()
        greedy = self.greedy if ctl.greedy is None else ctl.greedy
        actions = self.actor.choose(scored, obs, greedy)
        overridden = [False] * self.n
        for i, o in enumerate(obs):
            forced = ctl.take_override(i, len(o.skills))
            if forced is not None:
                actions[i], overridden[i] = forced, True
        for i, o in enumerate(obs):
            self.sink.decision({
                "env": i, "step": self.decisions + i, "episode_step": self.stats.length[i], "prompt": prompts[i],
                "observation": o.text, "skills": o.skills, "probs": probs[i],
                "value": scored.values[i] if scored.values else None, "action": actions[i],
                "action_text": o.skills[actions[i]], "overridden": overridden[i], "reward": o.reward, "greedy": greedy,
            })  # fmt: skip
        if self.guide:
            self.guide.observe(obs, actions)
        results = self.venv.step(actions)
        self.decisions += self.n * self.world
        ended = self._record(rollout, scored, actions, overridden, results, live, subgoals)
        rollout.episodes += ended
        if self.on_round is not None:
            self.on_round()
        return ended

    def _record(
        self,
        rollout: Rollout,
        scored: Scored,
        actions: list[int],
        overridden: list[bool],
        results: list[Observation],
        live: list[bool] | None,
        subgoals: list[str],
    ) -> list[Episode]:
        ended: list[Episode] = []
        nxt: list[Observation] = []
        self.lost = [False] * self.n
        enc = scored.encoded
        for i, o in enumerate(results):
            if o.dropped:
                n = rollout.drop_partial_episode(i)
                self.stats.pop(i)
                self.dropped += 1
                self.lost[i] = True
                self.seeds[i] = None
                log.warning(
                    "env %d: simulator lost and restarted; dropped its partial episode (%d decisions)", i, n + 1
                )
                nxt.append(self._next(o))
                continue
            t = Transition(
                encoded=enc[i] if enc else None, action=actions[i], logp=(scored.behaviour or scored.log_probs)[i][actions[i]],
                value=scored.values[i] if scored.values else None, reward=o.reward, k=max(1, o.k),
                done=o.done, truncated=o.truncated and not o.done, overridden=overridden[i],
            )  # fmt: skip
            if t.truncated and enc:  # tokenised now: its bootstrap value is computed at update time
                t.final = self._encode_final(o, subgoals[i])
            rollout.add(i, t)
            self.stats.add(i, o.reward, o.k)
            if o.ended:
                ep = self._episode_end(i, o, rollout, live)
                if ep is not None:
                    ended.append(ep)
            nxt.append(self._next(o))
        self.obs = nxt
        return ended

    def _episode_end(self, i: int, o: Observation, rollout: Rollout, live: list[bool] | None) -> Episode | None:
        totals = self.stats.pop(i)
        if self.guide:
            self.guide.episode_end(i, o)
        if live is not None and not live[i]:
            return None  # an idle environment of an evaluation chunk: not one of the asked-for episodes
        self.episodes += 1
        rec = episode_record(i, self.seeds[i], totals, o, self.decisions)
        self.sink.episode(rec)
        seed, self.seeds[i] = self.seeds[i], None  # the next episode starts from a seed the simulator picks
        return Episode(seed, rollout.steps[i][-totals[1] :], rec)

    def _encode_final(self, o: Observation, subgoal: str) -> EncodedPrompt:
        """The last observation of a truncated episode (under the episode's sub-goal), tokenised."""
        return self.actor.policy.encode([self.prompts.build(o, subgoal)], [o.skills or [""]])[0]  # type: ignore[attr-defined]

    @staticmethod
    def _next(o: Observation) -> Observation:
        if o.ended or o.dropped:
            if o.reset_obs is None:
                raise ValueError("an ended episode's observation carries no reset_obs: the VecEnv must auto-reset")
            return o.reset_obs
        return o
