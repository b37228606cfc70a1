"""Action scoring: log p(candidate text | prompt) for every valid candidate, batched.

Tokenisation at the prompt/candidate boundary (decoder-only models)
--------------------------------------------------------------------
For each candidate we tokenise the whole string ``prompt + separator + candidate``
(default separator: one space, as TWOSOME and GLAM write ``prompt + " " + action``).
A token belongs to the prompt if it lies entirely inside the prompt characters
(its character span ends at or before ``len(prompt)``); every later token,
including the one that carries the separator, is a candidate token and is
scored. So the candidate tokens are exactly those of prompt+separator+candidate,
whatever the tokenizer does at the boundary (BPE merges, a start token or none).
Encoder-decoder models read the prompt in the encoder and score the candidate as
the decoder's target (tokenised alone, no separator, no end token).

How it is computed (decoder-only)
---------------------------------
One row per prompt: the prompt tokens once, then every candidate's tokens,
packed. A 4-D attention mask lets each candidate token see the prompt and the
earlier tokens of its own candidate only, and position ids continue from the
end of the prompt for each candidate; this is exactly the attention the prompt's
KV cache would give each candidate, computed in one forward over the unique
tokens (no cache copies). Rows of different prompts are right-padded and the
padding is masked. Logits are computed only at the positions that predict a
scored token. The critic's feature is the hidden state at the last prompt token,
taken from the same forward. With LoRA on the top layers only, the lower
(adapter-free) layers' output of each packed row is its *trunk*: computed once
(or found in a memo of recent rows, by token ids: the lower layers never
change), it is the input of every forward of the top layers alone: acting, the
critic's frozen feature, each PPO epoch. Encoder-decoder: the encoder runs once per prompt
and its output is shared by the candidates' decoder passes.

Gradients flow through the same path (PPO re-scores with it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

NORMALIZATIONS = ("sum", "token", "word")


@dataclass
class EncodedPrompt:
    """One prompt and its candidates, tokenised."""

    prefix: list[int]  # tokens shared by all candidates (the prompt)
    suffixes: list[list[int]]  # per candidate: tokens after the shared prefix
    score_from: list[int]  # per candidate: index in its suffix of the first scored token
    n_words: list[int]  # per candidate: word count (for 'word' normalisation)
    # The frozen base model's critic feature for this prompt, once computed (``critic.input: base``): it
    # never changes, so acting computes it and every PPO epoch reuses it.
    base_features: torch.Tensor | None = field(default=None, repr=False, compare=False)
    # With LoRA on the top layers only (``lora.top_layers``): the output of the adapter-free lower layers
    # over this prompt's packed row (prompt, then every candidate), (row length, hidden). Every adapter
    # and every epoch sees the same values, so the first forward keeps them and later ones start above.
    trunk: torch.Tensor | None = field(default=None, repr=False, compare=False)

    @property
    def n_scored(self) -> list[int]:
        return [len(s) - f for s, f in zip(self.suffixes, self.score_from)]


@dataclass
class ScoreOutput:
    """Scores for B prompts with up to C candidates each (padded with -inf / False)."""

    log_probs: torch.Tensor  # (B, C) log-softmax over each prompt's candidates
    scores: torch.Tensor  # (B, C) normalised log-likelihoods (before the softmax)
    mask: torch.Tensor  # (B, C) True where a candidate exists
    hidden: torch.Tensor | None  # (B, H) hidden state at the last prompt token (critic input)

    def probs_list(self) -> list[list[float]]:
        out = []
        for row, m in zip(self.log_probs.detach().exp().tolist(), self.mask.tolist()):
            out.append([p for p, ok in zip(row, m) if ok])
        return out


def _backbone_and_head(model: torch.nn.Module) -> tuple[Any, nn.Linear]:
    """The HF model under a possible PeftModel wrapper, and its output projection."""
    hf: Any = model.get_base_model() if hasattr(model, "get_base_model") else model  # type: ignore[operator]
    return hf, hf.get_output_embeddings()


class Scorer:
    """Scores candidate texts after prompts with a (possibly LoRA-wrapped) HF model."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        normalization: str = "token",
        separator: str = " ",
        trunk_layers: int = 0,
        trunk_memo_mb: float = 256.0,
    ):
        """``trunk_layers``: how many lower decoder layers carry no adapter (their output is kept, and the
        last ``trunk_memo_mb`` MB of it remembered by token ids: a prompt seen again skips those layers)."""
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"scoring.normalization: {normalization!r} is not one of {NORMALIZATIONS}")
        self.model = model
        self.tokenizer = tokenizer
        self.normalization = normalization
        self.separator = separator
        self.trunk_layers = trunk_layers
        self.trunk_memo_bytes = int(trunk_memo_mb * 2**20)
        self._trunk_memo: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self._memo_bytes = 0
        hf, _ = _backbone_and_head(model)
        self.is_encoder_decoder = bool(hf.config.is_encoder_decoder)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        # Context for an empty prompt: a decoder needs one token to predict the first candidate token from.
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.context_id = bos if bos is not None else self.pad_id

    # ---------------------------------------------------------------- tokenise
    def encode(self, prompts: list[str], candidates: list[list[str]]) -> list[EncodedPrompt]:
        """Tokenise prompts and candidates once (the result can be re-scored many times)."""
        if len(prompts) != len(candidates):
            raise ValueError(f"{len(prompts)} prompts but {len(candidates)} candidate lists")
        for i, c in enumerate(candidates):
            if not c:
                raise ValueError(f"prompt {i} has no candidates")
        if self.is_encoder_decoder:
            return self._encode_seq2seq(prompts, candidates)
        return [self._encode_one(p, c) for p, c in zip(prompts, candidates)]

    def _encode_one(self, prompt: str, cands: list[str]) -> EncodedPrompt:
        texts = [prompt + self.separator + c for c in cands]
        enc = self.tokenizer(texts, add_special_tokens=True, return_offsets_mapping=True)
        fulls: list[list[int]] = enc["input_ids"]
        bounds = []
        for offsets in enc["offset_mapping"]:
            b = 0
            while b < len(offsets) and offsets[b][1] <= len(prompt):
                b += 1
            bounds.append(b)
        # Longest common prefix of the prompt parts: normally the prompt's own tokens.
        prefix_len = min(bounds)
        first = fulls[0]
        for full in fulls[1:]:
            n = 0
            while n < prefix_len and full[n] == first[n]:
                n += 1
            prefix_len = n
        prefix = first[:prefix_len]
        if not prefix:
            prefix = [self.context_id]
            fulls = [[self.context_id] + f for f in fulls]
            bounds = [b + 1 for b in bounds]
            prefix_len = 1
        suffixes = [f[prefix_len:] for f in fulls]
        score_from = [b - prefix_len for b in bounds]
        for c, s, f in zip(cands, suffixes, score_from):
            if len(s) - f <= 0:
                raise ValueError(f"candidate {c!r} has no tokens after the prompt")
        return EncodedPrompt(prefix, suffixes, score_from, [max(1, len(c.split())) for c in cands])

    def _encode_seq2seq(self, prompts: list[str], candidates: list[list[str]]) -> list[EncodedPrompt]:
        prompt_ids = self.tokenizer(prompts, add_special_tokens=True)["input_ids"]
        out = []
        for p_ids, cands in zip(prompt_ids, candidates):
            c_ids = self.tokenizer(cands, add_special_tokens=False)["input_ids"]
            for c, ids in zip(cands, c_ids):
                if not ids:
                    raise ValueError(f"candidate {c!r} has no tokens")
            p_ids = p_ids or [self.context_id]  # an empty prompt: the encoder still needs one token
            out.append(EncodedPrompt(p_ids, c_ids, [0] * len(cands), [max(1, len(c.split())) for c in cands]))
        return out

    # ---------------------------------------------------------------- score
    def score(self, prompts: list[str], candidates: list[list[str]], return_hidden: bool = True) -> ScoreOutput:
        return self.forward(self.encode(prompts, candidates), return_hidden=return_hidden)

    def forward(self, batch: list[EncodedPrompt], return_hidden: bool = True) -> ScoreOutput:
        """Scores for encoded prompts; differentiable when called with gradients enabled."""
        if self.is_encoder_decoder:
            token_lp, hidden = self._seq2seq_token_logprobs(batch)
        else:
            token_lp, hidden = self._causal_token_logprobs(batch)
        return self._normalise(batch, token_lp, hidden if return_hidden else None)

    def prompt_features(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """The critic features ``forward`` returns as ``hidden``, from the prompts alone (no candidate
        is run and no logits are computed): the last prompt token's hidden state for a decoder-only
        model, the decoder's state at its start token for an encoder-decoder."""
        hf, head = _backbone_and_head(self.model)
        device = head.weight.device
        n = len(batch)
        ids, mask = self._padded_prompts(batch, device)
        if self.is_encoder_decoder:
            enc_out = hf.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
            start = torch.full((n, 1), hf.config.decoder_start_token_id, dtype=torch.long, device=device)
            dec = hf.get_decoder()(
                input_ids=start, encoder_hidden_states=enc_out, encoder_attention_mask=mask, use_cache=False
            ).last_hidden_state
            if getattr(hf.config, "scale_decoder_outputs", False):
                dec = dec * (hf.config.d_model**-0.5)
            return dec[:, 0]
        # Right padding: the real tokens keep positions 0..len-1, as in the packed forward. A prompt's
        # tokens see only the prompt there too, so the start of its cached packed row is its trunk here.
        if self._has_trunks(batch):
            prompts = [e.trunk[: len(e.prefix)] for e in batch]  # type: ignore[index]
            h = self._run_layers(hf.base_model, self.trunk_layers, None, prompts, mask, None)
        else:
            h = hf.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        last = torch.tensor([len(e.prefix) - 1 for e in batch], device=device)
        return h[torch.arange(n, device=device), last]

    def _padded_prompts(self, batch: list[EncodedPrompt], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The prompts alone, right-padded: input ids and attention mask, (B, longest prompt)."""
        length = max(len(e.prefix) for e in batch)
        ids = torch.full((len(batch), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for r, e in enumerate(batch):
            ids[r, : len(e.prefix)] = torch.tensor(e.prefix)
            mask[r, : len(e.prefix)] = 1
        return ids.to(device), mask.to(device)

    def _causal_token_logprobs(self, batch: list[EncodedPrompt]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-prob of every scored token, in (prompt, candidate, token) order; and critic features."""
        hf, head = _backbone_and_head(self.model)
        device = head.weight.device
        rows, segs, poss = [], [], []
        pred_idx: list[tuple[int, int]] = []  # (row, position whose hidden state predicts the token)
        targets: list[int] = []
        last_prompt: list[int] = []
        for r, e in enumerate(batch):
            ids, seg, pos = list(e.prefix), [0] * len(e.prefix), list(range(len(e.prefix)))
            last_prompt.append(len(e.prefix) - 1)
            for j, (suf, start) in enumerate(zip(e.suffixes, e.score_from)):
                base = len(ids)
                for t, tok in enumerate(suf):
                    if t >= start:
                        pred_idx.append((r, base + t - 1 if t > 0 else len(e.prefix) - 1))
                        targets.append(tok)
                ids.extend(suf)
                seg.extend([j + 1] * len(suf))
                pos.extend(range(len(e.prefix), len(e.prefix) + len(suf)))
            rows.append(ids)
            segs.append(seg)
            poss.append(pos)
        length = max(len(r) for r in rows)
        n = len(rows)
        input_ids = torch.full((n, length), self.pad_id, dtype=torch.long)
        seg_t = torch.full((n, length), -1, dtype=torch.long)
        pos_t = torch.zeros((n, length), dtype=torch.long)
        for r in range(n):
            k = len(rows[r])
            input_ids[r, :k] = torch.tensor(rows[r])
            seg_t[r, :k] = torch.tensor(segs[r])
            pos_t[r, :k] = torch.tensor(poss[r])
        q = seg_t[:, :, None]
        k_ = seg_t[:, None, :]
        ar = torch.arange(length)
        causal = ar[None, :, None] >= ar[None, None, :]
        allowed = causal & (k_ != -1) & ((k_ == 0) | (k_ == q))
        allowed |= torch.eye(length, dtype=torch.bool)[None]  # padding rows see themselves (no NaN)
        dtype = head.weight.dtype
        mask = torch.zeros((n, 1, length, length), dtype=dtype)
        mask.masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
        body = hf.base_model
        ids_d, mask_d, pos_d = input_ids.to(device), mask.to(device), pos_t.to(device)
        if self.trunk_layers:
            self._fill_trunks(body, batch, ids_d, mask_d, pos_d, [len(r) for r in rows])
            h = self._run_layers(body, self.trunk_layers, None, [e.trunk for e in batch], mask_d, pos_d)  # type: ignore[misc]
        else:
            h = body(input_ids=ids_d, attention_mask=mask_d, position_ids=pos_d, use_cache=False).last_hidden_state
        rr = torch.tensor([p[0] for p in pred_idx], device=device)
        cc = torch.tensor([p[1] for p in pred_idx], device=device)
        logits = head(h[rr, cc]).float()
        tgt = torch.tensor(targets, device=device)
        token_lp = logits.gather(1, tgt[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)
        hidden = h[torch.arange(n, device=device), torch.tensor(last_prompt, device=device)]
        return token_lp, hidden

    def _has_trunks(self, batch: list[EncodedPrompt]) -> bool:
        return bool(self.trunk_layers) and all(e.trunk is not None for e in batch)

    @staticmethod
    def _row_key(e: EncodedPrompt) -> tuple[int, ...]:
        key = list(e.prefix)
        for s in e.suffixes:
            key += [-1, *s]  # -1: no token id, so candidate boundaries are part of the key
        return tuple(key)

    def _fill_trunks(
        self,
        body: nn.Module,
        batch: list[EncodedPrompt],
        input_ids: torch.Tensor,
        mask: torch.Tensor,
        position_ids: torch.Tensor,
        lengths: list[int],
    ) -> None:
        """Give every prompt its trunk: kept already, from the memo of earlier rows, or from a forward of the
        lower layers alone over the rows that have none (which the memo then keeps)."""
        todo: list[tuple[int, tuple[int, ...]]] = []  # (row, its memo key)
        for r, e in enumerate(batch):
            if e.trunk is None:
                key = self._row_key(e)
                e.trunk = self._trunk_memo.get(key)
                if e.trunk is None:
                    todo.append((r, key))
                else:
                    self._trunk_memo.move_to_end(key)
        if not todo:
            return
        rows = [r for r, _ in todo]
        idx = torch.tensor(rows, device=input_ids.device)
        h = self._run_layers(body, 0, self.trunk_layers, None, mask[idx], position_ids[idx], input_ids[idx])
        for (r, key), row in zip(todo, h.detach()):
            trunk = row[: lengths[r]].clone()
            batch[r].trunk = trunk
            self._remember(key, trunk)

    def _remember(self, key: tuple[int, ...], trunk: torch.Tensor) -> None:
        self._trunk_memo[key] = trunk
        self._memo_bytes += trunk.numel() * trunk.element_size()
        while self._memo_bytes > self.trunk_memo_bytes and self._trunk_memo:
            _, old = self._trunk_memo.popitem(last=False)
            self._memo_bytes -= old.numel() * old.element_size()

    def _run_layers(
        self,
        body: nn.Module,
        start: int,
        stop: int | None,
        trunks: list[torch.Tensor] | None,
        mask: torch.Tensor,
        position_ids: torch.Tensor | None,
        input_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decoder layers ``start:stop`` alone: from the tokens (``start`` 0) or from right-padded trunks. The
        top layers end with the final norm (the last hidden state); the lower ones return their raw output."""
        embeds = None
        if trunks is not None:
            embeds = trunks[0].new_zeros((len(trunks), mask.shape[-1], trunks[0].shape[-1]))
            for r, t in enumerate(trunks):
                embeds[r, : len(t)] = t
        layers: Any = body.layers
        body.layers = nn.ModuleList(list(layers)[start:stop])
        kept: list[torch.Tensor] = []
        handle = body.layers[-1].register_forward_hook(lambda _m, _a, out: kept.append(out)) if stop else None
        try:
            out = body(
                input_ids=input_ids,
                inputs_embeds=embeds,
                attention_mask=mask,
                position_ids=position_ids,
                use_cache=False,
            )
        finally:
            body.layers = layers
            if handle is not None:
                handle.remove()
        return kept[0] if stop else out.last_hidden_state

    def _seq2seq_token_logprobs(self, batch: list[EncodedPrompt]) -> tuple[torch.Tensor, torch.Tensor]:
        hf, head = _backbone_and_head(self.model)
        device = head.weight.device
        enc_ids, enc_mask = self._padded_prompts(batch, device)
        enc_out = hf.get_encoder()(input_ids=enc_ids, attention_mask=enc_mask).last_hidden_state
        owner = [r for r, e in enumerate(batch) for _ in e.suffixes]
        cands = [s for e in batch for s in e.suffixes]
        d_len = max(len(s) for s in cands)
        start = hf.config.decoder_start_token_id
        dec_in = torch.full((len(cands), d_len), self.pad_id, dtype=torch.long)
        dec_mask = torch.zeros((len(cands), d_len), dtype=torch.long)
        for i, s in enumerate(cands):
            shifted = [start] + s[:-1]
            dec_in[i, : len(s)] = torch.tensor(shifted)
            dec_mask[i, : len(s)] = 1
        own = torch.tensor(owner, device=device)
        dec = hf.get_decoder()(
            input_ids=dec_in.to(device),
            attention_mask=dec_mask.to(device),
            encoder_hidden_states=enc_out.index_select(0, own),
            encoder_attention_mask=enc_mask.index_select(0, own),
            use_cache=False,
        ).last_hidden_state
        if getattr(hf.config, "scale_decoder_outputs", False):
            dec = dec * (hf.config.d_model**-0.5)
        ii = torch.tensor([i for i, s in enumerate(cands) for _ in s], device=device)
        tt = torch.tensor([t for s in cands for t in range(len(s))], device=device)
        tgt = torch.tensor([tok for s in cands for tok in s], device=device)
        logits = head(dec[ii, tt]).float()
        token_lp = logits.gather(1, tgt[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)
        # Critic feature (GLAM): the decoder's hidden state at the start token, shared by all candidates.
        first = [0]
        for e in batch[:-1]:
            first.append(first[-1] + len(e.suffixes))
        hidden = dec[torch.tensor(first, device=device), 0]
        return token_lp, hidden

    def _normalise(
        self, batch: list[EncodedPrompt], token_lp: torch.Tensor, hidden: torch.Tensor | None
    ) -> ScoreOutput:
        device = token_lp.device
        counts = [c for e in batch for c in e.n_scored]
        cand_idx = torch.repeat_interleave(
            torch.arange(len(counts), device=device), torch.tensor(counts, device=device)
        )
        sums = torch.zeros(len(counts), device=device, dtype=token_lp.dtype).index_add(0, cand_idx, token_lp)
        if self.normalization == "token":
            sums = sums / torch.tensor(counts, device=device, dtype=sums.dtype)
        elif self.normalization == "word":
            words = [w for e in batch for w in e.n_words]
            sums = sums / torch.tensor(words, device=device, dtype=sums.dtype)
        b = len(batch)
        c = max(len(e.suffixes) for e in batch)
        mask = torch.zeros((b, c), dtype=torch.bool, device=device)
        rows = torch.tensor([r for r, e in enumerate(batch) for _ in e.suffixes], device=device)
        cols = torch.tensor([j for e in batch for j in range(len(e.suffixes))], device=device)
        mask[rows, cols] = True
        scores = torch.full((b, c), float("-inf"), device=device, dtype=sums.dtype).index_put((rows, cols), sums)
        log_probs = F.log_softmax(scores, dim=-1)
        return ScoreOutput(log_probs=log_probs, scores=scores, mask=mask, hidden=hidden)


def naive_scores(scorer: Scorer, prompts: list[str], candidates: list[list[str]]) -> list[torch.Tensor]:
    """Reference (TWOSOME-style): each candidate appended to its prompt, a full forward, full logits.

    Uses the same tokenisation as ``Scorer.encode``; returns per prompt the normalised scores.
    Slow by design: tests and benchmarks compare the fast path against it.
    """
    hf, _ = _backbone_and_head(scorer.model)
    device = hf.get_output_embeddings().weight.device
    out = []
    for enc in scorer.encode(prompts, candidates):
        vals = []
        for suf, start, words in zip(enc.suffixes, enc.score_from, enc.n_words):
            if scorer.is_encoder_decoder:
                logits = (
                    scorer.model(
                        input_ids=torch.tensor([enc.prefix], device=device),
                        labels=torch.tensor([suf], device=device),
                    )
                    .logits[0]
                    .float()
                )
                lp = F.log_softmax(logits, dim=-1)
                tok = lp[torch.arange(len(suf)), torch.tensor(suf, device=device)]
            else:
                ids = enc.prefix + suf
                logits = scorer.model(input_ids=torch.tensor([ids], device=device)).logits[0].float()
                lp = F.log_softmax(logits, dim=-1)
                p = len(enc.prefix)
                positions = torch.arange(p + start, len(ids), device=device)
                tok = lp[positions - 1, torch.tensor(ids, device=device)[positions]]
            total = tok.sum()
            if scorer.normalization == "token":
                total = total / len(tok)
            elif scorer.normalization == "word":
                total = total / words
            vals.append(total)
        out.append(torch.stack(vals))
    return out
