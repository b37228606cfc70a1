"""``agent-runtime eval --suite NAME --checkpoint DIR``: the generalisation and general-ability suites.

Each prints one table (rich, on stdout) and writes a JSON report: ``--json PATH``, else
``eval-<suite>.json`` in the checkpoint's run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SUITES = ("generalisation", "general-ability")


def _overrides(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The command's own flags (--num-envs, --in-process, --set ...) as config sections, applied last."""
    from agent_runtime.cli import _shortcuts
    from agent_runtime.config import parse_override

    extra = _shortcuts(args)
    out = [extra] if extra else []
    return out + [parse_override(o) for o in args.set]


def cmd_suite(args: argparse.Namespace) -> int:
    from rich.console import Console

    from agent_runtime.checkpoint import find_checkpoint
    from agent_runtime.families import FAMILIES
    from agent_runtime.generalisation import run_folder
    from agent_runtime.runfolder import UsageError

    if not args.checkpoint:
        raise UsageError(f"--suite {args.suite} needs --checkpoint PATH (a run folder or a checkpoint folder)")
    try:
        ckpt = find_checkpoint(args.checkpoint)
    except FileNotFoundError:
        raise UsageError(
            f"--checkpoint {args.checkpoint}: no checkpoint there (a run folder holds checkpoints/step-*/)"
        ) from None
    if args.family and args.family not in FAMILIES:
        raise UsageError(f"--family {args.family!r}: not declared; families: {', '.join(FAMILIES)}")
    if args.config or args.bridge or args.task or args.model or args.seed is not None:
        raise UsageError(
            "--suite evaluates with the checkpoint's own saved config (model, task, run seed): "
            "drop --config/--bridge/--task/--model/--seed (the episodes' seeds are --seed-start)"
        )
    try:
        if args.suite == "generalisation":
            from agent_runtime.generalisation import generalisation_table, run_generalisation

            seeds = list(range(args.seed_start, args.seed_start + args.episodes))
            report = run_generalisation(
                ckpt, seeds, family=args.family, overrides=_overrides(args), policies=args.policy,
                greedy=not args.sample,
            )  # fmt: skip
            table = generalisation_table(report)
        else:
            from agent_runtime.general_ability import general_ability_table, run_general_ability

            report = run_general_ability(ckpt, overrides=_overrides(args))
            table = general_ability_table(report)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    out = Path(args.json) if args.json else run_folder(ckpt) / f"eval-{args.suite}.json"
    out.write_text(json.dumps(report, indent=2))
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    print(f"report: {out}")
    return 0
