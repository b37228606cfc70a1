"""The whole learning loop (acting + simulator + PPO updates), decisions per second, new path vs old.

Real task configs (Tomato Salad, VirtualHome Food Preparation), the default model, 4 environments x
8 steps, 2 PPO epochs (no KL stop, no critic-only warm-up: every update does its full work),
`model.threads` torch threads. The paths differ by config switches only:

* old: ``critic.cache_features: false``, LoRA on every layer: every PPO epoch and every bootstrap
  value re-runs the frozen base model over the prompts for the critic, as the runtime did before;
* cache: ``critic.cache_features: true``: the frozen feature of a prompt is computed once, when
  acting, and reused (exact: tests/test_learning_loop_levers.py);
* new: the cache and ``lora.top_layers: N`` (LoRA on every linear layer of the top N layers only):
  the lower layers' output of each packed prompt (its trunk) is computed once, so the critic's
  frozen feature and every PPO epoch run (and back-propagate through) the top N layers alone, and a
  prompt seen before (``lora.trunk_memo_mb``) skips the lower layers when acting too (exact for that
  placement: the same test file).

Each path runs in its own child process, one after the other for each repeat. The loop time is the
sum of the updates' ``collect_s`` and ``update_s`` (model loading and checkpoint writing are left
out). A breakdown of one decision's time: acting (policy forwards without gradients, critic
included), simulator (``venv.step``), update forward, update backward and optimiser (the rest).

The bound: FLOPs per decision (0.21 GFLOP per token forward for SmolLM2-135M, DESIGN.md; a
frozen-base backward about the same again; the fraction of layers each forward runs), from the run's
own token counts, divided by the bf16 matmul rate measured here on SmolLM2's MLP shape. Its last
line is

    RESULT loop_speedup=<new/old decisions/s, Tomato Salad> loop_speedup_vh=<same, Food Preparation> bound_ratio=<new time per decision / matmul bound>
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import tempfile
import time
from typing import Any

GFLOP_PER_TOKEN = 0.21  # SmolLM2-135M forward (DESIGN.md: ~106M body parameters)
N_LAYERS = 30  # SmolLM2-135M's decoder layers
ALL_LINEAR = "[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]"  # the new path's LoRA targets


def paths(top_layers: int) -> dict[str, list[str]]:
    """Each path's config switches (the same whatever the task configs' defaults are)."""
    before = ["lora.top_layers=null", "lora.target_modules=[q_proj,v_proj]"]
    return {
        "old": ["critic.cache_features=false", *before],
        "cache": ["critic.cache_features=true", *before],
        "new": ["critic.cache_features=true", f"lora.top_layers={top_layers}", f"lora.target_modules={ALL_LINEAR}"],
    }


CONFIGS = {"tomato-salad": "overcooked-tomato-salad", "food-preparation": "virtualhome-food-preparation"}


def matmul_rate(threads: int, seconds: float = 2.0) -> float:
    """bf16 GFLOP/s of a (1024 x 576) @ (576 x 1536) matmul (SmolLM2's MLP shape) on ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(1024, 576, dtype=torch.bfloat16)
    b = torch.randn(576, 1536, dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 1024 * 576 * 1536 * n / (time.perf_counter() - t0) / 1e9


def _run(config: str, switches: list[str], decisions: int, threads: int, epochs: int, out: Any) -> None:
    import torch

    from agent_runtime.config import load_config
    from agent_runtime.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(config, [
            f"run.total_decisions={decisions}", "run.num_steps=8", "env.num_envs=4", f"ppo.update_epochs={epochs}",
            *switches, "run.progress=false", "log.tensorboard=false",
            "log.console_every=0", f"run.output_dir={tmp}", "run.name=bench", "checkpoint.every=0",
            f"model.threads={threads}", "env.in_process=true", "ppo.target_kl=null", "ppo.value_warmup_updates=0",
        ])  # fmt: skip
        t = Trainer(cfg)
        timing = {"act": 0.0, "sim": 0.0, "upd_fwd": 0.0}
        tokens = {"packed": 0, "prompt": 0, "acted": 0, "lower": 0}
        forward, step, run_layers = t.policy.forward, t.venv.step, t.policy.scorer._run_layers

        def counted_layers(body: Any, start: int, stop: Any, *a: Any, **kw: Any) -> Any:
            if start == 0:  # the lower layers alone: rows not found in the trunk memo (padded length)
                tokens["lower"] += a[1].shape[0] * a[1].shape[-1]
            return run_layers(body, start, stop, *a, **kw)

        t.policy.scorer._run_layers = counted_layers  # type: ignore[method-assign]

        def timed_forward(batch: Any, with_values: bool = True) -> Any:
            t0 = time.perf_counter()
            res = forward(batch, with_values=with_values)
            key = "upd_fwd" if torch.is_grad_enabled() else "act"
            timing[key] += time.perf_counter() - t0
            if key == "act":
                tokens["acted"] += len(batch)
                tokens["packed"] += sum(len(e.prefix) + sum(map(len, e.suffixes)) for e in batch)
                tokens["prompt"] += sum(len(e.prefix) for e in batch)
            return res

        def timed_step(actions: list[int]) -> Any:
            t0 = time.perf_counter()
            res = step(actions)
            timing["sim"] += time.perf_counter() - t0
            return res

        t.policy.forward = timed_forward  # type: ignore[method-assign]
        t.venv.step = timed_step  # type: ignore[method-assign]
        ups = t.train()["updates"]
        n = ups[-1]["decisions"]
        loop = sum(u["collect_s"] + u["update_s"] for u in ups)
        update = sum(u["update_s"] for u in ups)
        out.put({
            "decisions": n, "loop_s": loop, "act_s": timing["act"], "sim_s": timing["sim"],
            "upd_fwd_s": timing["upd_fwd"], "upd_rest_s": update - timing["upd_fwd"],
            "packed_tokens": tokens["packed"] / max(1, tokens["acted"]),
            "prompt_tokens": tokens["prompt"] / max(1, tokens["acted"]),
            "lower_tokens": tokens["lower"] / max(1, tokens["acted"]),
        })  # fmt: skip


def measure(config: str, switches: list[str], decisions: int, threads: int, epochs: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_run, args=(config, switches, decisions, threads, epochs, q))
    p.start()
    while True:  # a child that dies (an import error, a bad config) must not leave us waiting forever
        try:
            res = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(
                    f"the {switches} run of {config} died (exit code {p.exitcode}); see its error above"
                ) from None
    p.join()
    return res


def flops_per_decision(r: dict[str, float], epochs: int, switches: list[str]) -> float:
    """GFLOP per decision: acting (actor packed forward + critic prompt forward), then per epoch a packed
    forward and a backward of about the same cost, plus the critic's prompt forward unless cached; with
    ``lora.top_layers`` every forward after acting's packed one runs that fraction of the layers."""
    cache = "critic.cache_features=true" in switches
    top = next((int(v) for s in switches if s.startswith("lora.top_layers=") and (v := s.split("=")[1]) != "null"), 0)
    if not top:
        acting = r["packed_tokens"] + r["prompt_tokens"]
        upper = 1.0
    else:  # the lower layers ran only over rows not in the memo (counted), the top ones over every row
        upper = top / N_LAYERS
        acting = r["lower_tokens"] * (1 - upper) + (r["packed_tokens"] + r["prompt_tokens"]) * upper
    per_epoch = 2 * r["packed_tokens"] * upper + (0 if cache else r["prompt_tokens"])
    return GFLOP_PER_TOKEN * (acting + epochs * per_epoch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--decisions", type=int, default=64, help="decisions per run (4 envs x 8 steps per update)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--top-layers", type=int, default=6, help="lora.top_layers of the new path")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each path per task")
    args = ap.parse_args()
    rate = matmul_rate(args.threads)
    print(f"bf16 matmul (1024x576 @ 576x1536), {args.threads} threads: {rate:.0f} GFLOP/s")
    speedups: dict[str, float] = {}
    bound_ratio = float("nan")
    switches = paths(args.top_layers)
    for task, config in CONFIGS.items():
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in switches}
        for _ in range(args.repeats):
            for name, sw in switches.items():
                runs[name].append(measure(config, sw, args.decisions, args.threads, args.epochs))
        print(f"\n{task} ({config}), {args.decisions} decisions, {args.epochs} epochs, new: top {args.top_layers}:")
        print(
            f"  {'path':<5} {'dec/s':>7} {'s/dec':>7} {'acting':>7} {'sim':>7} {'upd fwd':>8} {'upd bwd+opt':>11}"
            f" {'GFLOP/dec':>9} {'bound s/dec':>11}"
        )
        rates = {}
        for name, rs in runs.items():
            n = sum(r["decisions"] for r in rs)
            per = {k: sum(r[k] for r in rs) / n for k in ("loop_s", "act_s", "sim_s", "upd_fwd_s", "upd_rest_s")}
            gflop = flops_per_decision(rs[0], args.epochs, switches[name])
            bound = gflop / rate
            rates[name] = 1 / per["loop_s"]
            print(
                f"  {name:<5} {rates[name]:>7.2f} {per['loop_s']:>7.3f} {per['act_s']:>7.3f} {per['sim_s']:>7.3f}"
                f" {per['upd_fwd_s']:>8.3f} {per['upd_rest_s']:>11.3f} {gflop:>9.1f} {bound:>11.3f}"
            )
            if name == "new" and task == "tomato-salad":
                bound_ratio = per["loop_s"] / bound
        speedups[task] = rates["new"] / rates["old"]
        print(f"  speed-up new/old: {speedups[task]:.2f}x (cache alone: {rates['cache'] / rates['old']:.2f}x)")
    print(
        f"RESULT loop_speedup={speedups['tomato-salad']:.2f} loop_speedup_vh={speedups['food-preparation']:.2f} "
        f"bound_ratio={bound_ratio:.2f}"
    )


if __name__ == "__main__":
    main()
