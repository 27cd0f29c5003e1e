"""Shared fixtures: a deterministic fake embedder for fast unit tests, and corpora in tmp_path."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.ingest import ingest

pytest_plugins = ["tests.pgfixtures"]

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.jsonl"
#: 16 UN General Debate speeches and 64 questions written blind to the retrieval code (README inside).
HELDOUT_CORPUS = REPO / "tests" / "data" / "heldout" / "corpus"
HELDOUT_QUESTIONS = REPO / "tests" / "data" / "heldout" / "questions.jsonl"


class FakeEmbedder:
    """Bag of words: each word a hash-seeded random unit vector, summed and normalised.

    Deterministic and instant; texts sharing words are similar, which is enough to
    test ranking, filters and abstention without the real model.
    """

    def __init__(self, dimension: int = 64, name: str = "fake-bag-of-words") -> None:
        self.name = name
        self._dimension = dimension
        self.calls: list[int] = []

    @property
    def dimension(self) -> int:
        return self._dimension

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self._dimension)

    def encode(self, texts, progress=None) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            words = [w.strip(".,;:!?\"'“”’()").casefold() for w in text.split()]
            vector = sum((self._word(w) for w in words if w), np.zeros(self._dimension))
            norm = np.linalg.norm(vector)
            rows.append(vector / norm if norm else vector)
        if progress:
            progress(len(texts))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)

    def encode_queries(self, texts) -> np.ndarray:
        """Questions are bags of words like passages (the real MiniLM reads both alike too)."""
        return self.encode(texts)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A copy of the seed corpus (with its catalog) that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture
def settings(seed_corpus: Path, tmp_path: Path) -> Settings:
    # Without the reranker: unit tests check the hybrid order and cosine threshold the fake embedder makes
    # predictable. The reranker has its own tests, with the real model (tests/test_reranker.py).
    return Settings(
        corpus_dir=seed_corpus, index_dir=tmp_path / "index", model="fake-bag-of-words", threshold=0.3, reranker="none"
    )


@pytest.fixture
def fake_engine(settings: Settings, fake_embedder: FakeEmbedder) -> QuoteEngine:
    ingest(settings, fake_embedder)
    return QuoteEngine.open(settings, fake_embedder)


#: A Chinese statement written for the tests (tests/data/zh/corpus), with front matter in Chinese. The folder's
#: other files are the Chinese evaluation corpus (tests/data/zh/README.md); the fake-embedder tests use only this one.
CHINESE_STATEMENT = REPO / "tests" / "data" / "zh" / "corpus" / "2023-09-15-zh-statement.md"


@pytest.fixture
def mixed_engine(seed_corpus: Path, settings: Settings, fake_embedder: FakeEmbedder) -> QuoteEngine:
    """The seed corpus plus one Chinese document, with the fake embedder: what is found, keywords found."""
    shutil.copy(CHINESE_STATEMENT, seed_corpus / CHINESE_STATEMENT.name)
    ingest(settings, fake_embedder)
    return QuoteEngine.open(settings, fake_embedder)


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory) -> QuoteEngine:
    """The seed corpus indexed with the real bundled model (built once per test run)."""
    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    return QuoteEngine.open(Settings(corpus_dir=corpus, index_dir=root / "index"), build=True)


@pytest.fixture(scope="session", params=["embedded", "postgresql"])
def seed_engine(request, real_engine: QuoteEngine, tmp_path_factory):
    """The seed corpus with the real model and reranker on each store: real_engine itself (the embedded files),
    then the same corpus ingested into a database of the session's PostgreSQL server. Integration tests that
    take this fixture run once per store, with the same assertions."""
    if request.param == "embedded":
        yield real_engine
        return
    from tests.pgfixtures import fresh_database

    root = tmp_path_factory.mktemp("real-postgresql")
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        settings = replace(real_engine.settings, index_dir=root / "work", store=url)
        engine = QuoteEngine.open(settings, real_engine.embedder, build=True, reranker=real_engine.reranker)
        yield engine
        engine.store.close()


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with a line of text, written by hand so the test needs no PDF writer."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- The Streamlit app (tests/test_app*.py) ----------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tmp copy of the seed corpus, a tmp index, and the fake embedder: what the app will use."""
    from tests.apphelpers import FAKE_THRESHOLD, copy_corpus, point_app_at, use_fake_embedder

    corpus = copy_corpus(tmp_path / "corpus")
    point_app_at(monkeypatch, corpus, tmp_path / "index", threshold=FAKE_THRESHOLD)
    use_fake_embedder(monkeypatch)
    return corpus


@pytest.fixture(scope="module")
def real_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One corpus copy and index per test module for the app's real-model tests: the engine loads once."""
    from tests.apphelpers import copy_corpus

    root = tmp_path_factory.mktemp("real")
    return copy_corpus(root / "corpus"), root / "index"


@pytest.fixture
def real_corpus(real_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The module's real corpus copy and index, pointed at by the app's Settings()."""
    from tests.apphelpers import point_app_at

    corpus, index = real_dirs
    point_app_at(monkeypatch, corpus, index)
    return corpus
