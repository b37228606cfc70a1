"""Data-parallel learning (torch.distributed, gloo): decisions per second with updates, 1 rank x 2 threads
against 2 ranks x 1 thread, the same total batch.

The toy task (in-process simulators, so the simulators cost nothing next to the model), the default
model unless ``--model``; per update 8 environments x ``--steps`` steps in all (one rank with 8, or
two ranks with 4 each), ``--epochs`` PPO epochs over minibatches of 16 decisions per rank (32 on one
rank: the same global minibatch). Each configuration runs in its own processes; its time is the sum
of rank 0's updates' ``collect_s`` and ``update_s`` (the ranks wait for each other every round and
every minibatch, so rank 0's clock is the job's), the first update left out (warm-up). Model
loading is not timed. The machine's other load falls on both configurations alike only when they
run at the same moment, which they do not: ``--repeats`` alternates them.

Its last line is

    RESULT dp_speedup_2ranks=<decisions/s of 2 ranks x 1 thread / decisions/s of 1 rank x 2 threads>
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import tempfile
from typing import Any

import torch.multiprocessing as mp


def _rank(rank: int, world: int, port: int, args: Any, q: Any) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    import torch.distributed as dist

    from agent_runtime.config import load_config
    from agent_runtime.trainer import Trainer

    threads, envs = (2, 8) if world == 1 else (1, 8 // world)
    if world > 1:
        dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            per_update = 8 * args.steps
            cfg = load_config("toy", [
                f"model.name={args.model}", f"model.threads={threads}", f"env.num_envs={envs}",
                f"run.num_steps={args.steps}", f"run.total_decisions={per_update * (args.updates + 1)}",
                f"ppo.update_epochs={args.epochs}", f"ppo.minibatch_size={32 // world}",
                "ppo.micro_batch_size=8", "ppo.target_kl=null", "env.in_process=true", "run.progress=false",
                "log.tensorboard=false", "log.console_every=0", f"run.output_dir={tmp}", "run.name=bench",
                "checkpoint.every=0", "ppo.lr_actor=0.0005",
            ])  # fmt: skip
            ups = Trainer(cfg).train()["updates"][1:]
            if rank == 0:
                q.put({
                    "decisions": sum(per_update for _ in ups), "loop_s": sum(u["collect_s"] + u["update_s"] for u in ups),
                    "update_s": sum(u["update_s"] for u in ups),
                })  # fmt: skip
    finally:
        if world > 1:
            dist.destroy_process_group()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(world: int, args: Any) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = mp.start_processes(_rank, args=(world, _port(), args, q), nprocs=world, join=False, start_method="spawn")
    while True:  # a rank that fails raises here (ProcessRaisedException) instead of leaving q empty
        try:
            res = q.get(timeout=1.0)
            break
        except queue.Empty:
            procs.join(timeout=0)
    while not procs.join():
        pass
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct", help="'tiny' for a quick check of the plumbing")
    ap.add_argument("--steps", type=int, default=4, help="steps per environment per update (8 envs in all)")
    ap.add_argument("--updates", type=int, default=2, help="timed updates (after one warm-up update)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1, help="1-rank/2-rank pairs")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for _ in range(args.repeats):
        for world in (1, 2):
            runs[world].append(measure(world, args))
    print(f"toy task, model {args.model}, 8 envs x {args.steps} steps per update, {args.epochs} epoch(s), "
          f"{args.updates} timed update(s) x {args.repeats}")  # fmt: skip
    rate = {}
    for world, label in ((1, "1 rank x 2 threads"), (2, "2 ranks x 1 thread")):
        n = sum(r["decisions"] for r in runs[world])
        loop = sum(r["loop_s"] for r in runs[world])
        upd = sum(r["update_s"] for r in runs[world])
        rate[world] = n / loop
        print(
            f"  {label:<20} {rate[world]:7.2f} decisions/s   ({loop / n:.3f} s/decision, of which update {upd / n:.3f})"
        )
    print(f"RESULT dp_speedup_2ranks={rate[2] / rate[1]:.3f}")


if __name__ == "__main__":
    main()
