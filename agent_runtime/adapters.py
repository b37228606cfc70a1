"""One frozen base model and its named LoRA adapters (the only module that imports peft).

Roles and their PEFT names: the actor is PEFT's ``default`` adapter (so a checkpoint's root folder is a
standard PEFT adapter that ``PeftModel.from_pretrained(base, path)`` loads); an optional ``critic``
adapter (``critic.input: lora``) and the ``guide`` adapter (RLAdapter's adapter LM) sit on the same
frozen weights. Exactly one adapter is active in a forward; ``active(name)`` switches for a block and
switches back. Every adapter's weights stay trainable: each role's optimiser holds only its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict, load_peft_weights
from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedModel

log = logging.getLogger(__name__)

ACTOR = "default"
CRITIC = "critic"
GUIDE = "guide"
ADAPTER_FILE = "adapter_model.safetensors"

# Llama-style names and their T5 equivalents, so one config works for both families.
T5_NAMES = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o"}


def resolve_target_modules(model: nn.Module, wanted: list[str]) -> list[str]:
    """The LoRA target module names as this model spells them; an error lists the names it has."""
    # A linear layer, or one that an adapter wraps already (it keeps the original as ``base_layer``).
    linear = {
        n.rsplit(".", 1)[-1]
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and ".lora_" not in n and not n.endswith("base_layer") or hasattr(m, "base_layer")
    }
    resolved = [w if w in linear else T5_NAMES.get(w, w) for w in wanted]
    missing = [w for w, r in zip(wanted, resolved) if r not in linear]
    if missing:
        raise ValueError(f"lora.target_modules: {missing} not in this model; its linear layers are: {sorted(linear)}")
    return resolved


def _trunk_layers(base: PreTrainedModel, top_layers: int | None) -> int:
    """How many lower decoder layers carry no adapter (``lora.top_layers``); 0 when every layer has one.

    The task configs ask for the top 6 layers; a model with 6 layers or fewer gets LoRA on every layer, and
    an encoder-decoder model (no single layer stack to split) too, with a warning: the fast path is a speed
    option, and the plain path computes the same policy for that placement.
    """
    if top_layers is None:
        return 0
    if top_layers < 1:
        raise ValueError(f"lora.top_layers: must be at least 1 (or null for every layer), got {top_layers}")
    body = getattr(base, "base_model", None)
    n_layers = getattr(base.config, "num_hidden_layers", None)
    if base.config.is_encoder_decoder or not isinstance(getattr(body, "layers", None), nn.ModuleList) or not n_layers:
        log.warning(
            "lora.top_layers=%d: %s has no single decoder layer stack; LoRA goes on every layer (the plain path)",
            top_layers,
            type(base).__name__,
        )
        return 0
    return max(0, n_layers - top_layers)


class Adapters:
    """A frozen base model wrapped once by PEFT, with named LoRA adapters added on demand."""

    def __init__(
        self,
        base: PreTrainedModel,
        r: int = 8,
        alpha: int = 16,
        dropout: float = 0.05,
        target_modules: list[str] | None = None,
        top_layers: int | None = None,
    ):
        self.is_encoder_decoder = bool(base.config.is_encoder_decoder)
        self.trunk_layers = _trunk_layers(base, top_layers)
        self.model: PeftModel = get_peft_model(base, self._lora(base, r, alpha, dropout, target_modules))
        self._active = ACTOR

    def _lora(self, model: nn.Module, r: int, alpha: int, dropout: float, targets: list[str] | None) -> LoraConfig:
        # Every adapter leaves the same lower layers untouched, so their output is one for all adapters.
        upper: list[int] | None = None
        if self.trunk_layers:
            upper = list(range(self.trunk_layers, int(getattr(model.config, "num_hidden_layers"))))  # noqa: B009
        return LoraConfig(
            r=r, lora_alpha=alpha, lora_dropout=dropout,
            target_modules=resolve_target_modules(model, targets or ["q_proj", "v_proj"]),
            task_type=TaskType.SEQ_2_SEQ_LM if self.is_encoder_decoder else TaskType.CAUSAL_LM,
            layers_to_transform=upper, layers_pattern="layers" if upper else None,
        )  # fmt: skip

    @property
    def base(self) -> PreTrainedModel:
        return self.model.get_base_model()  # type: ignore[return-value]

    def targets(self, name: str = ACTOR) -> list[str]:
        return sorted(getattr(self.model.peft_config[name], "target_modules", None) or [])

    def has(self, name: str) -> bool:
        return name in self.model.peft_config

    def add(
        self,
        name: str,
        r: int,
        alpha: int,
        dropout: float,
        target_modules: list[str] | None = None,
        seed: int | None = None,
    ) -> None:
        """A new adapter over the same frozen weights (a reproducible init when ``seed`` is given)."""
        if self.has(name):
            raise ValueError(f"adapter {name!r} exists already")
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG as it was
            if seed is not None:
                torch.manual_seed(seed)
            self.model.add_adapter(name, self._lora(self.base, r, alpha, dropout, target_modules or self.targets()))
        with self.active(self._active):  # re-activate the current adapter; all adapters trainable
            pass

    def parameters(self, name: str) -> list[nn.Parameter]:
        """The weights of one adapter."""
        return [p for n, p in self.model.named_parameters() if f".{name}." in n and "lora_" in n]

    @contextmanager
    def active(self, name: str | None) -> Iterator[None]:
        """Run a block with adapter ``name`` active (``None``: the frozen base alone)."""
        previous = self._active
        if name == previous:
            yield
            return
        if name is None:
            with self.model.disable_adapter():
                yield
            return
        self._switch(name)
        try:
            yield
        finally:
            self._switch(previous)

    def _switch(self, name: str) -> None:
        if not self.has(name):
            raise KeyError(f"no adapter {name!r}; adapters: {sorted(self.model.peft_config)}")
        self.model.base_model.set_adapter(name)  # type: ignore[operator]
        self._active = name
        # PEFT's set_adapter freezes the other adapters; every role keeps its own weights trainable.
        for n, p in self.model.named_parameters():
            p.requires_grad_("lora_" in n)

    def save(self, name: str, path: str | Path) -> None:
        """One adapter in standard PEFT layout at ``path`` (adapter_config.json + weights)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = get_peft_model_state_dict(self.model, adapter_name=name)
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path / ADAPTER_FILE))
        config = self.model.peft_config[name]
        config.base_model_name_or_path = getattr(self.base.config, "_name_or_path", None)
        config.save_pretrained(str(path))

    def load(self, name: str, path: str | Path) -> None:
        """Weights saved by ``save`` (or by PEFT's ``save_pretrained``) into adapter ``name``."""
        device = str(next(self.model.parameters()).device)
        weights = load_peft_weights(str(path), device=device)
        result = set_peft_model_state_dict(self.model, weights, adapter_name=name)
        stray = [k for k in getattr(result, "unexpected_keys", []) if "lora" in k]
        if stray:
            raise ValueError(f"adapter in {path} does not fit this model: unexpected keys {stray[:3]}")


def load_adapter_standalone(base_model: nn.Module, path: str | Path) -> PeftModel:
    """How a user loads a saved actor with plain peft (documented; used in tests)."""
    return PeftModel.from_pretrained(base_model, str(path))
