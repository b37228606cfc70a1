"""The LLM actor-critic: one frozen base model, a LoRA actor, a value head critic.

Actor: the policy over valid skills is the softmax of the (normalised) LLM
log-likelihoods of the skill texts, with a LoRA adapter on the base model.
Critic: an MLP on the hidden state of the last prompt token, read either from
the base model with the adapter disabled (``critic.input: base``, TWOSOME) or
from the adapted model's scoring forward (``shared``, GLAM-like: no extra
forward, and the value loss also trains the adapter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

from agent_runtime.models import LoadedModel
from agent_runtime.scoring import EncodedPrompt, Scorer, ScoreOutput, _backbone_and_head

CRITIC_INPUTS = ("base", "shared")
VALUE_HEAD_FILE = "value_head.safetensors"


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


# Llama-style names and their T5 equivalents, so one config works for both families.
T5_NAMES = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o"}


def resolve_target_modules(model: nn.Module, wanted: list[str]) -> list[str]:
    """The LoRA target module names as this model spells them; an error lists the names it has."""
    linear = {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    resolved = [w if w in linear else T5_NAMES.get(w, w) for w in wanted]
    missing = [w for w, r in zip(wanted, resolved) if r not in linear]
    if missing:
        raise ValueError(f"lora.target_modules: {missing} not in this model; its linear layers are: {sorted(linear)}")
    return resolved


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
    """LoRA actor + value-head critic over one frozen base model."""

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
    ):
        super().__init__()
        if critic_input not in CRITIC_INPUTS:
            raise ValueError(f"critic.input: {critic_input!r} is not one of {CRITIC_INPUTS}")
        self.critic_input = critic_input
        self.autocast_dtype = autocast_dtype(autocast, next(loaded.model.parameters()).dtype)
        self.tokenizer = loaded.tokenizer
        self.source = loaded.source
        lora = LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=resolve_target_modules(loaded.model, target_modules or ["q_proj", "v_proj"]),
            task_type=TaskType.SEQ_2_SEQ_LM if loaded.is_encoder_decoder else TaskType.CAUSAL_LM,
        )
        self.model = get_peft_model(loaded.model, lora)
        hf, head = _backbone_and_head(self.model)
        hidden_size = hf.config.d_model if loaded.is_encoder_decoder else hf.config.hidden_size
        self.value_head = value_mlp(hidden_size, critic_hidden if critic_hidden is not None else [1024, 512])
        self.value_head.to(head.weight.device)
        self.scorer = Scorer(self.model, self.tokenizer, normalization=normalization, separator=separator)
        self.eval()  # acting mode (no LoRA dropout); the learner switches to train() for updates

    @property
    def device(self) -> torch.device:
        return next(self.value_head.parameters()).device

    def actor_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.model.named_parameters() if p.requires_grad]

    def critic_parameters(self) -> list[nn.Parameter]:
        return list(self.value_head.parameters())

    def encode(self, prompts: list[str], candidates: list[list[str]]) -> list[EncodedPrompt]:
        return self.scorer.encode(prompts, candidates)

    def forward(self, batch: list[EncodedPrompt], with_values: bool = True) -> PolicyOutput:
        """Action distribution and (unless ``with_values=False``) value for encoded prompts (differentiable)."""
        with self._autocast():
            return self._forward(batch, with_values)

    def values(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """The critic alone (e.g. the bootstrap value after a rollout): no candidate is scored."""
        with self._autocast():
            if self.critic_input == "shared":
                feats = self.scorer.prompt_features(batch)
            else:
                feats = self._base_features(batch)
            return self.value_head(feats.float()).squeeze(-1)

    def _autocast(self) -> torch.autocast:
        dtype = self.autocast_dtype
        return torch.autocast(self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

    def _forward(self, batch: list[EncodedPrompt], with_values: bool) -> PolicyOutput:
        shared = self.critic_input == "shared"
        scores = self.scorer.forward(batch, return_hidden=shared and with_values)
        if not with_values:
            return PolicyOutput(scores=scores, values=None)
        feats = scores.hidden if shared else self._base_features(batch)
        values = self.value_head(feats.float()).squeeze(-1)
        return PolicyOutput(scores=scores, values=values)

    def _base_features(self, batch: list[EncodedPrompt]) -> torch.Tensor:
        """TWOSOME's critic input: the frozen base model (adapter off) at the last prompt token."""
        with torch.no_grad(), self.model.disable_adapter():
            return self.scorer.prompt_features(batch)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """The adapter in PEFT format (``PeftModel.from_pretrained`` loads it) plus the value head."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()}, path / VALUE_HEAD_FILE)
        (path / "critic.json").write_text(json.dumps({"input": self.critic_input, "base_model": self.source}))

    def load(self, path: str | Path) -> None:
        """Load an adapter and value head saved by ``save`` into this model."""
        path = Path(path)
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        weights = load_peft_weights(str(path), device=str(self.device))
        result = set_peft_model_state_dict(self.model, weights)
        missing_lora = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
        if missing_lora:
            raise ValueError(f"adapter in {path} does not fit this model: unexpected keys {missing_lora[:3]}")
        self.value_head.load_state_dict(load_file(str(path / VALUE_HEAD_FILE), device=str(self.device)))


def load_adapter_standalone(base_model: torch.nn.Module, path: str | Path) -> PeftModel:
    """How a user loads a saved actor with plain peft (documented; used in tests)."""
    return PeftModel.from_pretrained(base_model, str(path))
