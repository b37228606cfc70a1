"""The ``agent-runtime`` command: run, eval, bench, model, serve, tui, plot."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Any, Literal

DEFAULT_CONFIG = "default"
# The config a bare `--bridge NAME` picks (configs/<bridge>-<task>.yaml or configs/<bridge>.yaml).
BRIDGE_DEFAULT_TASK = {
    "babyai": "gotolocal",
    "overcooked": "tomato-salad",
    "virtualhome": "food-preparation",
    "overcooked_ai": "cramped_room",
}
REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"  # `bench` scripts: in a source checkout, not in the wheel
FlagValue = Literal["value", "optional", "none"]

MAIN_HELP = """\
Run an LLM as an agent in live simulators and align it with online PPO.

The policy is the LLM's probability of each valid skill text given the prompt
(TWOSOME, GLAM); a LoRA adapter is the actor, a value head on the frozen model
the critic. Simulators run in their own processes behind ZeroMQ bridges.

  agent-runtime run                      short training run on the default task
  agent-runtime run --bridge babyai      train on BabyAI-Text (GoToLocal)
  agent-runtime eval --bridge babyai --policy random
  agent-runtime eval --suite generalisation --checkpoint runs/NAME
  agent-runtime model info               which model, how many parameters, from where
  agent-runtime bench scoring            scoring speed vs TWOSOME-style and the floor
"""


def _config_name(args: argparse.Namespace) -> str | None:
    if args.config:
        return args.config
    if not args.bridge:
        return DEFAULT_CONFIG
    from agent_runtime.runfolder import config_for_task

    # Never another bridge's config: an unknown task keeps the bridge's own, and its simulator names the tasks.
    return config_for_task(args.bridge, args.task, BRIDGE_DEFAULT_TASK.get(args.bridge))


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
    g.add_argument(
        "--config", help="a YAML file, or the name of one in configs/ (default: by --bridge, else 'default')"
    )
    g.add_argument(
        "--bridge",
        help="simulator: toy, babyai, overcooked, overcooked_ai, virtualhome, crafter, unity, gym, textworld, an entry-point name or module:factory",
    )
    g.add_argument("--task", help="task of the simulator (e.g. GoToLocal, tomato-salad, food-preparation)")
    g.add_argument("--model", help="model alias, Hugging Face id or local path (default: smollm2-135m-instruct)")
    g.add_argument("--num-envs", type=int, help="parallel environments")
    g.add_argument("--seed", type=int, help="run seed")
    g.add_argument("--name", help="run name (folder under run.output_dir)")
    g.add_argument(
        "--connect", action="append", metavar="ADDR", help="attach to a running simulator server (repeatable)"
    )
    g.add_argument("--in-process", action="store_true", help="step simulators in this process (no bridge)")
    g.add_argument("--vh-data", metavar="PATH", help="VirtualHome data folder (scenes/, resources/)")
    g.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. ppo.gamma=0.95"
    )


def _prepare_run(args: argparse.Namespace, claimed: list[Path]):
    """The run's config after the checks that need no model: name and folder, resume, task, options, model."""
    from agent_runtime import runfolder as rf

    cfg = _load(args)
    extra = _shortcuts(args)
    if cfg.checkpoint.resume:
        cfg, said = rf.resume_config(cfg.checkpoint.resume, args.config, args.set, extra, cfg)
        print(f"resume: {said}", flush=True)
    elif not rf.name_given(args.set, extra):
        named = cfg.run.name not in ("run", "default")  # a config's own name (toy) reads better than its task
        cfg.run.name = rf.unique_run_name(cfg, prefix=cfg.run.name if named else None)
        claimed.append(Path(cfg.run.output_dir) / cfg.run.name)
    elif rf.holds_a_run(Path(cfg.run.output_dir) / cfg.run.name):
        run_dir = Path(cfg.run.output_dir) / cfg.run.name
        raise rf.UsageError(f"{run_dir} already holds a run: continue it with --resume auto, or choose another --name")
    rf.check_writable(Path(cfg.run.output_dir) / cfg.run.name)
    rf.check_env(cfg)
    rf.check_model_name(cfg.model.name)
    if cfg.log.trackers:
        from agent_runtime.config import ConfigError
        from agent_runtime.trackers import check_trackers

        try:
            check_trackers(list(cfg.log.trackers))  # a tracker that is not installed: one line naming its extra
        except ConfigError as e:
            raise rf.UsageError(str(e)) from None
    return cfg


def cmd_run(args: argparse.Namespace) -> int:
    from agent_runtime.logs import setup_logging
    from agent_runtime.runfolder import UsageError

    setup_logging(args.log_level)
    from agent_runtime import distributed as dp

    if args.nproc is not None and args.nproc < 1:
        raise UsageError(f"--nproc {args.nproc}: at least 1")
    if args.nproc and args.nproc > 1 and not dp.launched() and not args.tui:
        argv = _without_flags(getattr(args, "argv", None) or sys.argv[1:], NPROC_FLAGS)
        os.execv(sys.executable, dp.relaunch_argv(args.nproc, argv))  # torchrun: N ranks of this command
    claimed: list[Path] = []  # a run folder this command created: removed again when a check fails and it is empty
    try:
        return _run(args, claimed)
    except UsageError:
        for folder in claimed:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        dp.shutdown()


# Flags a relaunched run must not see again, and whether each takes a value: "value" (``--f V`` or ``--f=V``),
# "optional" (``--f``, ``--f V`` where V does not start with "-", or ``--f=V``) or "none" (``--f`` only).
NPROC_FLAGS: dict[str, FlagValue] = {"--nproc": "value"}  # torchrun's ranks run the command without it
# `run --tui`'s child: the training run without the TUI
TUI_FLAGS: dict[str, FlagValue] = {"--tui": "none", "--tui-public": "none", "--tui-web": "optional"}


def _without_flags(argv: list[str], flags: dict[str, FlagValue]) -> list[str]:
    """``argv`` without the given flags and their values (see ``NPROC_FLAGS`` for the kinds of value)."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        name, eq, _ = a.partition("=")
        kind = flags.get(name)
        if kind is None or (eq and kind == "none"):
            out.append(a)  # not one of the flags (``--tui=x`` is not ``--tui``: argparse refuses it, the child too)
        elif not eq and kind == "value":
            skip = True
        elif not eq and kind == "optional":
            skip = i + 1 < len(argv) and not argv[i + 1].startswith("-")
    return out


def _prepare_ranks(args: argparse.Namespace, claimed: list[Path]):
    """Under torchrun: rank 0 names and checks the run, every rank gets its config; (config, model device)."""
    from agent_runtime import distributed as dp
    from agent_runtime.runfolder import UsageError

    if args.tui:
        raise UsageError("--tui under torchrun: start `agent-runtime run --nproc N --tui` instead")
    device = dp.init(_load(args).model.device)
    cfg, error = None, None
    if dp.is_main():
        try:
            cfg = _prepare_run(args, claimed)
        except UsageError as e:
            error = e
    cfg, failed = dp.broadcast_object((cfg, error is not None))
    if error is not None:
        raise error
    if failed:
        raise SystemExit(2)  # rank 0 says why
    if not dp.is_main():
        import logging

        logging.getLogger("agent_runtime").setLevel(logging.WARNING)  # rank 0 logs the run
    return cfg, device


def _run(args: argparse.Namespace, claimed: list[Path]) -> int:
    from agent_runtime import distributed as dp
    from agent_runtime.checkpoint import sweep_checkpoints
    from agent_runtime.logs import console
    from agent_runtime.runfolder import UsageError

    if args.tui_web or args.tui_public:
        _check_tui_web(args)
    if dp.launched():
        cfg, device = _prepare_ranks(args, claimed)
        cfg.model.device = device  # under nccl: this rank's GPU
    else:
        cfg = _prepare_run(args, claimed)
    run_dir = Path(cfg.run.output_dir) / cfg.run.name
    if args.tui or args.tui_web:
        return _run_with_tui(args, cfg)
    if dp.is_main():
        print(f"run folder: {run_dir}", flush=True)  # stdout, unwrapped: where this run writes
        sweep_checkpoints(run_dir / "checkpoints")
    from agent_runtime.envs import make_env
    from agent_runtime.trainer import Trainer, build_policy
    from bridges.client import BridgeError

    # The simulators first: a server that is not there or a wrong environment count shows before the model loads.
    try:
        venv = make_env(dp.rank_config(cfg).env)  # this rank's simulators (all of them on one process)
    except (BridgeError, ValueError, OSError) as e:
        raise UsageError(f"simulators ({cfg.env.bridge}): {_first_line(e)}") from None
    try:
        try:
            policy = build_policy(cfg)
        except (ValueError, OSError, RuntimeError) as e:  # lora.target_modules, a model folder that does not load, ...
            raise UsageError(f"model {cfg.model.name!r}: {_first_line(e)}") from None
        trainer = Trainer(cfg, venv=venv, policy=policy)
    except BaseException:
        venv.close()
        raise
    if dp.is_main():
        console.print(f"[bold]model:[/] {trainer.policy.source}")
    try:
        trainer.train()
    except BridgeError as e:  # a simulator that did not come back (restarts or reconnect_timeout spent)
        print(f"agent-runtime: simulators ({cfg.env.bridge}) lost: {_first_line(e)}", file=sys.stderr)
        print(f"agent-runtime: continue from the last checkpoint with --resume auto --name {cfg.run.name}",
              file=sys.stderr)  # fmt: skip
        return 1
    if not dp.is_main():
        return 0
    from agent_runtime.summary import summarize_run  # before/after figures, learning_curve.png, next commands

    console.print(summarize_run(trainer.run_dir), markup=False, highlight=False, soft_wrap=True)
    return 0


def _run_with_tui(args: argparse.Namespace, cfg) -> int:
    """Training in a child process, the TUI in the foreground, attached over the telemetry sockets."""
    import subprocess
    import tempfile

    from bridges.telemetry_wire import ControlClient

    sock = Path(tempfile.mkdtemp(prefix="agent-runtime-"))  # the sockets only (ipc paths must stay short)
    pub = cfg.telemetry.pub or f"ipc://{sock}/telemetry"
    ctl = cfg.telemetry.control or f"ipc://{sock}/control"
    argv = _without_flags(sys.argv[1:], TUI_FLAGS)
    if not cfg.checkpoint.resume:
        argv += ["--name", cfg.run.name, "--set", f"run.output_dir={cfg.run.output_dir}"]  # the folder claimed here
    argv += ["--set", f"telemetry.pub={pub}", "--set", f"telemetry.control={ctl}", "--set", "run.progress=false"]
    argv += ["--set", "telemetry.frames=true"]  # the TUI shows env 0's picture (simulators that draw themselves)
    run_dir = Path(cfg.run.output_dir) / cfg.run.name
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "run.log"
    print(f"run folder: {run_dir}   training log: {log_path}")
    with open(log_path, "a") as logf:
        child = subprocess.Popen(
            [sys.executable, "-m", "agent_runtime.cli", *argv],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=bool(args.tui_web),  # Ctrl+C stops the web server; the run then saves and stops
        )
        try:
            if args.tui_web:
                from tui.web import serve

                print("Ctrl+C stops the web TUI and the run (it saves a checkpoint first)", flush=True)
                serve(pub, ctl, bind=args.tui_web, public=args.tui_public, should_stop=lambda: child.poll() is not None)
            else:
                from tui.app import main as tui_main

                tui_main(["--connect", pub, "--control", ctl])
        finally:
            if child.poll() is None:
                # Quitting the TUI stops the run with a checkpoint (the TUI's q already asked; asking twice is harmless).
                print("stopping: the run saves a checkpoint ...", file=sys.stderr)
                ControlClient(ctl, timeout=2.0)("stop")
                try:
                    child.wait(STOP_WAIT_S)
                except subprocess.TimeoutExpired:
                    child.terminate()
                    try:
                        child.wait(10)
                    except subprocess.TimeoutExpired:
                        child.kill()
    print(f"run folder: {run_dir}   training log: {log_path}")
    return child.returncode or 0


def _check_tui_web(args: argparse.Namespace) -> None:
    from agent_runtime.runfolder import UsageError
    from tui.web import WebError, check

    if args.tui or not args.tui_web:
        raise UsageError("--tui-web serves the TUI to a browser instead of --tui; --tui-public goes with --tui-web")
    try:
        check(args.tui_web, args.tui_public, flags=("--tui-web", "--tui-public"))
    except WebError as e:
        raise UsageError(str(e)) from None


STOP_WAIT_S = 300.0  # how long `run --tui` waits, after the TUI quits, for the run to save and stop


def _first_line(e: BaseException) -> str:
    text = str(e).strip().strip("'\"")
    return text.splitlines()[0] if text else type(e).__name__


def cmd_eval(args: argparse.Namespace) -> int:
    from agent_runtime.checkpoint import find_checkpoint
    from agent_runtime.evaluate import evaluate
    from agent_runtime.logs import console, setup_logging
    from agent_runtime.runfolder import UsageError, check_env, check_model_name

    setup_logging(args.log_level)
    if args.suite:
        from agent_runtime.eval_suites import cmd_suite

        return cmd_suite(args)
    cfg = _load(args)
    seeds = list(range(args.seed_start, args.seed_start + args.episodes))
    kinds = args.policy or (["checkpoint"] if args.checkpoint else ["zero-shot"])
    # Everything that can be checked before the first policy is evaluated.
    if "checkpoint" in kinds:
        if not args.checkpoint:
            raise UsageError("--policy checkpoint needs --checkpoint PATH (a run folder or a checkpoint folder)")
        try:
            find_checkpoint(args.checkpoint)
        except FileNotFoundError:
            raise UsageError(
                f"--checkpoint {args.checkpoint}: no checkpoint there (a run folder holds checkpoints/step-*/)"
            ) from None
    check_env(cfg)
    if kinds != ["random"]:
        check_model_name(cfg.model.name)
    if args.video:
        from agent_runtime.video import VideoError, check_video_path

        try:
            check_video_path(args.video)
        except VideoError as e:
            raise UsageError(str(e)) from None
    results = []
    for kind in kinds:
        if args.video:
            _eval_video(args, cfg, kind, seeds[0], len(kinds) > 1)
        try:
            res = evaluate(cfg, kind, seeds, checkpoint=args.checkpoint, greedy=not args.sample)
        except ValueError as e:
            if not re.match(r"[a-z_]+\.[a-z_]+: ", str(e)):  # a config key's complaint (lora.target_modules: ...)
                raise
            raise UsageError(f"eval {kind}: {_first_line(e)}") from None
        s = res.summary()
        results.append(s)
        sr = "-" if s["success_rate"] is None else f"{s['success_rate']:.3f}"
        extra = f"  achievement score {s['achievement_score']:.2f}" if "achievement_score" in s else ""
        console.print(
            f"[bold]{kind:>10}[/]  episodes {s['episodes']}  success {sr}  mean return {s['mean_return']:.3f}{extra}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"seeds": seeds, "results": results}, indent=2))
    return 0


def _eval_video(args: argparse.Namespace, cfg, kind: str, seed: int, suffix: bool) -> None:
    """``eval --video PATH``: the first seed's episode of ``kind`` as a GIF/MP4 (``PATH-<kind>`` when several)."""
    from agent_runtime.runfolder import UsageError
    from agent_runtime.video import VideoError, record_episode

    path = Path(args.video)
    if suffix:
        path = path.with_name(f"{path.stem}-{kind}{path.suffix}")
    try:
        rec = record_episode(cfg, kind, seed, path, checkpoint=args.checkpoint, greedy=not args.sample)
    except VideoError as e:
        raise UsageError(f"eval --video ({cfg.env.bridge}): {e}") from None
    print(
        f"video: {rec['video']}  {rec['frames']} frames (primitive steps), {rec['length']} decisions, "
        f"return {rec['return']:.3f}, seed {seed}, policy {kind}",
        flush=True,
    )


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
        print(
            f"with LoRA r={args.lora_r} + value head: {t_all:,} total, {t_train:,} trainable ({100 * t_train / t_all:.2f}%)"
        )
    print(f"dtype/device: {next(lm.model.parameters()).dtype} / {next(lm.model.parameters()).device}")
    print(f"vocabulary: {len(lm.tokenizer):,} tokens")
    return 0


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    from agent_runtime.runfolder import UsageError

    if not BENCHMARKS.is_dir():  # an installed wheel: the benchmarks are not packaged
        raise UsageError(
            f"bench: the installed package ({BENCHMARKS.parent}) has no benchmarks/: they need a source checkout; "
            f"run `python -m agent_runtime.cli bench {args.name}` from its root (or install it with pip install -e .)"
        )
    script = BENCHMARKS / f"{args.name}.py"
    if not script.exists():
        names = ", ".join(sorted(p.stem for p in BENCHMARKS.glob("*.py")))
        print(f"no benchmark {args.name!r}; available: {names}", file=sys.stderr)
        return 2
    sys.argv = [str(script), *rest]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def cmd_serve(rest: list[str]) -> int:
    from bridges.server import main

    # --gym ID_OR_MODULE:FACTORY is --bridge gym --option id=... (bridges/gym_adapter.py)
    for i, a in enumerate(list(rest)):
        if a == "--gym" and i + 1 < len(rest) or a.startswith("--gym="):
            gym_id = rest[i + 1] if a == "--gym" else a.split("=", 1)[1]
            rest = [
                *rest[:i],
                "--bridge",
                "gym",
                "--option",
                f"id={json.dumps(gym_id)}",
                *rest[i + (2 if a == "--gym" else 1) :],
            ]
            break
    return main(rest) or 0


def cmd_tui(rest: list[str]) -> int:
    from tui.app import main

    return main(rest) or 0


def cmd_plot(args: argparse.Namespace) -> int:
    from agent_runtime.plots import check_plottable, plot_runs

    runs = [Path(r) for r in args.runs]
    check_plottable(runs)
    out = plot_runs(runs, Path(args.out), window=args.window)
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description=MAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    p.add_argument(
        "--tui-web",
        nargs="?",
        const="127.0.0.1:8560",
        metavar="HOST:PORT",
        help="serve the live TUI to a web browser instead (default 127.0.0.1:8560; the 'web' extra)",
    )
    p.add_argument("--tui-public", action="store_true",
                   help="with --tui-web: allow a non-loopback bind; the page then needs a token")  # fmt: skip
    p.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel: N ranks on this machine (torchrun; each runs --num-envs simulators)")  # fmt: skip

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
    p.add_argument("--suite", choices=["generalisation", "general-ability"],
                   help="with --checkpoint: the trained task and its variants (families.py), or the LLM's "
                   "language ability with the adapter off and on (docs/runtime.md)")  # fmt: skip
    p.add_argument("--family", help="--suite generalisation: the task family (default: the checkpoint's task's)")
    p.add_argument(
        "--video",
        metavar="PATH",
        help="also write the first seed's episode as an animated GIF (.gif) or MP4 (.mp4): a frame per primitive "
        "step, the chosen skill and its probability on each (overcooked, crafter, babyai)",
    )

    p = sub.add_parser("model", help="model info, or convert the default model once",
                       description="'info' prints the model, its parameter counts and where it was loaded from; 'convert' "
                       "converts the default GGUF model to safetensors in the cache.")  # fmt: skip
    p.add_argument("action", choices=["info", "convert"])
    p.add_argument("--model", help="alias, Hugging Face id or local path")
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", help="model cache folder (default ~/.cache/agent-runtime or $AGENT_RUNTIME_CACHE)")
    p.add_argument(
        "--lora-r", type=int, default=8, help="also count trainable parameters with a LoRA of this rank (0: skip)"
    )

    p = sub.add_parser("bench", help="run a benchmark script from benchmarks/ (extra arguments are passed on)")
    p.add_argument("name", help="scoring, ppo_update, bridge, overcooked, crafter, telemetry")

    sub.add_parser(
        "serve",
        help="start a simulator server (arguments go to the server; --gym ID_OR_MODULE:FACTORY serves "
        "a gymnasium env; try: serve --help)",
        add_help=False,
    )
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
    args.argv = argv
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from agent_runtime.config import ConfigError
    from agent_runtime.runfolder import UsageError

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
    except UsageError as e:
        print(f"agent-runtime: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"agent-runtime: config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
