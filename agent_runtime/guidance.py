"""RLAdapter / AdaRefiner guidance for Crafter: an adapter LM analyses, a guide LLM sets sub-goals.

Every ``guidance.every`` decisions of an environment:

1. the comprehension score: the cosine similarity (sentence embeddings) of the
   skills chosen since the last query to the last sub-goal, squashed by
   AdaRefiner's sigmoid(10 (x - 0.1));
2. a summary of the situation (what is seen, inventory, last action, past
   sub-goals, the score) goes to the **adapter** (the policy's base model with
   its own LoRA), which writes a short analysis;
3. the **guide** (a local model or an OpenAI-compatible endpoint) reads the
   summary and the analysis and names a sub-goal from the achievement list;
   it is parsed from free text, with a fallback (the first achievement not yet
   unlocked, in tech-tree order) when the text names none;
4. the sub-goal fills ``{subgoal}`` in ``prompt.template``.

The adapter's own (prompt, analysis) pairs are kept and, every
``guidance.sft_every`` PPO updates, it is fine-tuned on them (SFT with LoRA,
``guidance.sft_steps`` steps), as AdaRefiner does with its data.jsonl.

Memory: the adapter is one more named LoRA adapter (``guide``) on the policy's frozen base (see
``adapters``); it is active only while it generates or trains, and its optimiser holds only its
own weights. The simulator's words (achievements, their phrases, the analysts' system prompts) come
from the vocabulary module ``guidance.vocabulary`` names (Crafter's: ``skills.crafter_guidance``).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import random
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import PreTrainedTokenizerBase

from agent_runtime.adapters import ACTOR, GUIDE, Adapters
from agent_runtime.config import GuidanceSection
from agent_runtime.embedding import Embedder, comprehension
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from bridges.spec import Observation

log = logging.getLogger("agent_runtime.guidance")

# A small local guide tends to echo the analysis; starting its answer for it keeps it on the list.
GUIDE_ANSWER_PREFIX = "The next sub-goal is to"
GUIDE_TOKENS = 12


# ---------------------------------------------------------------- prompts
@dataclass
class Summary:
    """What the adapter and the guide are told about one environment."""

    sees: str
    status: str
    last_action: str
    past_subgoals: str
    score: float | None
    choices: list[str] = field(default_factory=list)  # achievement names offered to the guide

    def user_text(self) -> str:
        score = "none yet" if self.score is None else f"{self.score:.3f}"
        return (
            f"Player sees: <{self.sees}>. Player status: <{self.status}>. Past action: <{self.last_action}>. "
            f"Past sub-goals: <{self.past_subgoals}>. Player's comprehension score: <{score}>."
        )


def load_vocabulary(name: str) -> Any:
    """The simulator's guidance vocabulary module (``guidance.vocabulary``, e.g. ``skills.crafter_guidance``):
    TECH_ORDER, SUBGOAL_TEXT, ADAPTER_SYSTEM, GUIDE_SYSTEM, parse_subgoal, open_achievements, describe."""
    return importlib.import_module(name)


def summarize(obs: Observation, actions: list[str], subgoals: list[str], score: float | None, vocab: Any) -> Summary:
    """A Summary from the observation's info as the vocabulary describes it (else its observation text)."""
    info = obs.info or {}
    described = vocab.describe(info)
    if described is not None:
        sees, status = described
    else:
        sees, status = " ".join(obs.text.split())[:400], "unknown"
    return Summary(
        sees=sees,
        status=status,
        last_action=actions[-1] if actions else "none",
        past_subgoals=", ".join(subgoals[-3:]) or "none",
        score=score,
        choices=vocab.open_achievements(info.get("achievements")),
    )


Messages = list[dict[str, str]]


def adapter_messages(s: Summary, vocab: Any) -> Messages:
    return [{"role": "system", "content": vocab.ADAPTER_SYSTEM}, {"role": "user", "content": s.user_text()}]


def guide_messages(s: Summary, analysis: str, vocab: Any) -> Messages:
    choices = ", ".join(vocab.SUBGOAL_TEXT[a] for a in s.choices)
    user = s.user_text().rsplit(" Player's comprehension", 1)[0] + f" Analysis: <{' '.join(analysis.split())}>."
    return [
        {"role": "system", "content": vocab.GUIDE_SYSTEM.format(choices=choices)},
        {"role": "user", "content": user},
    ]


# ---------------------------------------------------------------- generation
class ChatModel(Protocol):
    def chat(self, batch: list[Messages]) -> list[str]: ...


def render(tokenizer: PreTrainedTokenizerBase, messages: Messages) -> str:
    """Chat-template text ending where the assistant's answer starts (plain text without a template)."""
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"


def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    templated = bool(getattr(tokenizer, "chat_template", None))
    return tokenizer(text, add_special_tokens=not templated)["input_ids"]


class LocalChat:
    """Greedy batched generation with a local model under one named adapter (``None``: the base alone)."""

    def __init__(self, adapters: Adapters, adapter: str | None, tokenizer: PreTrainedTokenizerBase,
                 max_new_tokens: int, max_prompt_tokens: int = 768, answer_prefix: str = ""):  # fmt: skip
        self.adapters, self.adapter, self.tokenizer = adapters, adapter, tokenizer
        self.answer_prefix = answer_prefix
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens

    @torch.no_grad()
    def chat(self, batch: list[Messages]) -> list[str]:
        if not batch:
            return []
        tok = self.tokenizer
        seqs = [_ids(tok, render(tok, m) + self.answer_prefix)[-self.max_prompt_tokens :] for m in batch]
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        width = max(map(len, seqs))
        # Left padding, built by hand: the tokenizer is shared with the policy's scorer.
        ids = torch.tensor([[pad] * (width - len(s)) + s for s in seqs])
        mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs])
        model = self.adapters.model
        device = next(model.parameters()).device
        with self.adapters.active(self.adapter):
            out = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        new = out if self.adapters.is_encoder_decoder else out[:, width:]
        return [str(tok.decode(row, skip_special_tokens=True)).strip() for row in new]


class OpenAIChat:
    """Any OpenAI-compatible endpoint: POST {base_url}/chat/completions (base_url usually ends in /v1)."""

    def __init__(self, base_url: str, model: str | None, max_tokens: int, timeout: float = 60.0,
                 api_key: str | None = None):  # fmt: skip
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model or "default"
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")

    def one(self, messages: Messages) -> str:
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens, "temperature": 0}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        try:
            return str(data["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError(f"{self.url}: unexpected reply {str(data)[:200]!r}") from e

    def chat(self, batch: list[Messages]) -> list[str]:
        if not batch:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(batch))) as pool:
            return list(pool.map(self.one, batch))


# ---------------------------------------------------------------- the component
class Guidance:
    """Sub-goals for the policy's prompt from an adapter LM and a guide LLM; SFT of the adapter."""

    def __init__(self, cfg: GuidanceSection, policy: ActorCritic, num_envs: int, seed: int = 0):
        if cfg.every < 1:
            raise ValueError(f"guidance.every: must be >= 1, got {cfg.every}")
        if cfg.sft_every < 0 or cfg.sft_steps < 0:
            raise ValueError("guidance.sft_every and guidance.sft_steps: must be >= 0")
        if cfg.max_new_tokens < 1:
            raise ValueError(f"guidance.max_new_tokens: must be >= 1, got {cfg.max_new_tokens}")
        self.cfg = cfg
        self.num_envs = num_envs
        self.rng = random.Random(seed)
        self.vocab = load_vocabulary(cfg.vocabulary)
        if cfg.adapter_model is None:  # one more named adapter over the policy's own frozen base
            self.adapters, self.adapter, self.tokenizer = policy.adapters, GUIDE, policy.tokenizer
            if not self.adapters.has(GUIDE):
                self.adapters.add(
                    GUIDE, r=8, alpha=16, dropout=0.05, target_modules=self.adapters.targets(ACTOR), seed=seed
                )
        else:  # a model of its own, whose (default) adapter is the guide's
            loaded = load_model(cfg.adapter_model, seed=seed)
            with torch.random.fork_rng(devices=[]):  # a reproducible LoRA init that leaves the trainer's RNG alone
                torch.manual_seed(seed)
                self.adapters = Adapters(loaded.model, 8, 16, 0.05, ["q_proj", "v_proj"])
            self.adapter, self.tokenizer = ACTOR, loaded.tokenizer
        self.adapter_chat = LocalChat(self.adapters, self.adapter, self.tokenizer, cfg.max_new_tokens)
        self.guide = self._make_guide(cfg, seed)
        self.embedder = Embedder(cfg.embedding_model)
        self.optimizer = torch.optim.AdamW(self.parameters(), lr=2e-4)
        self.data: list[tuple[Messages, str]] = []  # the adapter's (prompt, analysis) pairs
        self.max_data = 4096
        self.current = [""] * num_envs
        self.need = [True] * num_envs
        self.since = [0] * num_envs
        self.actions: list[list[str]] = [[] for _ in range(num_envs)]  # since the last query
        self.past: list[list[str]] = [[] for _ in range(num_envs)]
        self.last_analysis = [""] * num_envs
        self.scores: list[float] = []  # comprehension scores since the last update
        self.queries = 0
        self.fallbacks = 0

    def _make_guide(self, cfg: GuidanceSection, seed: int) -> ChatModel:
        if cfg.guide.startswith(("http://", "https://")):
            return OpenAIChat(cfg.guide, cfg.guide_model, cfg.max_new_tokens)
        if cfg.guide != "local":
            raise ValueError(f"guidance.guide: {cfg.guide!r} is neither 'local' nor an http(s):// base URL")
        # A small local guide tends to echo the analysis; starting its answer for it keeps it on the
        # list, and a sub-goal needs few tokens.
        n = min(cfg.max_new_tokens, GUIDE_TOKENS)
        if cfg.guide_model is None:  # the adapter's base model, its LoRA switched off
            return LocalChat(self.adapters, None, self.tokenizer, n, answer_prefix=GUIDE_ANSWER_PREFIX)
        loaded = load_model(cfg.guide_model, seed=seed)
        return LocalChat(Adapters(loaded.model), None, loaded.tokenizer, n, answer_prefix=GUIDE_ANSWER_PREFIX)

    # ------------------------------------------------------------ trainer API
    def subgoals(self, obs: list[Observation]) -> list[str]:
        """The current sub-goal per environment; queries the environments that are due, in one batch."""
        due = [i for i in range(len(obs)) if self.need[i] or self.since[i] >= self.cfg.every]
        if due:
            self._query(due, obs)
        return list(self.current[: len(obs)])

    def observe(self, obs: list[Observation], actions: list[int]) -> None:
        """Record the chosen skill texts."""
        for i, (o, a) in enumerate(zip(obs, actions)):
            self.actions[i].append(o.skills[a])
            del self.actions[i][:-64]
            self.since[i] += 1

    def episode_end(self, env: int, obs: Observation) -> None:
        """Forget that environment's history and sub-goal; it is queried again on its next decision."""
        self.current[env] = ""
        self.need[env] = True
        self.since[env] = 0
        self.actions[env] = []
        self.past[env] = []

    def after_update(self, update: int) -> dict[str, float]:
        """SFT of the adapter every ``sft_every`` updates; scalars to log."""
        out: dict[str, float] = {"guidance_queries": float(self.queries), "guidance_fallbacks": float(self.fallbacks)}
        if self.scores:
            out["guidance_comprehension"] = sum(self.scores) / len(self.scores)
        self.scores = []
        if self.cfg.sft_every > 0 and update % self.cfg.sft_every == 0 and self.data and self.cfg.sft_steps > 0:
            out["guidance_sft_loss"] = self.sft(self.cfg.sft_steps)
        return out

    def close(self) -> None:
        self.data = []

    # ------------------------------------------------------------ internals
    def comprehension_scores(self, actions: list[list[str]], subgoals: list[str]) -> list[float | None]:
        """Score of each action history against its sub-goal (None where either is missing)."""
        pairs = [(i, ", ".join(a[-8:]), s) for i, (a, s) in enumerate(zip(actions, subgoals)) if a and s]
        out: list[float | None] = [None] * len(actions)
        if pairs:
            sims = self.embedder.similarity([p[1] for p in pairs], [p[2] for p in pairs])
            for (i, _, _), sim in zip(pairs, sims):
                out[i] = comprehension(sim)
        return out

    def _query(self, due: list[int], obs: list[Observation]) -> None:
        scores = self.comprehension_scores([self.actions[i] for i in due], [self.current[i] for i in due])
        summaries = [summarize(obs[i], self.actions[i], self.past[i], sc, self.vocab) for i, sc in zip(due, scores)]
        prompts = [adapter_messages(s, self.vocab) for s in summaries]
        analyses = self.adapter_chat.chat(prompts)
        try:
            replies = self.guide.chat([guide_messages(s, a, self.vocab) for s, a in zip(summaries, analyses)])
        except (OSError, ValueError, urllib.error.URLError) as e:
            log.warning("guide failed (%s); using the fallback sub-goal", e)
            replies = [""] * len(due)
        for i, s, p, a, r, sc in zip(due, summaries, prompts, analyses, replies, scores):
            ach = self.vocab.parse_subgoal(r)
            if ach is None:
                ach = s.choices[0]
                self.fallbacks += 1
            self.current[i] = self.vocab.SUBGOAL_TEXT[ach]
            self.past[i].append(self.current[i])
            self.last_analysis[i] = a
            self.need[i] = False
            self.since[i] = 0
            self.actions[i] = []
            if sc is not None:
                self.scores.append(sc)
            if a:
                self.data.append((p, a))
            log.debug("env %d: score %s analysis %r guide %r -> %s", i, sc, a, r, self.current[i])
        del self.data[: -self.max_data]
        self.queries += len(due)

    def _sft_batch(self, pairs: list[tuple[Messages, str]]) -> dict[str, torch.Tensor]:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
        if self.adapters.is_encoder_decoder:
            src = [_ids(tok, render(tok, m))[-512:] for m, _ in pairs]
            tgt = [tok(a, add_special_tokens=False)["input_ids"][:128] + eos for _, a in pairs]
            w, wt = max(map(len, src)), max(map(len, tgt))
            return {
                "input_ids": torch.tensor([s + [pad] * (w - len(s)) for s in src]),
                "attention_mask": torch.tensor([[1] * len(s) + [0] * (w - len(s)) for s in src]),
                "labels": torch.tensor([t + [-100] * (wt - len(t)) for t in tgt]),
            }
        seqs, labels = [], []
        for m, a in pairs:
            p = _ids(tok, render(tok, m))[-512:]
            r = tok(a, add_special_tokens=False)["input_ids"][:128] + eos
            seqs.append(p + r)
            labels.append([-100] * len(p) + r)  # the loss is on the analysis only
        w = max(map(len, seqs))
        return {
            "input_ids": torch.tensor([s + [pad] * (w - len(s)) for s in seqs]),
            "attention_mask": torch.tensor([[1] * len(s) + [0] * (w - len(s)) for s in seqs]),
            "labels": torch.tensor([lb + [-100] * (w - len(lb)) for lb in labels]),
        }

    def sft(self, steps: int, batch_size: int = 4) -> float:
        """``steps`` AdamW steps of next-token loss on sampled (prompt, analysis) pairs; the mean loss."""
        if not self.data:
            raise ValueError("sft: no (prompt, analysis) pairs collected yet")
        model = self.adapters.model
        device = next(model.parameters()).device
        params = self.parameters()
        model.train()
        losses = []
        try:
            with self.adapters.active(self.adapter):
                for _ in range(steps):
                    pairs = self.rng.sample(self.data, min(batch_size, len(self.data)))
                    batch = {k: v.to(device) for k, v in self._sft_batch(pairs).items()}
                    loss = model(**batch).loss
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 0.3)
                    self.optimizer.step()
                    losses.append(float(loss.detach()))
        finally:
            model.eval()
            for p in model.parameters():  # the actor's gradients were never asked for; leave none behind
                p.grad = None
        return sum(losses) / len(losses)

    def parameters(self) -> list[torch.nn.Parameter]:
        """The guide adapter's weights (what SFT trains)."""
        return self.adapters.parameters(self.adapter)

    def save(self, path: str) -> None:
        """The guide adapter (PEFT format) and its collected pairs."""
        self.adapters.save(self.adapter, path)
        with open(os.path.join(path, "guidance_data.jsonl"), "w") as f:
            f.writelines(json.dumps({"prompt": m, "response": a}) + "\n" for m, a in self.data)

    def load(self, path: str) -> None:
        """Restore what ``save`` wrote (the guide adapter and its pairs)."""
        self.adapters.load(self.adapter, path)
        data_file = os.path.join(path, "guidance_data.jsonl")
        if os.path.exists(data_file):
            with open(data_file) as f:
                self.data = [(d["prompt"], d["response"]) for d in map(json.loads, f) if d.get("response")]
