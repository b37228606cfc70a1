"""The LLM actor-critic: the actor adapter scores skills, a value head on named features is the critic.

Actor: the policy over valid skills is the softmax of the (normalised) LLM log-likelihoods of the
skill texts, under the actor LoRA adapter. Critic: an MLP on the hidden state of the last prompt
token, read from

* ``base``: the frozen base model, adapters off (TWOSOME). The feature never changes, so it is
  computed once per prompt (at acting time) and reused by every epoch (``critic.cache_features``);
* ``shared``: the actor's own scoring forward (GLAM-like: no extra forward; the value loss also
  trains the actor adapter);
* ``lora``: a second LoRA adapter on the same frozen base, trained by the value loss alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from agent_runtime.adapters import ACTOR, CRITIC, Adapters, load_adapter_standalone, resolve_target_modules
from agent_runtime.models import LoadedModel
from agent_runtime.scoring import EncodedPrompt, ScoreOutput, Scorer, _backbone_and_head

__all__ = ["CRITIC_INPUTS", "ActorCritic", "PolicyOutput", "load_adapter_standalone", "resolve_target_modules"]

CRITIC_INPUTS = ("base", "shared", "lora")
VALUE_HEAD_FILE = "value_head.safetensors"
CRITIC_ADAPTER_DIR = "critic"


def value_mlp(in_dim: int, hidden: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


@dataclass
class PolicyOutput:
    scores: ScoreOutput
    values: torch.Tensor | None  # (B,); None when the critic was not asked for

    @property
    def log_probs(self) -> torch.Tensor:
        return self.scores.log_probs

    def entropy(self) -> torch.Tensor:
        # Padded candidates have log p = -inf; fill before multiplying so no NaN reaches the gradient.
        lp = self.scores.log_probs
        return -(lp.exp() * lp.masked_fill(~self.scores.mask, 0.0)).sum(-1)


def autocast_dtype(mode: str, model_dtype: torch.dtype) -> torch.dtype | None:
    """The autocast dtype for ``model.autocast`` ('auto', 'bf16', 'fp16', 'none'), or None for off.

    'auto' turns autocast on in the base model's dtype when that is bf16/fp16, so that the fp32
    LoRA and value-head weights meet the half-precision base in half-precision matmuls.
    """
    if mode == "none":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        return torch.float16
    return model_dtype if model_dtype in (torch.bfloat16, torch.float16) else None


class ActorCritic(nn.Module):
    """LoRA actor + value-head critic over one frozen base model (see the module docstring)."""

    def __init__(
        self,
        loaded: LoadedModel,
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.05,
        target_modules: list[str] | None = None,
        critic_input: str = "base",
        critic_hidden: list[int] | None = None,
        normalization: str = "token",
        separator: str = " ",
        autocast: str = "auto",
        cache_features: bool = True,
        top_layers: int | None = None,
        trunk_memo_mb: float = 256.0,
    ):
        super().__init__()
        if critic_input not in CRITIC_INPUTS:
            raise ValueError(f"critic.input: {critic_input!r} is not one of {CRITIC_INPUTS}")
        self.critic_input = critic_input
        self.cache_features = cache_features
        self.autocast_dtype = autocast_dtype(autocast, next(loaded.model.parameters()).dtype)
        self.tokenizer = loaded.tokenizer
        self.source = loaded.source
        self.adapters = Adapters(loaded.model, lora_r, lora_alpha, lora_dropout, target_modules, top_layers)
        if critic_input == "lora":
            self.adapters.add(CRITIC, lora_r, lora_alpha, lora_dropout, target_modules, seed=0)
        self.model = self.adapters.model
        hf, head = _backbone_and_head(self.model)
        hidden_size = hf.config.d_model if loaded.is_encoder_decoder else hf.config.hidden_size
        self.value_head = value_mlp(hidden_size, critic_hidden if critic_hidden is not None else [1024, 512])
        self.value_head.to(head.weight.device)
        self.scorer = Scorer(
            self.model,
            self.tokenizer,
            normalization,
            separator,
            trunk_layers=self.adapters.trunk_layers,
            trunk_memo_mb=trunk_memo_mb,
        )
        self.eval()  # acting mode (no LoRA dropout); the learner switches to train() for updates

    @property
    def device(self) -> torch.device:
        return next(self.value_head.parameters()).device

    def actor_parameters(self) -> list[nn.Parameter]:
        return self.adapters.parameters(ACTOR)

    def critic_parameters(self) -> list[nn.Parameter]:
        extra = self.adapters.parameters(CRITIC) if self.critic_input == "lora" else []
        return list(self.value_head.parameters()) + extra

    def encode(self, prompts: list[str], candidates: list[list[str]]) -> list[EncodedPrompt]:
        return self.scorer.encode(prompts, candidates)

    def forward(self, batch: list[EncodedPrompt], with_values: bool = True) -> PolicyOutput:
        """Action distribution and (unless ``with_values=False``) value for encoded prompts (differentiable)."""
        with self._autocast():
            shared = self.critic_input == "shared" and with_values
            with self.adapters.active(ACTOR):
                scores = self.scorer.forward(batch, return_hidden=shared)
            if not with_values:
                return PolicyOutput(scores=scores, values=None)
            feats = scores.hidden if shared else self._features(batch)
            assert feats is not None
            return PolicyOutput(scores=scores, values=self.value_head(feats.float()).squeeze(-1))

    def values(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """The critic alone (e.g. a bootstrap value): no candidate is scored."""
        with self._autocast():
            return self.value_head(self._features(batch).float()).squeeze(-1)

    def _autocast(self) -> torch.autocast:
        dtype = self.autocast_dtype
        return torch.autocast(self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

    def _features(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """The critic's input for prompts, from the prompts alone."""
        if self.critic_input == "base":
            return self._base_features(batch)
        with self.adapters.active(CRITIC if self.critic_input == "lora" else ACTOR):
            return self.scorer.prompt_features(batch)

    def _base_features(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """TWOSOME's critic input: the frozen base model (adapters off) at the last prompt token."""
        todo = [e for e in batch if e.base_features is None] if self.cache_features else batch
        if todo:
            with torch.no_grad(), self.adapters.active(None):
                feats = self.scorer.prompt_features(todo)
            if not self.cache_features:
                return feats
            for e, f in zip(todo, feats):
                e.base_features = f
        return torch.stack([e.base_features for e in batch])  # type: ignore[misc]

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """The actor adapter in PEFT format (``PeftModel.from_pretrained`` loads it), the value head, and
        the critic adapter (``critic/``) when there is one."""
        path = Path(path)
        self.adapters.save(ACTOR, path)
        if self.critic_input == "lora":
            self.adapters.save(CRITIC, path / CRITIC_ADAPTER_DIR)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()}, path / VALUE_HEAD_FILE
        )
        (path / "critic.json").write_text(json.dumps({"input": self.critic_input, "base_model": self.source}))

    def load(self, path: str | Path) -> None:
        """Load the adapters and value head saved by ``save`` into this model."""
        path = Path(path)
        saved = json.loads((path / "critic.json").read_text()).get("input") if (path / "critic.json").exists() else None
        if saved is not None and saved != self.critic_input:
            raise ValueError(f"checkpoint {path} has critic.input {saved!r}, this run {self.critic_input!r}")
        self.adapters.load(ACTOR, path)
        if self.critic_input == "lora":
            self.adapters.load(CRITIC, path / CRITIC_ADAPTER_DIR)
        self.value_head.load_state_dict(load_file(str(path / VALUE_HEAD_FILE), device=str(self.device)))
