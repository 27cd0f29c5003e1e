"""Embedding: text to L2-normalised float32 vectors with a sentence-transformers model, offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Embedder(Protocol):
    """What the index and search need from a model: a name, a dimension and `encode`."""

    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Return an array (len(texts), dimension) of unit-length float32 rows."""
        ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (so an unchanged re-ingest never loads it).

    `model` is a local path or a model name already in the local cache; with
    HF_HUB_OFFLINE=1 nothing is downloaded.
    """

    def __init__(self, model: str, batch_size: int = 64, device: str = "cpu") -> None:
        self.name = model
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.name, device=self.device)
            return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sort by length across the whole input (the model only sorts within one call), so
        # every batch pads to similar lengths; progress is reported between chunks.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = self.batch_size * 16
        for offset in range(0, len(order), step):
            chunk = order[offset : offset + step]
            vectors = self.model.encode(
                [texts[i] for i in chunk], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            result[chunk] = np.asarray(vectors, dtype=np.float32)
            if progress:
                progress(len(chunk))
        return result


def model_label(name: str) -> str:
    """A short, stable name for a model path (for manifests and reports)."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    if len(parts) >= 2 and parts[-1] == "model":
        return parts[-2]
    return parts[-1] if parts else name
