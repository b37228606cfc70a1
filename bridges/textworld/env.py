"""TextWorld games as a SkillEnv: the admissible commands are the skills, the score is the reward.

Tasks:

- ``simple``: TextWorld's ``tw-simple`` challenge (a fixed house, a generated quest);
  options ``rewards`` (dense | balanced | sparse) and ``goal`` (detailed | brief | none).
- ``custom``: ``tw-make custom``: options ``world_size`` (rooms), ``nb_objects``, ``quest_length``.
- any task name with the option ``game``: a user's own ``.z8`` / ``.ulx`` file (``task`` is a label).

Generated games are compiled offline at first use into ``cache_dir`` (default
``~/.cache/agent-runtime/textworld`` or ``$AGENT_RUNTIME_CACHE/textworld``), one file per
(task, settings, game seed), and re-used after.  ``games`` > 1 makes several games
(game seeds ``game_seed`` .. ``game_seed + games - 1``); an episode plays the game its
reset seed picks (seed mod ``games``).

Reward: the change of the game's score over the command; ``done`` when the game is won or
lost; ``info["success"]`` = won; ``truncated`` after ``max_steps`` commands.
``exclude``: command prefixes left out of the skills (e.g. ``["examine", "look", "inventory"]``:
commands that only show text); commands the game needs stay when nothing else is left.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

from bridges.registry import Option, Simulator
from bridges.spec import Observation, SkillError

CHALLENGES = {"simple": "tw-simple"}
_BANNER_END = re.compile(r"\$\$\s*\n\s*\n", re.DOTALL)
_STATUS = re.compile(r"^\s*-= [^=]+ =-\s*\d+/\d+\s*$", re.MULTILINE)  # the status line: room, score/moves


def default_cache_dir() -> Path:
    root = os.environ.get("AGENT_RUNTIME_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "agent-runtime")
    return Path(root) / "textworld"


def generate_game(task: str, game_seed: int, cache_dir: str | Path | None = None, **settings: Any) -> Path:
    """Compile (once) and return the path of a generated game; safe when several processes ask at once."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    key = json.dumps({"task": task, "seed": game_seed, **settings}, sort_keys=True)
    stem = f"{task}-s{game_seed}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    path = cache / f"{stem}.z8"
    with open(cache / f"{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        with warnings.catch_warnings():  # jericho warns while TextWorld checks the walkthrough
            warnings.filterwarnings("ignore", message=".*is not fully supported.*")
            built = _build(task, game_seed, cache / f"{stem}.tmp.z8", settings)
        for ext in (".json", ".ni"):  # the game's metadata, next to it
            side = built.with_suffix(ext)
            if side.exists():
                side.replace(path.with_suffix(ext))
        built.replace(path)
        return path


def _build(task: str, game_seed: int, out: Path, settings: dict[str, Any]) -> Path:
    import textworld
    import textworld.challenges
    from textworld.generator import compile_game

    options = textworld.GameOptions()
    options.seeds = game_seed
    options.path = str(out)
    options.file_ext = ".z8"
    options.force_recompile = True
    if task == "custom":
        options.nb_rooms = int(settings["world_size"])
        options.nb_objects = int(settings["nb_objects"])
        n = int(settings["quest_length"])
        options.chaining.min_length = options.chaining.max_length = options.chaining.max_depth = n
        game = textworld.generator.make_game(options)
    elif task in CHALLENGES:
        _, make_game, _ = textworld.challenges.CHALLENGES[CHALLENGES[task]]
        game = make_game(
            settings={"rewards": settings["rewards"], "goal": settings["goal"], "test": False}, options=options
        )
    else:
        raise ValueError(f"unknown textworld task {task!r}: use simple, custom, or give the option game (a .z8/.ulx)")
    return Path(compile_game(game, options))


def _clean(text: str) -> str:
    """Feedback without the title banner, the '>' prompt and runs of blank lines."""
    m = _BANNER_END.search(text)
    if m and "$$" in text[: m.start() + 2]:
        text = text[m.end() :]
    text = _STATUS.sub("", text.replace(">", " ")).strip()
    return re.sub(r"\n\s*\n+", "\n", re.sub(r"[ \t]+", " ", text))


class TextWorldEnv:
    """One TextWorld game at a time (``textworld.start``), admissible commands as skills."""

    name = "textworld"

    def __init__(
        self,
        games: list[Path],
        task: str = "simple",
        seed: int | None = None,
        max_steps: int = 50,
        exclude: list[str] | None = None,
        inventory: bool = True,
        description: bool = True,
    ):
        import textworld

        self._textworld = textworld
        self.games = games
        self.task = task
        self.max_steps = max_steps
        self.exclude = tuple(exclude or ())
        self.show_inventory = inventory
        self.show_description = description
        self._infos = textworld.EnvInfos(
            admissible_commands=True,
            policy_commands=True,
            won=True,
            lost=True,
            score=True,
            max_score=True,
            objective=True,
            description=True,
            inventory=True,
            feedback=True,
        )
        self._env: Any = None
        self._game: Path | None = None
        self._seed = seed
        self._episode = 0
        self._state: Any = None
        self._skills: list[str] = []
        self._t = 0

    @property
    def policy_commands(self) -> list[str]:
        """The game's own walkthrough from the current state (for tests and demos)."""
        return list(self._state.policy_commands or []) if self._state is not None else []

    def _open(self, game: Path) -> None:
        if self._game != game:
            if self._env is not None:
                self._env.close()
            with warnings.catch_warnings():  # jericho: a TextWorld game "is not fully supported" (TextWorld scores it)
                warnings.filterwarnings("ignore", message=".*is not fully supported.*")
                self._env = self._textworld.start(str(game), request_infos=self._infos)
            self._game = game

    def _commands(self, state: Any) -> list[str]:
        cmds = [c for c in (state.admissible_commands or []) if c not in ("quit", "restart", "save", "load")]
        kept = [c for c in cmds if not c.startswith(self.exclude)] if self.exclude else cmds
        return kept or cmds

    def _observe(self, state: Any, feedback: str, reward: float = 0.0, done: bool = False, k: int = 0) -> Observation:
        self._state = state
        self._skills = self._commands(state)
        goal = _clean(state.objective or "")
        parts = [_clean(feedback).replace(goal, "").strip() if goal else _clean(feedback)]
        desc = _clean(state.description or "")
        if self.show_description and desc and desc not in parts[0]:
            parts.append(desc)
        if self.show_inventory and state.inventory:
            parts.append(_clean(state.inventory))
        truncated = not done and self._t >= self.max_steps
        info: dict[str, Any] = {
            "score": int(state.score or 0),
            "max_score": int(state.max_score or 0),
            "moves": self._t,
            "game": self._game.name if self._game else "",
        }
        if done or truncated:
            info["success"] = bool(state.won)
        return Observation(
            text="\n".join(p for p in parts if p),
            skills=list(self._skills),
            goal=goal,
            reward=reward,
            done=done,
            truncated=truncated,
            k=k,
            info=info,
        )

    def reset(self, seed: int | None = None) -> Observation:
        if seed is None:
            seed = self._seed if self._episode == 0 else None
        self._episode += 1
        pick = (seed if seed is not None else self._episode - 1) % len(self.games)
        self._open(self.games[pick])
        state = self._env.reset()
        self._t = 0
        return self._observe(state, state.feedback or "")

    def step(self, skill: int) -> Observation:
        if isinstance(skill, bool) or not isinstance(skill, int) or not 0 <= skill < len(self._skills):
            raise SkillError(f"skill index {skill!r} out of range: {len(self._skills)} skills are valid")
        before = int(self._state.score or 0)
        state, _score, done = self._env.step(self._skills[skill])
        self._t += 1
        done = bool(done or state.won or state.lost)
        return self._observe(state, state.feedback or "", float(int(state.score or 0) - before), done, k=1)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def make_env(
    task: str = "simple",
    seed: int | None = None,
    game: str | None = None,
    cache_dir: str | None = None,
    game_seed: int = 0,
    games: int = 1,
    rewards: str = "dense",
    goal: str = "detailed",
    world_size: int = 2,
    nb_objects: int = 4,
    quest_length: int = 2,
    max_steps: int = 50,
    exclude: list | None = None,
    inventory: bool = True,
    description: bool = True,
) -> TextWorldEnv:
    """A TextWorld SkillEnv on a generated game (task simple | custom) or on the game file ``game``."""
    if games < 1:
        raise ValueError(f"games must be >= 1, got {games}")
    if game:
        path = Path(game).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"textworld game file {game!r} not found")
        paths = [path]
    else:
        settings: dict[str, Any] = (
            {"world_size": world_size, "nb_objects": nb_objects, "quest_length": quest_length}
            if task == "custom"
            else {"rewards": rewards, "goal": goal}
        )
        paths = [generate_game(task, game_seed + i, cache_dir, **settings) for i in range(games)]
    return TextWorldEnv(
        paths, task=task, seed=seed, max_steps=max_steps, exclude=exclude, inventory=inventory, description=description
    )


SIMULATOR = Simulator(
    make_env,
    {
        "game": Option(str, None, "a .z8/.ulx game file (instead of a generated game)"),
        "cache_dir": Option(str, None, "folder for generated games"),
        "game_seed": Option(int, 0, "seed of the (first) generated game"),
        "games": Option(int, 1, "number of generated games (an episode plays game reset_seed mod games)"),
        "rewards": Option(str, "dense", "simple: dense | balanced | sparse"),
        "goal": Option(str, "detailed", "simple: detailed | brief | none"),
        "world_size": Option(int, 2, "custom: rooms"),
        "nb_objects": Option(int, 4, "custom: objects"),
        "quest_length": Option(int, 2, "custom: commands the quest needs"),
        "max_steps": Option(int, 50, "commands per episode before truncation"),
        "exclude": Option(list, None, "command prefixes left out of the skills"),
        "inventory": Option(bool, True, "add the inventory to the text"),
        "description": Option(bool, True, "add the room description to the text"),
    },
    task="simple",
    description="TextWorld text games (generated or your own .z8/.ulx)",
)
