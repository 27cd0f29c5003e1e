"""Indexes of other sizes built without re-running the model: reused vectors, tiny noise on repeats.

To time ask() at ~200,000 passages without embedding 200,000 passages, the speeches
are repeated (see corpora.repeated_corpus) and indexed by the engine's own `ingest`,
with an Embedder that looks each passage's vector up by its text in an index that the
real model already built. A text's first occurrences get their real vector; every
further repeat gets Gaussian noise (sigma per dimension, default 0.005, so the noise
has norm ~0.1 and the cosine to the original is ~0.995) and is re-normalised, so
repeats are near-duplicates rather than exact ties, which would flatter nothing but
would make an HNSW graph degenerate.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.index import FORMAT_VERSION, Index
from assistant.ingest import ingest, is_stale

BUILD_MARKER = ".bench-build.json"
NOISE_SIGMA = 0.005


class ReusedVectorEmbedder:
    """An Embedder whose vectors come from an existing index, looked up by passage text.

    `name` must be the real model's, so the manifest matches. Texts never embedded
    raise KeyError, or with unknown="random" get a seeded random unit vector (for
    timings, such as re-ingest, where the vector values do not matter).
    """

    def __init__(
        self,
        name: str,
        texts: Sequence[str],
        vectors: np.ndarray,
        noise_sigma: float = NOISE_SIGMA,
        unknown: str = "error",
        seed: int = 0,
        backend: str = "torch",
    ) -> None:
        if unknown not in ("error", "random"):
            raise ValueError("unknown must be 'error' or 'random'")
        self.name = name
        self.backend = backend  # the backend that made `vectors`, so the manifest matches
        self._row = {}
        for row, text in enumerate(texts):
            self._row.setdefault(text, row)
        self._vectors = np.asarray(vectors, dtype=np.float32)
        self._originals = Counter(texts)
        self._seen: Counter = Counter()
        self._noise_sigma = noise_sigma
        self._unknown = unknown
        self._random = np.random.default_rng(seed)
        self.noisy = 0
        self.made_up = 0

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._vector(text)
        if progress:
            progress(len(texts))
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Questions are looked up like passages (this embedder serves ingests, which embed none)."""
        return self.encode(texts)

    def _vector(self, text: str) -> np.ndarray:
        row = self._row.get(text)
        if row is None:
            if self._unknown == "error":
                raise KeyError(f"no stored vector for a passage starting {text[:60]!r}")
            self.made_up += 1
            return _unit(self._random.standard_normal(self.dimension))
        self._seen[text] += 1
        if self._seen[text] <= self._originals[text]:
            return self._vectors[row]
        self.noisy += 1
        return _unit(self._vectors[row] + self._random.normal(0.0, self._noise_sigma, self.dimension))


def stored_vectors(index_dir: Path) -> tuple[list[str], np.ndarray]:
    """Every passage text of an index and its vector, in passage-id order."""
    index = Index.load(index_dir)
    try:
        texts = [row[0] for row in index.query("SELECT text FROM passages ORDER BY id")]
        vectors = index.reconstruct(list(range(index.size)))
    finally:
        index.close()
    return texts, vectors


def build_index(corpus_dir: Path, index_dir: Path, kind: str, embedder, key: dict) -> dict:
    """Index a corpus with the engine's ingest and the given embedder, unless an identical build is cached.

    `key` describes the inputs; a build is reused when its marker holds the same key,
    the engine's format version is unchanged and the index is not stale. Returns the
    marker: passages, documents, build seconds, whether it was reused.
    """
    index_dir = Path(index_dir)
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_dir, index_kind=kind)
    wanted = {**key, "kind": kind, "format_version": FORMAT_VERSION}
    marker_path = index_dir / BUILD_MARKER
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
        if marker.get("key") == wanted and not is_stale(settings, embedder):
            return {**marker, "reused": True}
    except (OSError, ValueError, AssistantError):
        pass
    report = ingest(settings, embedder)
    marker = {
        "key": wanted,
        "passages": report.passages,
        "documents": report.documents,
        "seconds": {name: round(value, 2) for name, value in report.seconds.items()},
        "noisy_vectors": getattr(embedder, "noisy", 0),
        "made_up_vectors": getattr(embedder, "made_up", 0),
    }
    marker_path.write_text(json.dumps(marker), encoding="utf-8")
    return {**marker, "reused": False}


def index_bytes(index_dir: Path) -> dict:
    """Sizes on disk of the current generation's parts, in bytes."""
    from assistant.index import DATABASE, KEYWORDS, VECTORS, current_generation

    generation = current_generation(Path(index_dir))
    sizes = {
        "vectors": (generation / VECTORS).stat().st_size,
        "passages_db": (generation / DATABASE).stat().st_size,
        "keywords": sum(path.stat().st_size for path in (generation / KEYWORDS).rglob("*") if path.is_file()),
    }
    sizes["total"] = sum(sizes.values())
    return sizes


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)
