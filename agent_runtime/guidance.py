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

Memory: the adapter shares the policy's frozen base weights (the same tensors,
not a copy) in a second module with its own LoRA, so the actor's adapter is
never switched or touched and rollouts are undisturbed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from agent_runtime.config import GuidanceSection
from agent_runtime.embedding import Embedder, comprehension
from agent_runtime.models import load_model
from agent_runtime.policy import ActorCritic
from bridges.crafter.score import ACHIEVEMENTS
from bridges.spec import Observation

log = logging.getLogger("agent_runtime.guidance")

# Achievements in the order the tech tree opens them: the fallback takes the first one not yet unlocked.
TECH_ORDER: tuple[str, ...] = (
    "collect_wood", "place_table", "make_wood_pickaxe", "make_wood_sword", "collect_sapling", "place_plant",
    "collect_drink", "eat_cow", "collect_stone", "place_stone", "make_stone_pickaxe", "make_stone_sword",
    "collect_coal", "place_furnace", "wake_up", "defeat_zombie", "defeat_skeleton", "eat_plant", "collect_iron",
    "make_iron_pickaxe", "make_iron_sword", "collect_diamond",
)  # fmt: skip
assert sorted(TECH_ORDER) == sorted(ACHIEVEMENTS)

# The sub-goal text of an achievement: the Crafter skill's text (skills/crafter.py), so that the
# comprehension score compares like with like.
SUBGOAL_TEXT: dict[str, str] = {a: a.replace("_", " ") for a in ACHIEVEMENTS}
SUBGOAL_TEXT["wake_up"] = "sleep"

# Other ways free text names an achievement (AdaRefiner's wording and common paraphrases).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "collect_wood": ("chop tree", "chop wood", "cut tree", "gather wood", "get wood", "collect wood", "wood"),
    "collect_stone": ("mine stone", "gather stone", "get stone", "collect stone"),
    "collect_coal": ("mine coal", "get coal", "collect coal"),
    "collect_iron": ("mine iron", "get iron", "collect iron"),
    "collect_diamond": ("mine diamond", "get diamond", "collect diamond"),
    "collect_drink": ("drink water", "collect water", "drink", "collect drink"),
    "collect_sapling": ("chop grass", "collect sapling", "get sapling", "sapling"),
    "place_table": ("place crafting table", "crafting table", "place table", "build table", "make table"),
    "place_furnace": ("place furnace", "build furnace", "make furnace", "furnace"),
    "place_plant": ("place plant", "plant sapling", "place sapling", "plant a sapling"),
    "place_stone": ("place stone",),
    "eat_cow": ("attack cow", "eat cow", "hunt cow", "kill cow", "cow"),
    "eat_plant": ("eat plant",),
    "defeat_zombie": ("attack zombie", "defeat zombie", "kill zombie", "fight zombie", "zombie"),
    "defeat_skeleton": ("attack skeleton", "defeat skeleton", "kill skeleton", "fight skeleton", "skeleton"),
    "wake_up": ("sleep", "wake up", "rest"),
    "make_wood_pickaxe": ("make wood pickaxe", "craft wood pickaxe", "wooden pickaxe", "wood pickaxe"),
    "make_stone_pickaxe": ("make stone pickaxe", "craft stone pickaxe", "stone pickaxe"),
    "make_iron_pickaxe": ("make iron pickaxe", "craft iron pickaxe", "iron pickaxe"),
    "make_wood_sword": ("make wood sword", "craft wood sword", "wooden sword", "wood sword"),
    "make_stone_sword": ("make stone sword", "craft stone sword", "stone sword"),
    "make_iron_sword": ("make iron sword", "craft iron sword", "iron sword"),
}

ADAPTER_SYSTEM = (
    "You are a professional game analyst. A player is playing Crafter, a 2D Minecraft-like game. You get the "
    "player's observation, its status, and its comprehension score of language guidance (how well its recent "
    "actions follow the last sub-goal, from 0 to 1). Give a concise summary and suggestions for this player."
)
GUIDE_SYSTEM = (
    "You are a professional game analyst. A player is playing Crafter, a 2D Minecraft-like game. You also get "
    "an analysis of this player from another analyst. Available sub-goals are: <{choices}>. Suggest the one "
    "sub-goal the player should pursue next, from the available sub-goals, in one sentence without other words."
)

GUIDE_ANSWER_PREFIX = "The next sub-goal is to"
GUIDE_TOKENS = 12

# ---------------------------------------------------------------- parsing
def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z]+", " ", text.lower().replace("wooden", "wood")).strip() + " "


_PHRASES: list[tuple[str, str]] = sorted(
    ((f" {' '.join(p.split())} ", a) for a, ps in SYNONYMS.items() for p in ps + (a.replace("_", " "),)),
    key=lambda pa: -len(pa[0]),
)


def parse_subgoal(text: str) -> str | None:
    """The achievement that free text names first (longest phrase wins at a position), or None."""
    t = _norm(text)
    best: tuple[int, int, str] | None = None  # (position, -length, achievement)
    for phrase, ach in _PHRASES:
        pos = t.find(phrase)
        if pos >= 0 and (best is None or (pos, -len(phrase)) < best[:2]):
            best = (pos, -len(phrase), ach)
    return best[2] if best else None


def open_achievements(unlocked: dict[str, int] | None) -> list[str]:
    """Achievements not unlocked in this episode, in tech-tree order (all of them if none is left)."""
    done = {k for k, v in (unlocked or {}).items() if v > 0}
    rest = [a for a in TECH_ORDER if a not in done]
    return rest or list(TECH_ORDER)


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


def summarize(obs: Observation, actions: list[str], subgoals: list[str], score: float | None) -> Summary:
    """A Summary from a Crafter observation's info (any other simulator: its observation text)."""
    info = obs.info or {}
    if "nearby" in info or "inventory" in info:
        sees = ", ".join(info.get("nearby", [])) or "nothing special"
        status = ", ".join(f"{v} {k}" for k, v in info.get("inventory", {}).items() if v > 0) or "nothing"
    else:
        sees, status = " ".join(obs.text.split())[:400], "unknown"
    return Summary(
        sees=sees,
        status=status,
        last_action=actions[-1] if actions else "none",
        past_subgoals=", ".join(subgoals[-3:]) or "none",
        score=score,
        choices=open_achievements(info.get("achievements")),
    )


Messages = list[dict[str, str]]


def adapter_messages(s: Summary) -> Messages:
    return [{"role": "system", "content": ADAPTER_SYSTEM}, {"role": "user", "content": s.user_text()}]


def guide_messages(s: Summary, analysis: str) -> Messages:
    choices = ", ".join(SUBGOAL_TEXT[a] for a in s.choices)
    user = s.user_text().rsplit(" Player's comprehension", 1)[0] + f" Analysis: <{' '.join(analysis.split())}>."
    return [{"role": "system", "content": GUIDE_SYSTEM.format(choices=choices)}, {"role": "user", "content": user}]


# ---------------------------------------------------------------- generation
class ChatModel(Protocol):
    def chat(self, batch: list[Messages]) -> list[str]: ...


def render(tokenizer: PreTrainedTokenizerBase, messages: Messages) -> str:
    """Chat-template text ending where the assistant's answer starts (plain text without a template)."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:"


def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    templated = bool(getattr(tokenizer, "chat_template", None))
    return tokenizer(text, add_special_tokens=not templated)["input_ids"]


class LocalChat:
    """Greedy batched generation with a local model (``no_adapter``: with its LoRA switched off)."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, max_new_tokens: int,
                 no_adapter: bool = False, max_prompt_tokens: int = 768, answer_prefix: str = ""):  # fmt: skip
        self.model, self.tokenizer = model, tokenizer
        self.answer_prefix = answer_prefix
        self.max_new_tokens = max_new_tokens
        self.no_adapter = no_adapter
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
        device = next(self.model.parameters()).device
        kwargs: dict[str, Any] = {
            "input_ids": ids.to(device), "attention_mask": mask.to(device), "max_new_tokens": self.max_new_tokens,
            "do_sample": False, "pad_token_id": pad,
        }  # fmt: skip
        if self.no_adapter and isinstance(self.model, PeftModel):
            with self.model.disable_adapter():
                out = self.model.generate(**kwargs)
        else:
            out = self.model.generate(**kwargs)
        is_enc_dec = bool(getattr(self.model.config, "is_encoder_decoder", False))
        new = out if is_enc_dec else out[:, width:]
        return [tok.decode(row, skip_special_tokens=True).strip() for row in new]


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


# ---------------------------------------------------------------- the adapter model
def shared_base_copy(policy: ActorCritic) -> PreTrainedModel:
    """A second module over the policy's frozen base weights (the same tensors; no LoRA)."""
    base = policy.model.get_base_model()
    state = {}
    for k, v in base.state_dict(keep_vars=True).items():
        if ".lora_" in k:
            continue
        state[k.replace(".base_layer.", ".")] = v.data
    cls = AutoModelForSeq2SeqLM if base.config.is_encoder_decoder else AutoModelForCausalLM
    dtype = next(base.parameters()).dtype
    with torch.random.fork_rng(devices=[]):  # its random init is thrown away; keep the caller's RNG as it was
        model = cls.from_config(base.config, dtype=dtype)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected or [m for m in missing if m not in _tied_keys(model)]:
        raise RuntimeError(f"adapter model: base weights do not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.tie_weights()
    model.to(next(base.parameters()).device)
    model.generation_config = base.generation_config
    return model.eval()


def _tied_keys(model: torch.nn.Module) -> set[str]:
    # Keys that may be absent from a state dict because they alias another parameter.
    names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    unique = {n for n, _ in model.named_parameters()}
    return names - unique | {"lm_head.weight"}


def lora_targets(policy: ActorCritic) -> list[str]:
    cfg = policy.model.peft_config.get("default")
    return sorted(cfg.target_modules) if cfg is not None else ["q_proj", "v_proj"]


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
        if cfg.adapter_model is None:
            base, self.tokenizer = shared_base_copy(policy), policy.tokenizer
        else:
            loaded = load_model(cfg.adapter_model, seed=seed)
            base, self.tokenizer = loaded.model, loaded.tokenizer
        enc_dec = bool(base.config.is_encoder_decoder)
        lora = LoraConfig(
            r=8, lora_alpha=16, lora_dropout=0.05, target_modules=lora_targets(policy) if cfg.adapter_model is None
            else ["q", "v"] if enc_dec else ["q_proj", "v_proj"],
            task_type=TaskType.SEQ_2_SEQ_LM if enc_dec else TaskType.CAUSAL_LM,
        )  # fmt: skip
        with torch.random.fork_rng(devices=[]):  # a reproducible LoRA init that leaves the trainer's RNG alone
            torch.manual_seed(seed)
            self.adapter = get_peft_model(base, lora)
        self.adapter.eval()
        self.adapter_chat = LocalChat(self.adapter, self.tokenizer, cfg.max_new_tokens)
        self.guide = self._make_guide(cfg, seed)
        self.embedder = Embedder(cfg.embedding_model)
        self.optimizer = torch.optim.AdamW([p for p in self.adapter.parameters() if p.requires_grad], lr=2e-4)
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
            return LocalChat(self.adapter, self.tokenizer, n, no_adapter=True, answer_prefix=GUIDE_ANSWER_PREFIX)
        loaded = load_model(cfg.guide_model, seed=seed)
        return LocalChat(loaded.model, loaded.tokenizer, n, answer_prefix=GUIDE_ANSWER_PREFIX)

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
        summaries = [summarize(obs[i], self.actions[i], self.past[i], sc) for i, sc in zip(due, scores)]
        prompts = [adapter_messages(s) for s in summaries]
        analyses = self.adapter_chat.chat(prompts)
        try:
            replies = self.guide.chat([guide_messages(s, a) for s, a in zip(summaries, analyses)])
        except (OSError, ValueError, urllib.error.URLError) as e:
            log.warning("guide failed (%s); using the fallback sub-goal", e)
            replies = [""] * len(due)
        for i, s, p, a, r, sc in zip(due, summaries, prompts, analyses, replies, scores):
            ach = parse_subgoal(r)
            if ach is None:
                ach = s.choices[0]
                self.fallbacks += 1
            self.current[i] = SUBGOAL_TEXT[ach]
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
        if self.adapter.config.is_encoder_decoder:
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
        device = next(self.adapter.parameters()).device
        params = [p for p in self.adapter.parameters() if p.requires_grad]
        self.adapter.train()
        losses = []
        try:
            for _ in range(steps):
                pairs = self.rng.sample(self.data, min(batch_size, len(self.data)))
                batch = {k: v.to(device) for k, v in self._sft_batch(pairs).items()}
                loss = self.adapter(**batch).loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 0.3)
                self.optimizer.step()
                losses.append(float(loss.detach()))
        finally:
            self.adapter.eval()
        return sum(losses) / len(losses)

    def save(self, path: str) -> None:
        """The adapter's LoRA (PEFT format) and its collected pairs."""
        self.adapter.save_pretrained(path)
        with open(os.path.join(path, "guidance_data.jsonl"), "w") as f:
            f.writelines(json.dumps({"prompt": m, "response": a}) + "\n" for m, a in self.data)

    def load(self, path: str) -> None:
        """Restore what ``save`` wrote (the adapter's LoRA and its pairs)."""
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(self.adapter, load_peft_weights(path, device=str(next(self.adapter.parameters()).device)))
        data_file = os.path.join(path, "guidance_data.jsonl")
        if os.path.exists(data_file):
            with open(data_file) as f:
                self.data = [(d["prompt"], d["response"]) for d in map(json.loads, f) if d.get("response")]
