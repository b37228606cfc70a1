"""The ``agent-runtime`` command: run, eval, bench, model, serve, tui, plot."""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "default"
# The config a bare `--bridge NAME` picks (configs/<bridge>-<task>.yaml or configs/<bridge>.yaml).
BRIDGE_DEFAULT_TASK = {
    "babyai": "gotolocal",
    "overcooked": "tomato-salad",
    "virtualhome": "food-preparation",
    "overcooked_ai": "cramped_room",
}
REPO = Path(__file__).resolve().parent.parent

MAIN_HELP = """\
Run an LLM as an agent in live simulators and align it with online PPO.

The policy is the LLM's probability of each valid skill text given the prompt
(TWOSOME, GLAM); a LoRA adapter is the actor, a value head on the frozen model
the critic. Simulators run in their own processes behind ZeroMQ bridges.

  agent-runtime run                      short training run on the default task
  agent-runtime run --bridge babyai      train on BabyAI-Text (GoToLocal)
  agent-runtime eval --bridge babyai --policy random
  agent-runtime model info               which model, how many parameters, from where
  agent-runtime bench scoring            scoring speed vs TWOSOME-style and the floor
"""


def _config_name(args: argparse.Namespace) -> str:
    if args.config:
        return args.config
    if not args.bridge:
        return DEFAULT_CONFIG
    from agent_runtime.config import CONFIG_DIR

    task = args.task or BRIDGE_DEFAULT_TASK.get(args.bridge)
    for name in ([f"{args.bridge}-{task.lower()}"] if task else []) + [args.bridge]:
        if (CONFIG_DIR / f"{name}.yaml").exists():
            return name
    return DEFAULT_CONFIG


def _shortcuts(args: argparse.Namespace) -> dict[str, Any]:
    """CLI flags as config overrides (applied before --set)."""
    extra: dict[str, Any] = {}

    def put(section: str, key: str, value: Any) -> None:
        if value is not None:
            extra.setdefault(section, {})[key] = value

    put("env", "bridge", args.bridge)
    put("env", "task", args.task)
    put("model", "name", args.model)
    put("env", "num_envs", args.num_envs)
    put("run", "seed", args.seed)
    put("run", "name", args.name)
    put("env", "connect", args.connect or None)
    put("env", "in_process", True if args.in_process else None)
    if getattr(args, "vh_data", None):
        extra.setdefault("env", {}).setdefault("options", {})["vh_data"] = args.vh_data
    put("run", "total_decisions", getattr(args, "total_decisions", None))
    put("checkpoint", "resume", getattr(args, "resume", None))
    return extra


def _load(args: argparse.Namespace):
    from agent_runtime.config import load_config

    return load_config(_config_name(args), args.set, _shortcuts(args))


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to run")
    g.add_argument("--config", help="a YAML file, or the name of one in configs/ (default: by --bridge, else 'default')")
    g.add_argument("--bridge", help="simulator: toy, babyai, overcooked, overcooked_ai, virtualhome, crafter, unity")
    g.add_argument("--task", help="task of the simulator (e.g. GoToLocal, tomato-salad, food-preparation)")
    g.add_argument("--model", help="model alias, Hugging Face id or local path (default: smollm2-135m-instruct)")
    g.add_argument("--num-envs", type=int, help="parallel environments")
    g.add_argument("--seed", type=int, help="run seed")
    g.add_argument("--name", help="run name (folder under run.output_dir)")
    g.add_argument("--connect", action="append", metavar="ADDR", help="attach to a running simulator server (repeatable)")
    g.add_argument("--in-process", action="store_true", help="step simulators in this process (no bridge)")
    g.add_argument("--vh-data", metavar="PATH", help="VirtualHome data folder (scenes/, resources/)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. ppo.gamma=0.95")


def cmd_run(args: argparse.Namespace) -> int:
    from agent_runtime.logs import console, setup_logging

    setup_logging(args.log_level)
    cfg = _load(args)
    if args.tui:
        return _run_with_tui(args, cfg)
    from agent_runtime.trainer import Trainer

    trainer = Trainer(cfg)
    console.print(f"[bold]run folder:[/] {trainer.run_dir}   model: {trainer.policy.source}")
    out = trainer.train()
    last = [u for u in out["updates"] if u.get("success_rate") is not None]
    console.print(f"[green]done:[/] {out['counters']}" + (f"  last success rate {last[-1]['success_rate']:.2f}" if last else ""))
    from agent_runtime.summary import summarize_run  # before/after summary + learning_curve.png

    console.print(summarize_run(trainer.run_dir), markup=False, highlight=False, soft_wrap=True)
    return 0


def _run_with_tui(args: argparse.Namespace, cfg) -> int:
    """Training in a child process, the TUI in the foreground, attached over the telemetry sockets."""
    import subprocess
    import tempfile

    sock = Path(tempfile.mkdtemp(prefix="agent-runtime-"))
    pub = cfg.telemetry.pub or f"ipc://{sock}/telemetry"
    ctl = cfg.telemetry.control or f"ipc://{sock}/control"
    argv = [a for a in sys.argv[1:] if a != "--tui"]
    argv += ["--set", f"telemetry.pub={pub}", "--set", f"telemetry.control={ctl}", "--set", "run.progress=false"]
    log_path = sock / "run.log"
    with open(log_path, "w") as logf:
        child = subprocess.Popen([sys.executable, "-m", "agent_runtime.cli", *argv], stdout=logf, stderr=subprocess.STDOUT)
        try:
            from tui.app import main as tui_main

            tui_main(["--connect", pub, "--control", ctl])
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
    print(f"training log: {log_path}")
    return child.returncode or 0


def cmd_eval(args: argparse.Namespace) -> int:
    from agent_runtime.evaluate import evaluate
    from agent_runtime.logs import console, setup_logging

    setup_logging(args.log_level)
    cfg = _load(args)
    seeds = list(range(args.seed_start, args.seed_start + args.episodes))
    kinds = args.policy or (["checkpoint"] if args.checkpoint else ["zero-shot"])
    results = []
    for kind in kinds:
        res = evaluate(cfg, kind, seeds, checkpoint=args.checkpoint, greedy=not args.sample)
        s = res.summary()
        results.append(s)
        sr = "-" if s["success_rate"] is None else f"{s['success_rate']:.3f}"
        extra = f"  crafter score {s['crafter_score']:.2f}" if "crafter_score" in s else ""
        console.print(f"[bold]{kind:>10}[/]  episodes {s['episodes']}  success {sr}  mean return {s['mean_return']:.3f}{extra}")
    if args.json:
        Path(args.json).write_text(json.dumps({"seeds": seeds, "results": results}, indent=2))
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from agent_runtime.models import DEFAULT_MODEL, default_model_path, load_model, parameter_counts

    name = args.model or DEFAULT_MODEL
    if args.action == "convert":
        print(default_model_path(args.cache_dir))
        return 0
    lm = load_model(name, args.dtype, args.device, args.cache_dir)
    total, _ = parameter_counts(lm.model)
    kind = "encoder-decoder" if lm.is_encoder_decoder else "decoder-only"
    print(f"model:      {name} ({type(lm.model).__name__}, {kind})")
    print(f"loaded from: {lm.source}")
    print(f"parameters: {total:,} total in the base model")
    if args.lora_r:
        from agent_runtime.policy import ActorCritic

        ac = ActorCritic(lm, lora_r=args.lora_r, lora_alpha=2 * args.lora_r)
        t_all = sum(p.numel() for p in ac.parameters())
        t_train = sum(p.numel() for p in ac.actor_parameters()) + sum(p.numel() for p in ac.critic_parameters())
        print(f"with LoRA r={args.lora_r} + value head: {t_all:,} total, {t_train:,} trainable ({100 * t_train / t_all:.2f}%)")
    print(f"dtype/device: {next(lm.model.parameters()).dtype} / {next(lm.model.parameters()).device}")
    print(f"vocabulary: {len(lm.tokenizer):,} tokens")
    return 0


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    script = REPO / "benchmarks" / f"{args.name}.py"
    if not script.exists():
        names = ", ".join(sorted(p.stem for p in (REPO / "benchmarks").glob("*.py")))
        print(f"no benchmark {args.name!r}; available: {names}", file=sys.stderr)
        return 2
    sys.argv = [str(script), *rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def cmd_serve(rest: list[str]) -> int:
    from bridges.server import main

    return main(rest) or 0


def cmd_tui(rest: list[str]) -> int:
    from tui.app import main

    return main(rest) or 0


def cmd_plot(args: argparse.Namespace) -> int:
    from agent_runtime.plots import plot_runs

    out = plot_runs([Path(r) for r in args.runs], Path(args.out), window=args.window)
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-runtime", description=MAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="train the LLM agent with PPO on a simulator",
                       description="Train: collect decisions from N simulators, update the LoRA actor and the critic with PPO, "
                       "log (console, TensorBoard, JSONL) and checkpoint. Without --connect the simulator servers are "
                       "spawned locally and stopped on exit.")  # fmt: skip
    _common(p)
    p.add_argument("--total-decisions", type=int, help="stop after this many decisions (all environments together)")
    p.add_argument("--resume", metavar="PATH|auto", help="continue from a checkpoint (folder, run folder, or 'auto')")
    p.add_argument("--tui", action="store_true", help="also open the live TUI (watch, pause, override)")

    p = sub.add_parser("eval", help="success rate and mean return over a fixed seed list",
                       description="Evaluate one or more policies on the same seeds: a trained checkpoint, the zero-shot "
                       "model (the base LLM, no adapter), or a uniformly random policy over the valid skills.")  # fmt: skip
    _common(p)
    p.add_argument("--policy", action="append", choices=["checkpoint", "zero-shot", "random"], help="repeatable")
    p.add_argument("--checkpoint", help="checkpoint folder or run folder (for --policy checkpoint)")
    p.add_argument("--episodes", type=int, default=20, help="number of seeds / episodes (default 20)")
    p.add_argument("--seed-start", type=int, default=1000, help="first seed of the list (default 1000)")
    p.add_argument("--sample", action="store_true", help="sample actions instead of argmax")
    p.add_argument("--json", help="write the results to this JSON file")

    p = sub.add_parser("model", help="model info, or convert the default model once",
                       description="'info' prints the model, its parameter counts and where it was loaded from; 'convert' "
                       "converts the default GGUF model to safetensors in the cache.")  # fmt: skip
    p.add_argument("action", choices=["info", "convert"])
    p.add_argument("--model", help="alias, Hugging Face id or local path")
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", help="model cache folder (default ~/.cache/agent-runtime or $AGENT_RUNTIME_CACHE)")
    p.add_argument("--lora-r", type=int, default=8, help="also count trainable parameters with a LoRA of this rank (0: skip)")

    p = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (extra arguments are passed on)")
    p.add_argument("name", help="scoring, ppo_update, bridge, overcooked, crafter, telemetry")

    sub.add_parser("serve", help="start a simulator server (arguments go to the server; try: serve --help)", add_help=False)
    sub.add_parser("tui", help="open the live TUI on a running runtime (try: tui --help)", add_help=False)

    p = sub.add_parser("plot", help="plot learning curves (return, success) of run folders to a PNG")
    p.add_argument("runs", nargs="+", help="run folders (holding episodes.jsonl)")
    p.add_argument("--out", default="learning_curve.png")
    p.add_argument("--window", type=int, default=20, help="moving-average window in episodes")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # serve / tui / bench hand their remaining arguments to another parser.
    for i, a in enumerate(argv):
        if not a.startswith("-"):
            if a == "serve":
                return cmd_serve(argv[i + 1 :])
            if a == "tui":
                return cmd_tui(argv[i + 1 :])
            break
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from agent_runtime.config import ConfigError

    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "model":
            return cmd_model(args)
        if args.command == "bench":
            return cmd_bench(args, rest)
        if args.command == "plot":
            return cmd_plot(args)
    except ConfigError as e:
        print(f"agent-runtime: config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
