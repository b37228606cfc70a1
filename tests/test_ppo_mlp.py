"""PPO-MLP and random baselines on a tiny corridor with a symbolic observation (fast, CPU)."""

from __future__ import annotations

import pytest
import torch

from agent_runtime.baselines import compute_gae, run_random, train_ppo_mlp
from bridges.local import LocalVecEnv
from bridges.spec import Observation, SkillError

SKILLS = ["go left", "go right", "wait"]


class Corridor:
    """Cells 0..length-1; start at 0, +1 and the end on reaching the last cell; ``limit`` decisions.

    ``tagged``: offer only the moves possible now and tag them with ``skill_ids`` (the
    overcooked_ai convention); otherwise all three skills are always offered. "wait" takes
    2 primitive steps so that transitions have different ``k``.
    """

    name, task = "corridor", "reach-the-end"

    def __init__(self, length: int = 7, limit: int = 20, tagged: bool = True):
        self.length, self.limit, self.tagged = length, limit, tagged
        self.pos = self.t = 0
        self.ids: list[int] = []

    def _obs(self, reward: float = 0.0, k: int = 0, done: bool = False, truncated: bool = False) -> Observation:
        ids = [0, 1, 2] if not self.tagged else [s for s in (0, 1, 2) if not (s == 0 and self.pos == 0)]
        self.ids = ids
        vector = [1.0 if i == self.pos else 0.0 for i in range(self.length)]
        info = {"vector": vector}
        if self.tagged:
            info.update(skill_ids=list(ids), num_skill_ids=3)
        if done or truncated:
            info["success"] = done
        return Observation(text=f"at {self.pos}", skills=[SKILLS[i] for i in ids], reward=reward, k=k,
                           done=done, truncated=truncated, info=info)

    def reset(self, seed: int | None = None) -> Observation:
        self.pos = self.t = 0
        return self._obs()

    def step(self, skill: int) -> Observation:
        if not 0 <= skill < len(self.ids):
            raise SkillError(f"skill {skill} out of range")
        sid = self.ids[skill]
        self.t += 1
        self.pos = max(0, min(self.length - 1, self.pos + {0: -1, 1: 1, 2: 0}[sid]))
        k = 2 if sid == 2 else 1
        if self.pos == self.length - 1:
            return self._obs(reward=1.0, k=k, done=True)
        return self._obs(k=k, truncated=self.t >= self.limit)

    def close(self) -> None:
        pass


def corridors(n: int, **kw) -> LocalVecEnv:
    return LocalVecEnv([lambda: Corridor(**kw) for _ in range(n)])


def test_compute_gae_discounts_each_transition_by_gamma_to_the_k():
    # One env, three transitions: k = 1, 3, 2; the second ends its episode.
    rewards = torch.tensor([[0.5], [1.0], [0.2]])
    values = torch.tensor([[0.1], [0.4], [0.3]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])
    ks = torch.tensor([[1.0], [3.0], [2.0]])
    next_value = torch.tensor([0.7])
    g, lam = 0.9, 0.8
    adv, ret = compute_gae(rewards, values, dones, ks, next_value, g, lam)
    d2 = 0.2 + g**2 * 0.7 - 0.3
    d1 = 1.0 - 0.4  # episode ended: no bootstrap, and the recursion stops here
    d0 = 0.5 + g * 0.4 - 0.1
    a2, a1 = d2, d1
    a0 = d0 + g * lam * a1
    assert adv[:, 0].tolist() == pytest.approx([a0, a1, a2])
    assert ret[:, 0].tolist() == pytest.approx([a0 + 0.1, a1 + 0.4, a2 + 0.3])


def test_random_policy_logs_whole_episodes():
    logs = run_random(corridors(2), total_decisions=300, seed=0)
    assert logs, "no episode finished in 300 random decisions"
    assert all(set(log) >= {"decisions", "return", "success", "length"} for log in logs)
    assert [log["decisions"] for log in logs] == sorted(log["decisions"] for log in logs)
    assert all(log["length"] <= 20 for log in logs)
    assert all(log["return"] == (1.0 if log["success"] else 0.0) for log in logs)


@pytest.mark.parametrize("tagged", [True, False], ids=["skill-ids-masked", "fixed-skills"])
def test_ppo_mlp_learns_the_corridor(tagged):
    random_logs = run_random(corridors(4, tagged=tagged), total_decisions=2000, seed=1)
    random_success = sum(log["success"] for log in random_logs) / len(random_logs)

    seen: list[dict] = []
    out: dict = {}
    logs = train_ppo_mlp(corridors(4, tagged=tagged), total_decisions=6144, seed=1, num_steps=64,
                         lr=3e-3, hidden=32, log_fn=seen.append, agent_out=out)
    assert seen == logs
    assert isinstance(out["agent"], torch.nn.Module)
    last = logs[-40:]
    success = sum(log["success"] for log in last) / len(last)
    mean_len = sum(log["length"] for log in last) / len(last)
    # The shortest way is 6 decisions; a random walk mostly fails within 20.
    assert random_success < 0.5, random_success
    assert success >= 0.95, (success, random_success)
    assert mean_len <= 8, mean_len


def test_ppo_mlp_rejects_what_it_cannot_use():
    class NoVector(Corridor):
        def _obs(self, *a, **kw):
            obs = super()._obs(*a, **kw)
            obs.info.pop("vector")
            return obs

    with pytest.raises(ValueError, match="vector"):
        train_ppo_mlp(LocalVecEnv([NoVector]), total_decisions=8, num_steps=8, num_minibatches=1)

    class Shrinking(Corridor):  # the number of skills changes, without skill_ids
        def __init__(self):
            super().__init__(tagged=True)

        def _obs(self, *a, **kw):
            obs = super()._obs(*a, **kw)
            del obs.info["skill_ids"], obs.info["num_skill_ids"]
            return obs

    with pytest.raises(ValueError, match="skill_ids"):
        train_ppo_mlp(LocalVecEnv([Shrinking]), total_decisions=64, num_steps=64, num_minibatches=1, seed=3)
    with pytest.raises(ValueError, match="divisible"):
        train_ppo_mlp(corridors(3), total_decisions=10, num_steps=5, num_minibatches=4)


def test_command_line_writes_episode_logs(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "ppo.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "agent_runtime.baselines", "ppo-mlp", "--config", "configs/overcooked-tomato-salad.yaml",
         "--decisions", "512", "--num-steps", "64", "--seed", "2", "--set", "env.in_process=true", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr
    logs = [json.loads(line) for line in out.read_text().splitlines()]
    assert logs and {"decisions", "return", "success", "length", "primitive_steps"} <= set(logs[0])
    assert "ppo-mlp:" in proc.stdout and str(out) in proc.stdout
