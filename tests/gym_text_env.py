"""A small gymnasium text environment for the gym adapter tests (served by a real bridge server).

The key is in one of three places; "look in X" finds it or not, "take key" once it is seen,
"open door" with the key wins (+1). Text observation, Text action space, the valid commands
in ``info["valid_actions"]``.
"""

from __future__ import annotations

import gymnasium
from gymnasium import spaces

PLACES = ["desk", "box", "bed"]


class KeyDoorEnv(gymnasium.Env):
    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 (gymnasium's convention)

    def __init__(self, render_mode: str | None = None, places: int = 3):
        self.places = PLACES[:places]
        self.observation_space = spaces.Text(max_length=400)
        self.action_space = spaces.Text(max_length=40)
        self.render_mode = render_mode
        self._text = ""

    def _valid(self) -> list[str]:
        acts = [f"look in {p}" for p in self.places]
        if self.seen and not self.has_key:
            acts.append("take key")
        return acts + ["open door"]

    def _info(self) -> dict:
        return {"valid_actions": self._valid(), "goal": "open the door", "checks": self.checks}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.key_at = self.places[int(self.np_random.integers(len(self.places)))]
        self.seen = self.has_key = False
        self.checks = 0
        self._text = "You are in a room with a locked door, a " + ", a ".join(self.places) + "."
        return self._text, self._info()

    def step(self, action: str):
        reward, done = 0.0, False
        if action.startswith("look in "):
            self.checks += 1
            here = action[len("look in "):] == self.key_at
            self.seen = self.seen or here
            self._text = "You see a key." if here else "Nothing here."
        elif action == "take key" and self.seen:
            self.has_key = True
            self._text = "You take the key."
        elif action == "open door":
            done = self.has_key
            reward = 1.0 if done else 0.0
            self._text = "The door opens. You won!" if done else "The door is locked."
        else:
            self._text = "You can't do that."
        info = self._info()
        if done:
            info["success"] = True
        return self._text, reward, done, False, info

    def render(self):
        return self._text if self.render_mode == "ansi" else None


def make(**kwargs) -> KeyDoorEnv:
    return KeyDoorEnv(**kwargs)


gymnasium.register("KeyDoor-v0", entry_point=f"{__name__}:KeyDoorEnv", max_episode_steps=20)
