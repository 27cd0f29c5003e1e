"""Reranking: our own question–sentence model reads the question with each candidate sentence.

The model (trained by training/, shipped in models/qa-reranker/) gives one logit per
(question, sentence) pair. `Reranker.score` batches the pairs by length and runs them through ONNX
Runtime; `probability` maps logits through the calibration fitted on held-out training data (Platt
scaling), and the model folder's `threshold` is the probability at which a sentence is taken to
answer. Both live in the folder's reranker.json, beside the model, so another cross-encoder folder
(an ONNX model with a tokenizer.json and its own reranker.json) can be configured instead.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant.errors import RerankerError
from assistant.pairs import MAX_TOKENS, encode_pairs, pair_tokenizer

MODEL_FILE = "model.onnx"
SETTINGS_FILE = "reranker.json"
BATCH = 32


@dataclass(frozen=True)
class RerankerSettings:
    """What reranker.json records about a model.

    Calibration: probability = sigmoid(scale * logit + bias). `threshold`: the probability from
    which a sentence answers. `collection_threshold`: the probability that best separates answerable from
    unanswerable questions through the whole engine on held-out training collections; the engine asks for
    it where a question names something a large collection never mentions (assistant/search.py).
    `hybrid_weight`: how much the hybrid retrieval score (about 0-1) adds to the logit in the final order.
    All four are fitted on held-out training data
    (training/export.py, training/fit_threshold.py). `context`: "previous" for a model trained to read
    each sentence with the one before it in its passage (assistant/pairs.py), else "none".
    """

    scale: float
    bias: float
    threshold: float
    hybrid_weight: float = 2.0
    collection_threshold: float | None = None
    max_tokens: int = MAX_TOKENS
    name: str = "qa-reranker"
    context: str = "none"


class Reranker:
    """A cross-encoder in ONNX form, loaded once from a folder; safe to share between threads."""

    def __init__(self, folder: Path, threshold: float | None = None) -> None:
        """Load folder/model.onnx, tokenizer.json and reranker.json. Raises RerankerError naming a bad file."""
        self.folder = Path(folder)
        self.settings = _read_settings(self.folder / SETTINGS_FILE)
        if threshold is not None:
            if not 0.0 < threshold < 1.0:
                raise RerankerError(f"The reranker threshold must be a probability between 0 and 1, not {threshold}.")
            self.settings = replace(self.settings, threshold=threshold)
        tokenizer_file = self.folder / "tokenizer.json"
        try:
            self._tokenizer = pair_tokenizer(self.folder, self.settings.max_tokens)
        except Exception as error:  # tokenizers raises its own Exception types
            raise RerankerError(f"Cannot read the reranker's tokenizer {tokenizer_file}: {error}") from error
        self._session = _session(self.folder / MODEL_FILE)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def threshold(self) -> float:
        return self.settings.threshold

    @property
    def strict_threshold(self) -> float:
        """The probability a passage needs where the question names something the collection never mentions:
        the collection-level threshold fitted on held-out training data, never below `threshold`."""
        return max(self.settings.threshold, self.settings.collection_threshold or self.settings.threshold)

    @property
    def reads_context(self) -> bool:
        """Whether the model reads each sentence with the one before it (pass `previous` to `score`)."""
        return self.settings.context == "previous"

    def score(self, question: str, sentences: list[str], previous: list[str] | None = None) -> np.ndarray:
        """One logit per sentence for how well it answers the question (higher is better).

        `previous`: the sentence before each one in its passage ("" for none); read only by a model
        trained with it (`reads_context`), ignored otherwise.
        """
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        contexts = list(previous) if self.reads_context and previous is not None else None
        size = [len(s) + (len(contexts[i]) if contexts else 0) for i, s in enumerate(sentences)]
        order = sorted(range(len(sentences)), key=lambda i: size[i])
        logits = np.empty(len(sentences), dtype=np.float32)
        for offset in range(0, len(order), BATCH):
            chunk = order[offset : offset + BATCH]
            inputs = encode_pairs(
                self._tokenizer,
                [question] * len(chunk),
                [sentences[i] for i in chunk],
                [contexts[i] for i in chunk] if contexts else None,
            )
            feeds = {name: value for name, value in inputs.items() if name in self._inputs}
            with self._lock:  # one run at a time: both cores go to it
                output = self._session.run(None, feeds)[0]
            logits[chunk] = np.asarray(output, dtype=np.float32).reshape(len(chunk), -1)[:, 0]
        return logits

    def probability(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities that each sentence answers the question."""
        z = self.settings.scale * np.asarray(logits, dtype=np.float64) + self.settings.bias
        return 1.0 / (1.0 + np.exp(-z))


def load_reranker(setting: str | None, threshold: float | None = None) -> Reranker | None:
    """The configured reranker: None for 'none' (or empty), else the model folder it names."""
    if setting is None or setting.strip().lower() in ("", "none", "off"):
        return None
    return Reranker(Path(setting), threshold)


def _read_settings(path: Path) -> RerankerSettings:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return RerankerSettings(
            scale=float(raw["calibration"]["scale"]),
            bias=float(raw["calibration"]["bias"]),
            threshold=float(raw["threshold"]),
            hybrid_weight=float(raw.get("hybrid_weight", 2.0)),
            collection_threshold=_optional_float(raw.get("fitted_on", {}).get("collection_threshold")),
            max_tokens=int(raw.get("max_tokens", MAX_TOKENS)),
            name=str(raw.get("name", path.parent.name)),
            context=_context(raw.get("context", "none")),
        )
    except FileNotFoundError as error:
        raise RerankerError(
            f"No reranker model at {path.parent}: {path.name} is missing. "
            "Set ASSISTANT_RERANKER to a model folder, or to 'none' to search without it."
        ) from error
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RerankerError(f"The reranker settings file {path} is damaged or incomplete: {error}") from error


def _context(value) -> str:
    if value not in ("none", "previous"):
        raise ValueError(f"context must be 'none' or 'previous', not {value!r}")
    return value


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _session(path: Path):
    import onnxruntime

    if not path.is_file():
        raise RerankerError(f"The reranker model file {path} is missing.")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for unreadable models
        raise RerankerError(f"The reranker model file {path} is damaged and cannot be loaded: {error}") from error
