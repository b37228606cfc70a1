"""Scoring speed on the default model: TWOSOME-style naive vs this project's scorer vs the floor.

(a) naive: each candidate appended to the prompt and run in full (the prompt is
    re-encoded per candidate), full-vocabulary logits at every position, one
    padded batch per environment (as TWOSOME's policy does);
(b) this project's Scorer (prompt once, shared by its candidates, logits only
    where scored, all environments in one batch);
(c) the floor: one forward over the unique tokens only (prompt + every
    candidate's tokens once), no logits at all.

Each method runs in its own child process so that its peak memory (max RSS) is
its own. Prints decisions/s, the ratios a/b and b/c, and peak memory; the last
line is machine-readable.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import time

PROMPT_UNIT = (
    "There are four rooms: the kitchen, bathroom, bedroom, and living room. You are in the kitchen. "
    "You notice pancake and microwave. Currently, you are not grabbing anything in hand. "
    "The pancake and the microwave are not close to you. The microwave is not opened. "
)
CANDIDATES = [
    "walk to the living room",
    "walk to the bathroom",
    "walk to the bedroom",
    "walk to the pancake",
    "walk to the microwave",
    "grab the pancake",
    "open the microwave",
    "put the pancake in the microwave",
]


def make_prompt(tokenizer, target_tokens: int) -> str:
    text = ""
    while len(tokenizer(text)["input_ids"]) < target_tokens - 12:
        text += PROMPT_UNIT
    return text + "In order to heat up the pancake in the microwave, your next step is to"


def _worker(method: str, n_envs: int, prompt_tokens: int, repeats: int, threads: int, dtype: str, q) -> None:
    import torch

    torch.set_num_threads(threads)
    from agent_runtime.models import load_model
    from agent_runtime.scoring import Scorer

    lm = load_model(dtype=dtype)
    model, tok = lm.model, lm.tokenizer
    scorer = Scorer(model, tok, normalization="token")
    prompt = make_prompt(tok, prompt_tokens)
    prompts = [prompt.replace("kitchen.", f"kitchen number {i}.", 1) for i in range(n_envs)]
    cands = [CANDIDATES] * n_envs

    def naive() -> None:
        for p in prompts:
            enc = tok([p + " " + c for c in CANDIDATES], return_tensors="pt", padding=True)
            logits = model(**enc).logits  # full vocabulary at every position
            torch.log_softmax(logits.float(), dim=-1)

    def ours() -> None:
        scorer.score(prompts, cands)

    encoded = scorer.encode(prompts, cands)
    rows = [e.prefix + [t for s in e.suffixes for t in s] for e in encoded]
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])

    def floor() -> None:
        model.model(input_ids=ids, attention_mask=mask, use_cache=False)

    fn = {"naive": naive, "ours": ours, "floor": floor}[method]
    times = []
    with torch.no_grad():
        fn()  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    q.put(
        {
            "seconds": statistics.median(times),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "prompt_tokens": len(tok(prompt)["input_ids"]),
            "unique_tokens": sum(len(r) for r in rows),
        }
    )


def measure(method: str, n_envs: int, prompt_tokens: int, repeats: int, threads: int, dtype: str) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(method, n_envs, prompt_tokens, repeats, threads, dtype, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt-tokens", type=int, default=180)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--envs", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "auto"],
                    help="weights of the model (fp32: the setting of DESIGN.md's measurements)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    results: dict[int, dict[str, dict]] = {}
    for n in args.envs:
        results[n] = {}
        for method in ("naive", "ours", "floor"):
            r = measure(method, n, args.prompt_tokens, args.repeats, args.threads, args.dtype)
            r["decisions_per_s"] = n / r["seconds"]
            results[n][method] = r
        a, b, c = (results[n][m]["seconds"] for m in ("naive", "ours", "floor"))
        print(f"--- {n} env(s), prompt {results[n]['ours']['prompt_tokens']} tokens, {len(CANDIDATES)} candidates, "
              f"{args.threads} threads, {args.dtype}")  # fmt: skip
        for m, label in (("naive", "(a) TWOSOME-style naive"), ("ours", "(b) this scorer"), ("floor", "(c) floor")):
            r = results[n][m]
            print(f"  {label:<26} {r['decisions_per_s']:8.2f} decisions/s  {r['seconds']:.3f} s/call  peak {r['peak_mb']:.0f} MB")
        print(f"  speedup a/b = {a / b:.2f}x   b/c = {b / c:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in results.items()}, f, indent=2)

    def ratio(n: int, x: str, y: str) -> float:
        return results[n][x]["seconds"] / results[n][y]["seconds"]

    one, four = args.envs[0], args.envs[-1]
    print(
        f"RESULT speedup_vs_naive={ratio(one, 'naive', 'ours'):.2f} floor_ratio={ratio(one, 'ours', 'floor'):.2f} "
        f"speedup_vs_naive_4env={ratio(four, 'naive', 'ours'):.2f}"
    )


if __name__ == "__main__":
    main()
