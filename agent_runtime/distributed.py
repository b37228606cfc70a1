"""Data-parallel learning on torch.distributed: N ranks, one model each, gradients averaged.

Launched by ``torchrun`` (or ``agent-runtime run --nproc N``, which re-executes under
``torch.distributed.run``). Each rank runs its own simulators and collects its own rollout; what must
be the same everywhere is decided together:

* the trainable parameters: rank 0's are broadcast at the start, and the gradients of every
  minibatch are averaged over all ranks' decisions before each optimiser step;
* advantage normalisation uses the global mean and std (all-reduced count, sum, sum of squares);
* the target-KL early stop and the adaptive learning rate use the global approximate KL;
* counters (decisions, episodes) and the learning-rate schedule are global;
* requests from the TUI (save, stop) reach rank 0 and are broadcast every round.

Rank 0 alone writes checkpoints, logs and TensorBoard and serves telemetry; a checkpoint holds
every rank's RNG state. Without an initialised process group every helper here is the local
computation (one process behaves exactly as before). gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

log = logging.getLogger("agent_runtime")

RANK_SEED_STRIDE = 1_000_003  # env seeds of rank r start at env.seed + r * stride; sampling seeds likewise
TIMEOUT_S = 1800.0  # a collective waits this long (a TUI pause holds the other ranks at the next round)


def active() -> bool:
    """Whether this process is one rank of several."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def launched() -> bool:
    """Whether torchrun started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def backend_for(device: str) -> str:
    """nccl for CUDA models (where nccl is there), gloo otherwise."""
    if device.startswith("cuda") and torch.cuda.is_available() and dist.is_nccl_available():
        return "nccl"
    return "gloo"


def init(device: str) -> str:
    """Join the process group torchrun describes (env://); returns this rank's model device."""
    if not launched() or dist.is_initialized():
        return device
    backend = backend_for(device)
    if backend == "nccl":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    dist.init_process_group(backend, timeout=timedelta(seconds=TIMEOUT_S))
    log.info("rank %d of %d (%s, model on %s)", dist.get_rank(), dist.get_world_size(), backend, device)
    return device


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _device() -> torch.device:
    """Where collective tensors live: the current CUDA device under nccl, else the CPU."""
    if active() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum over ranks (float64); the values themselves on one process."""
    if not active():
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    dist.all_reduce(t)
    return t.cpu().tolist()


def all_max(value: int) -> int:
    if not active():
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (pickled)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def broadcast_parameters(params: Sequence[torch.Tensor], src: int = 0) -> None:
    """Copy rank ``src``'s values into every rank's ``params`` (one flat broadcast)."""
    if not active() or not params:
        return
    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).to(_device(), torch.float32) for p in params])
        dist.broadcast(flat, src=src)
        offset = 0
        for p in params:
            n = p.numel()
            p.copy_(flat[offset : offset + n].view_as(p).to(p.device, p.dtype))
            offset += n


def average_gradients(params: Sequence[torch.Tensor], n_local: int) -> int:
    """Make every rank's gradients the mean over all ranks' decisions of this minibatch.

    Each rank's ``p.grad`` holds the mean over its own ``n_local`` decisions; the result is
    ``sum_r n_r * g_r / sum_r n_r``, what one process computes on the union. A parameter without a
    gradient on every rank keeps ``None`` (the optimiser skips it, as it would on one process).
    Returns the global number of decisions.
    """
    if not active():
        return n_local
    dev = _device()
    parts = [
        (p.grad.detach().reshape(-1).to(dev, torch.float32) * n_local)
        if p.grad is not None
        else torch.zeros(p.numel(), device=dev)
        for p in params
    ]
    flags = torch.tensor([float(p.grad is not None) for p in params] + [float(n_local)], device=dev)
    flat = torch.cat([*parts, flags])
    dist.all_reduce(flat)
    total = float(flat[-1].item())
    has = flat[-1 - len(params) : -1]
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        if has[i] > 0 and total > 0:
            g = (flat[offset : offset + n] / total).view_as(p).to(p.device, p.dtype)
            if p.grad is None:
                p.grad = g
            else:
                p.grad.copy_(g)
        offset += n
    return int(total)


def normalize_advantages(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(adv - mean) / (std + 1e-8)`` with the mean and (unbiased) std of ``adv[mask]`` of all ranks.

    The ranks' masked advantages are gathered (a minibatch's worth of floats) and the statistics are
    computed as one process computes them on the union, in rank order. Left as it is when fewer
    than two masked advantages exist (over all ranks)."""
    a = adv[mask]
    if active():
        a = cat_from_ranks(a)
    if a.numel() > 1:
        return (adv - a.mean()) / (a.std() + 1e-8)
    return adv


def cat_from_ranks(t: torch.Tensor) -> torch.Tensor:
    """Every rank's 1-d ``t`` (lengths may differ), concatenated in rank order, on every rank."""
    dev = _device()
    sizes = [torch.zeros(1, dtype=torch.int64, device=dev) for _ in range(world())]
    dist.all_gather(sizes, torch.tensor([t.numel()], dtype=torch.int64, device=dev))
    longest = max(int(x.item()) for x in sizes)
    padded = torch.zeros(longest, dtype=t.dtype, device=dev)
    padded[: t.numel()] = t.to(dev)
    parts = [torch.empty_like(padded) for _ in range(world())]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(n.item())] for p, n in zip(parts, sizes)]).to(t.device)


def global_mean(values: Sequence[float]) -> float | None:
    """The mean of all ranks' ``values`` together; None where no rank has any."""
    if not active():
        return float(np.mean(values)) if len(values) else None
    s, n = all_sum([float(sum(values)), float(len(values))])
    return s / n if n else None


def average_stats(stats: dict[str, float]) -> dict[str, float]:
    """Each statistic averaged over the ranks (the keys are the same on every rank)."""
    if not active() or not stats:
        return stats
    keys = sorted(stats)
    sums = all_sum([stats[k] for k in keys])
    return {k: v / world() for k, v in zip(keys, sums)}


def rank_seed(seed: int, r: int | None = None) -> int:
    """Rank r's seed derived from the run's ``seed`` (rank 0 keeps it)."""
    return seed + (rank() if r is None else r) * RANK_SEED_STRIDE


def share_of(addresses: Sequence[str], r: int | None = None, n: int | None = None) -> list[str]:
    """Rank r's share of the ``--connect`` addresses: every n-th, starting at r."""
    r = rank() if r is None else r
    n = world() if n is None else n
    if not addresses:
        return []
    if len(addresses) < n:
        raise ValueError(f"{len(addresses)} --connect address(es) for {n} ranks: each rank needs at least one")
    return list(addresses[r::n])


def rank_config(cfg: Any) -> Any:
    """This rank's copy of the run config: its env seed, its share of ``--connect``, no telemetry,
    progress bar or TUI sockets outside rank 0. Rank 0's copy equals the config."""
    if not active():
        return cfg
    import copy

    cfg = copy.deepcopy(cfg)
    cfg.env.seed = rank_seed(cfg.env.seed)
    cfg.env.connect = share_of(cfg.env.connect)
    if not is_main():
        cfg.run.progress = False
        cfg.telemetry.pub = None
        cfg.telemetry.control = None
        cfg.telemetry.demos = None
    return cfg


def relaunch_argv(nproc: int, argv: Sequence[str]) -> list[str]:
    """The command that runs ``agent_runtime.cli argv`` as ``nproc`` ranks on this machine (torchrun)."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", "agent_runtime.cli", *argv,
    ]  # fmt: skip
