"""Run folders: one run per folder, unique names, resume from the saved config, early checks of a command.

Everything here runs before the model is loaded, so that a mistake costs one line and no wait:

* a run without ``--name`` gets a unique readable name, ``<task>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``
  when two start in the same second); a named run refuses a folder that already holds another run;
* ``--resume`` restores the run's saved ``config.yaml``; the flags given with it may change only the
  keys in ``RESUME_SAFE`` (anything else is refused with one line naming the key, both values and the
  allowed keys);
* the task name, the simulator options, the model name and the run folder are checked early.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from agent_runtime.config import (
    CONFIG_DIR,
    Config,
    ConfigError,
    _merge,
    config_from_dict,
    parse_override,
    read_config_file,
    resolve_config_path,
)

# What a flag given with --resume may change: the budget, the console and the telemetry addresses.
RESUME_SAFE = (
    "run.total_decisions",
    "run.progress",
    "log.console_every",
    "telemetry.pub",
    "telemetry.control",
    "telemetry.demos",
    "telemetry.frames",
    "checkpoint.resume",
)
RUN_FILES = ("config.yaml", "episodes.jsonl", "updates.jsonl", "checkpoints")  # a folder holding any of these is a run


class UsageError(ValueError):
    """A mistake on the command line: reported as one line, exit code 2."""


# ------------------------------------------------------------------ task names


def _norm_task(task: str) -> str:
    t = task.strip().lower()
    t = t.removeprefix("babyai-").removesuffix("-v0")
    return re.sub(r"[-_ ]", "", t)


def config_for_task(bridge: str, task: str | None, default_task: str | None) -> str | None:
    """The configs/ file a ``--bridge B [--task T]`` picks, or None (then the defaults plus the flags).

    ``<bridge>-<task>.yaml`` when it exists; else the bridge's config whose ``env.task`` names the same
    task in another spelling (``BabyAI-GoToLocal-v0``, ``gotolocal``, ``MixedTrainLocal``), the shortest
    such name first; else the bridge's default config (the task is then checked by the simulator).
    Never another bridge's config.
    """
    ours = sorted(p for p in CONFIG_DIR.glob("*.yaml") if p.stem == bridge or p.stem.startswith(f"{bridge}-"))
    if task:
        exact = CONFIG_DIR / f"{bridge}-{task.lower()}.yaml"
        if exact.exists():
            return exact.stem
        want = _norm_task(task)
        same = []
        for p in ours:
            try:
                t = (read_config_file(p).get("env") or {}).get("task")
            except ConfigError:
                continue
            if isinstance(t, str) and _norm_task(t) == want:
                same.append(p.stem)
        if same:
            return min(same, key=lambda s: (len(s), s))
    for name in ([f"{bridge}-{default_task.lower()}"] if default_task else []) + [bridge]:
        if (CONFIG_DIR / f"{name}.yaml").exists():
            return name
    return ours[0].stem if ours else None


# ------------------------------------------------------------------ what the command line gave


def given_data(config: str | None, overrides: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    """The sections the command line gives: the ``--config`` file (when named), the flags, ``--set``."""
    data: dict[str, Any] = read_config_file(resolve_config_path(config)) if config else {}
    data = _merge(data, extra)
    for o in overrides:
        data = _merge(data, parse_override(o))
    return data


def name_given(overrides: list[str], extra: dict[str, Any]) -> bool:
    """A run name given on the command line (``--name`` or ``--set run.name=...``)."""
    if "name" in (extra.get("run") or {}):
        return True
    return any("name" in (parse_override(o).get("run") or {}) for o in overrides)


def _flat(cfg: Config) -> dict[str, Any]:
    return {f"{sec}.{key}": v for sec, values in cfg.to_dict().items() for key, v in values.items()}


# ------------------------------------------------------------------ names and folders


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def unique_run_name(cfg: Config, prefix: str | None = None, now: float | None = None) -> str:
    """Claim ``<output_dir>/<prefix>-<YYYYmmdd-HHMMSS>[-N]`` (created here, so two runs never share it)."""
    task = cfg.env.task if cfg.env.task and cfg.env.task != "default" else cfg.env.bridge
    base = f"{_slug(prefix or task)}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
    out = Path(cfg.run.output_dir)
    check_writable(out)
    for i in range(1, 1000):
        name = base if i == 1 else f"{base}-{i}"
        try:
            (out / name).mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as e:
            raise UsageError(f"run folder {out / name} cannot be written: {e.strerror or e}") from None
        return name
    raise UsageError(f"no free run name {base}-N under {out}")


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write a probe file in it, or one line saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"run folder {folder} cannot be written: {e.strerror or e}") from None


def holds_a_run(folder: Path) -> bool:
    return any((folder / f).exists() for f in RUN_FILES)


def existing_runs(output_dir: Path, limit: int = 5) -> list[str]:
    """The newest run folders under ``output_dir`` (for hints)."""
    if not output_dir.is_dir():
        return []
    runs = [p for p in output_dir.iterdir() if p.is_dir() and holds_a_run(p)]
    runs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name for p in runs[:limit]]


# ------------------------------------------------------------------ resume


def _resume_folder(where: str, cfg: Config) -> tuple[Path, Path | None]:
    """(run folder, checkpoint folder or None) of ``--resume where``; checks what can be checked now."""
    from agent_runtime.checkpoint import find_checkpoint, sweep_checkpoints

    if where == "auto":
        run_dir = Path(cfg.run.output_dir) / cfg.run.name
        sweep_checkpoints(run_dir / "checkpoints")
        try:
            return run_dir, find_checkpoint(run_dir / "checkpoints")
        except FileNotFoundError:
            return run_dir, None  # nothing saved yet: the run starts (again) from the beginning
    p = Path(where)
    if not p.exists():
        raise UsageError(
            f"--resume {where}: no such folder (give a run folder, a checkpoint folder, or 'auto' with --name)"
        )
    for folder in (p / "checkpoints", p):
        sweep_checkpoints(folder)
    try:
        ckpt = find_checkpoint(p)
    except FileNotFoundError:
        raise UsageError(f"--resume {where}: no complete checkpoint in it (looked for checkpoints/step-*/)") from None
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
    return run_dir, ckpt


def resume_config(
    where: str, config: str | None, overrides: list[str], extra: dict[str, Any], fresh: Config
) -> tuple[Config, str]:
    """The saved config of the run ``--resume`` continues, with the safe changes the flags ask for.

    ``fresh`` is the config the flags alone would give (for ``run.output_dir`` and ``run.name``).
    Returns (config, a line saying what was restored). A flag that would change anything outside
    ``RESUME_SAFE`` is a UsageError.
    """
    if where == "auto" and not name_given(overrides, extra):
        runs = existing_runs(Path(fresh.run.output_dir))
        hint = f"; runs in {fresh.run.output_dir}/: {', '.join(runs)}" if runs else ""
        raise UsageError(
            f"--resume auto needs --name NAME: the run to continue (a folder under {fresh.run.output_dir}/){hint}"
        )
    run_dir, ckpt = _resume_folder(where, fresh)
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists() and ckpt is not None and (ckpt / "config.yaml").exists():
        saved_path = ckpt / "config.yaml"
    if not saved_path.exists():
        if where == "auto":  # a new run under this name
            return fresh, f"no run in {run_dir} yet: starting it"
        raise UsageError(f"--resume {where}: no config.yaml saved with it, so its settings are unknown")
    try:
        saved_data = yaml.safe_load(saved_path.read_text()) or {}
        saved = config_from_dict(saved_data, str(saved_path))
    except (yaml.YAMLError, ConfigError) as e:
        raise UsageError(f"--resume {where}: its saved {saved_path} does not load ({str(e).splitlines()[0]})") from None
    given = given_data(config, overrides, extra)
    if where != "auto":
        given.setdefault("run", {}).setdefault("name", saved.run.name)
        given["run"].setdefault("output_dir", saved.run.output_dir)
    before = _flat(saved)
    wanted: Config | None = None
    try:
        wanted = config_from_dict(_merge(saved_data, given), "command line")
        after = _flat(wanted)
    except ConfigError as e:
        error = e  # the flags do not even fit the saved config (another bridge, say): name what they change
        after = {f"{sec}.{k}": v for sec, vals in given.items() if isinstance(vals, dict) for k, v in vals.items()}
    changed = [k for k, v in after.items() if k not in RESUME_SAFE and before.get(k) != v]
    first = ("env.bridge", "env.task", "model.name", "run.name")  # what tells two runs apart, named first
    changed.sort(key=lambda k: first.index(k) if k in first else len(first))
    if changed:
        shown = ", ".join(f"{k} is {before.get(k)!r} (not {after[k]!r})" for k in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise UsageError(
            f"--resume: in the run's saved config ({saved_path}) {shown}{more}; "
            f"a resumed run keeps its config (the flags may change only {', '.join(RESUME_SAFE[:-1])})"
        )
    if wanted is None:
        raise UsageError(f"--resume: {str(error).splitlines()[0]}")
    if ckpt is None:
        # Killed before its first checkpoint: it starts over, so its records must not stay in the folder.
        for name in ("episodes.jsonl", "updates.jsonl"):
            if (run_dir / name).exists():
                (run_dir / name).unlink()
        return wanted, f"no checkpoint in {run_dir} yet: starting it over with its saved config"
    return wanted, f"resuming {run_dir} from {ckpt.name} with its saved config"


# ------------------------------------------------------------------ early checks


def check_model_name(name: str) -> None:
    """A local path must exist; a hub id must be in the local Hugging Face cache (the runtime does not download)."""
    from agent_runtime.models import DEFAULT_MODEL, TINY_MODELS

    if name in TINY_MODELS or name == DEFAULT_MODEL:
        return
    p = Path(name).expanduser()
    if p.exists():
        if p.is_dir() and not (p / "config.json").exists():
            raise UsageError(f"model.name: {name} is a folder without config.json (not a Hugging Face model folder)")
        return
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") != 1 or os.sep != "/" and os.sep in name
    aliases = ", ".join((DEFAULT_MODEL, *TINY_MODELS))
    if looks_like_path:
        raise UsageError(f"model.name: {name!r} is not an existing folder nor a Hugging Face id; aliases: {aliases}")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except (ValueError, OSError):  # a malformed id (HFValidationError is a ValueError)
        cached = None
    if not isinstance(cached, str):
        raise UsageError(
            f"model.name: {name!r} is not in the local Hugging Face cache and the runtime does not download; "
            f"download it first (huggingface-cli download {name}) or give a local folder or an alias ({aliases})"
        )


# Bridges whose environment is cheap to build in this process: the early check of a task and options.
CHEAP_TO_BUILD = ("toy", "babyai", "overcooked", "crafter")


def check_env(cfg: Config) -> None:
    """Check the simulator's task and options before anything heavy is started.

    The hook: ``bridges.registry.check_env(bridge, task, options)`` when the registry has it (it raises
    ValueError naming what is wrong). Without it, a bridge in CHEAP_TO_BUILD (or VirtualHome's symbolic
    mode) is built once in this process and closed; other bridges are checked when their server starts.
    """
    env = cfg.env
    if env.connect or env.python:
        return  # another process, maybe another Python: its server checks
    from bridges import registry

    hook = getattr(registry, "check_env", None)
    try:
        if hook is not None:
            hook(env.bridge, env.task, dict(env.options))
            return
        symbolic_vh = env.bridge == "virtualhome" and str(env.options.get("mode", "symbolic")) == "symbolic"
        if env.bridge not in CHEAP_TO_BUILD and not symbolic_vh:
            return
        made = registry.env_factory(env.bridge)(task=env.task, seed=env.seed, **dict(env.options))
    except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
        msg = str(e).strip("'\"").splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"env ({env.bridge}, task {env.task!r}): {msg}") from None
    close = getattr(made, "close", None)
    if callable(close):
        close()
