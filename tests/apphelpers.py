"""Helpers for the app tests: a tmp corpus, a fast fake embedder, and reading quotes back out of the page."""

from __future__ import annotations

import hashlib
import shutil
import socket
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from assistant.search import STOPWORDS, WORD

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app.py"
SEED_CORPUS = REPO / "corpus"
NOTE = "2023-09-14-china-un-mission-note-verbale"
PRESS = "2022-07-28-mfa-press-conference-zhao-lijian"
#: With BagOfWordsEmbedder, a passage sharing one rare word with a short question scores about 0.1-0.2.
FAKE_THRESHOLD = "0.09"


class BagOfWordsEmbedder:
    """A deterministic stand-in for the sentence-transformers model: hashed content words, normalised.

    Texts are similar when they share content words (stop words are ignored), so a
    question about a word that no passage contains scores 0: enough to drive the
    chat, not-found and filter flows without loading the real model.
    """

    dimension = 512

    def __init__(self, model: str = "", **_ignored) -> None:
        self.name = "bag-of-words-test-embedder"

    def encode(self, texts, progress=None) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.casefold()):
                if word not in STOPWORDS:
                    digest = hashlib.sha256(word.encode()).digest()
                    rows[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
            norm = np.linalg.norm(rows[row])
            if norm:
                rows[row] /= norm
        if progress:
            progress(len(texts))
        return rows

    def encode_queries(self, texts) -> np.ndarray:
        """Questions are bags of words like passages."""
        return self.encode(texts)


def copy_corpus(target: Path) -> Path:
    """A writable copy of the seed corpus (files and catalog) at target."""
    target.mkdir(parents=True)
    for path in SEED_CORPUS.iterdir():
        if path.is_file():
            shutil.copyfile(path, target / path.name)
    return target


def point_app_at(monkeypatch: pytest.MonkeyPatch, corpus: Path, index: Path, threshold: str | None = None) -> None:
    """Make Settings() in the app use this corpus and index (and optionally this match threshold)."""
    monkeypatch.setenv("ASSISTANT_CORPUS", str(corpus))
    monkeypatch.setenv("ASSISTANT_INDEX", str(index))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if threshold is not None:
        monkeypatch.setenv("ASSISTANT_THRESHOLD", threshold)
    else:
        monkeypatch.delenv("ASSISTANT_THRESHOLD", raising=False)


def use_fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Have QuoteEngine.open build its embedder from BagOfWordsEmbedder instead of the real model.

    The reranker is turned off too: these tests check the app's behaviour on the hybrid order and
    cosine threshold, which a bag-of-words embedder makes predictable; tests with the real model keep it.
    """
    monkeypatch.setattr("assistant.config.Settings.embedder", lambda settings: BagOfWordsEmbedder(settings.model))
    monkeypatch.setenv("ASSISTANT_RERANKER", "none")


@dataclass(frozen=True)
class ShownPassage:
    """A passage as a browser would show it: the visible text, and the text inside <mark>."""

    doc_id: str
    start: int
    end: int
    text: str
    marked: str
    tags: frozenset[str]


class _PassageReader(HTMLParser):
    """Collects the visible text of every element carrying data-doc, data-start and data-end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[ShownPassage] = []
        self._current: dict | None = None  # the passage being read (passages never nest)
        self._depth = 0
        self._marks = 0

    def handle_starttag(self, tag, attrs):
        if self._current is not None:
            self._current["tags"].add(tag)
            self._depth += 1
            self._marks += tag == "mark"
        elif "data-start" in dict(attrs):
            self._current = {"attrs": dict(attrs), "text": [], "marked": [], "tags": set()}
            self._depth = 1

    def handle_endtag(self, tag):
        if self._current is None:
            return
        self._depth -= 1
        self._marks -= tag == "mark"
        if self._depth == 0:
            item, self._current = self._current, None
            attrs = item["attrs"]
            self.found.append(
                ShownPassage(
                    doc_id=attrs["data-doc"],
                    start=int(attrs["data-start"]),
                    end=int(attrs["data-end"]),
                    text="".join(item["text"]),
                    marked="".join(item["marked"]),
                    tags=frozenset(item["tags"]),
                )
            )

    def handle_data(self, data):
        if self._current is not None:
            self._current["text"].append(data)
            if self._marks:
                self._current["marked"].append(data)


def shown_passages(body: str) -> list[ShownPassage]:
    """Every passage in an HTML body (quotes and their context), as a browser would show its text."""
    reader = _PassageReader()
    reader.feed(body)
    reader.close()
    return reader.found


def source_text(corpus: Path, doc_id: str) -> str:
    """The text of a .txt or .md corpus file exactly as on disk (what quotes must reproduce)."""
    (path,) = [p for p in corpus.iterdir() if p.stem == doc_id and p.suffix in (".txt", ".md")]
    return path.read_bytes().decode("utf-8")


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
