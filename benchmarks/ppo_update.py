"""One PPO update (128 decisions, 8 candidates each) through the shared-prefix path vs the naive path.

shared: this project's scorer re-scores each minibatch (prompt once per decision, logits only where
        scored), with gradients;
naive:  TWOSOME-style re-scoring: every candidate appended to its prompt and run in full with
        full-vocabulary logits (one padded batch per decision), with gradients.

Both run the same PPO code, data and settings; each in its own child process so the peak memory
(max RSS) is its own. The default model in the runtime's default precision (bf16 weights + autocast
on CPUs with native bf16; --dtype fp32 for fp32).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time


def _worker(path: str, decisions: int, prompt_tokens: int, dtype: str, threads: int, q) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    from agent_runtime.buffer import Batch
    from agent_runtime.models import load_model
    from agent_runtime.policy import ActorCritic
    from agent_runtime.algos.ppo import PPO
    from agent_runtime.config import PPOSection
    # The scoring benchmark's prompt and candidates (this script's folder is on sys.path).
    from scoring import CANDIDATES, make_prompt

    torch.manual_seed(0)
    lm = load_model(dtype=dtype)
    ac = ActorCritic(lm, lora_dropout=0.0)
    prompt = make_prompt(lm.tokenizer, prompt_tokens)
    prompts = [prompt.replace("kitchen.", f"kitchen number {i}.", 1) for i in range(decisions)]
    enc = ac.encode(prompts, [CANDIDATES] * decisions)

    if path == "naive":
        scorer = ac.scorer
        model = ac.model
        shared_forward = scorer.forward

        def naive_forward(batch, return_hidden=True):
            if return_hidden:  # the critic's prompt-only pass is the same in both paths
                return shared_forward(batch, return_hidden=True)
            token_lp = []
            for e in batch:
                seqs = [e.prefix + s for s in e.suffixes]
                width = max(len(s) for s in seqs)
                ids = torch.tensor([s + [scorer.pad_id] * (width - len(s)) for s in seqs])
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
                logp = F.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
                for j, (s, start) in enumerate(zip(e.suffixes, e.score_from)):
                    pos = torch.arange(len(e.prefix) + start, len(e.prefix) + len(s))
                    token_lp.append(logp[j, pos - 1, ids[j, pos]])
            return scorer._normalise(batch, torch.cat(token_lp), None)

        scorer.forward = naive_forward

    with torch.no_grad():
        out = ac(enc)
    actions = torch.randint(0, len(CANDIDATES), (decisions,))
    batch = Batch(
        encoded=enc,
        actions=actions,
        logps=out.log_probs.gather(1, actions[:, None]).squeeze(1).float(),
        values=out.values.float(),
        advantages=torch.randn(decisions),
        returns=torch.randn(decisions),
        overridden=torch.zeros(decisions, dtype=torch.bool),
    )
    ppo = PPO(ac, PPOSection(update_epochs=1, minibatch_size=32, micro_batch_size=8, lr_actor=1e-4, lr_critic=1e-3))
    ac.train()
    t0 = time.perf_counter()
    stats = ppo.update(batch, np.random.default_rng(0))
    seconds = time.perf_counter() - t0
    q.put({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "approx_kl": stats["approx_kl"], "prompt_tokens": len(lm.tokenizer(prompt)["input_ids"])})  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--decisions", type=int, default=128)
    ap.add_argument("--prompt-tokens", type=int, default=180)
    ap.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    res = {}
    for path in ("shared", "naive"):
        q = ctx.Queue()
        p = ctx.Process(target=_worker, args=(path, args.decisions, args.prompt_tokens, args.dtype, args.threads, q))
        p.start()
        res[path] = q.get()
        p.join()
        r = res[path]
        print(f"{path:>7}: {r['seconds']:7.1f} s per update  peak {r['peak_mb']:6.0f} MB  (approx_kl {r['approx_kl']:.4f})")
    s, n = res["shared"], res["naive"]
    print(f"{args.decisions} decisions x 8 candidates, prompt {s['prompt_tokens']} tokens, dtype {args.dtype}, "
          f"{args.threads} threads: naive/shared time {n['seconds'] / s['seconds']:.2f}x, "
          f"memory {n['peak_mb'] / s['peak_mb']:.2f}x")  # fmt: skip
    print(f"RESULT update_s={s['seconds']:.1f} naive_update_s={n['seconds']:.1f} speedup={n['seconds'] / s['seconds']:.2f} "
          f"peak_mb={s['peak_mb']:.0f} naive_peak_mb={n['peak_mb']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
