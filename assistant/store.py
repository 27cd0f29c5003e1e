"""The passage store the engine reads through: what search, answers and checks need, whichever store holds it.

Two stores implement it. `index.Index` is the embedded default: files in `embeddings/` (SQLite, FAISS,
bm25s), one copy per app. `pgstore.PostgresStore` is PostgreSQL with pgvector, one database shared by
many app replicas (`ASSISTANT_STORE=postgresql://…`). Search, answers, the checker and the app call only
the methods below, so they do not know which store they read; `open_store` picks one from the settings.

Passage ids are integers. Within a document they are consecutive (`DocumentInfo.first_passage` and
`passage_count`); across documents there may be gaps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.corpus import Document, Metadata
from assistant.passages import Passage, Span

#: The columns passage_from_row and document_from_row read, in order (the same in every store's SQL).
PASSAGE_COLUMNS = 'id, doc_id, start, "end", paragraph, speaker, text, sentences, speaker_label'
DOCUMENT_COLUMNS = (
    "doc_id, path, format, title, citation_title, author, speaker, kind, date, place, reference, url, "
    "published_time, passage_count, first_passage"
)


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the store knows it: metadata and where its passages are."""

    doc_id: str
    path: str
    format: str
    metadata: Metadata
    passage_count: int
    first_passage: int


@dataclass(frozen=True)
class Restriction:
    """Which passages a filtered search may return, as the store selects them (search.Filters, resolved).

    `authors` are matched against the document's author, `speakers` against the passage's speaker value;
    a passage passes when either matches (when either is given). `spoken_in`: documents in which one of
    these speaker values has a turn. Dates are ISO prefixes, inclusive; "2023" as `date_to` takes the
    whole year.
    """

    doc_ids: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    spoken_in: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None


class Store(Protocol):
    """What the engine reads. Safe to share between threads."""

    #: The message to show when a query found the store damaged or unreachable; the store is then not current.
    damage: str | None

    @property
    def size(self) -> int:
        """How many passages the store holds."""

    @property
    def dimension(self) -> int:
        """The length of the stored vectors."""

    @property
    def model(self) -> str | None:
        """The label of the embedding model the vectors were made with (embedding.model_label)."""

    def is_current(self) -> bool:
        """Whether this is still the newest generation and nothing found it damaged; cheap, asked every few
        seconds by a server."""

    # --- passages and documents ---

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages by id, speakers named as the collection knows them (ids not in the store are left out)."""

    def document_passages(self, doc_id: str, as_stored: bool = False) -> list[Passage]:
        """All passages of one document, in order; with as_stored, speakers as its document alone names them."""

    def passages_overlapping(self, doc_id: str, start: int, end: int) -> list[int]:
        """Ids of a document's passages that overlap the characters [start, end), in order."""

    def documents(self) -> list[DocumentInfo]:
        """Every document, ordered by date then id."""

    def document(self, doc_id: str) -> DocumentInfo:
        """One document's metadata. Raises UnknownDocumentError."""

    def document_text(self, doc_id: str) -> str:
        """The exact text passages are offsets into. Raises UnknownDocumentError."""

    def authors(self) -> set[str]:
        """Every document author."""

    def people(self) -> dict[str, tuple[str, ...]]:
        """Every speaker, each person once: {name: the passage speaker values that are them}."""

    def person_named(self, speaker: str | None) -> str | None:
        """The name the collection gives the person a speaker value stands for."""

    def questioners(self) -> tuple[str, ...]:
        """The speaker values of reporters' turns (see index.Index.questioners)."""

    # --- retrieval ---

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """The stored unit vectors of some passages, one row each, in the order given (a shared store gives a row
        of zeros for an id that a concurrent ingest removed since it was found)."""

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray | None = None) -> list[int]:
        """The ids of the `depth` passages nearest the unit query vector, best first, among `allowed` if given
        (every allowed passage can be returned, however few are allowed)."""

    def keyword(self, terms: Sequence[str], depth: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `depth` best passages by BM25 for these content words, (id, score), best first, score > 0."""

    def known(self, terms: Sequence[str]) -> set[str]:
        """Which of these content words some passage's text or context holds (by stem)."""

    def restricted(self, restriction: Restriction, within: np.ndarray | None = None) -> np.ndarray:
        """The sorted ids of the passages a restriction allows (among `within`, when given), for `dense` and
        `keyword`; `len()` of it is 0 when none is. A shared store may give, instead of many ids, an object
        that only its own `dense` and `keyword` read (pgstore.Predicate)."""

    def phrase(self, phrase: str, limit: int | None = None) -> list[int]:
        """Ids of passages that may hold the phrase (full-text candidates, sorted; at most `limit`). The caller
        checks the text."""

    def close(self) -> None:
        """Release connections and files."""


def passage_from_row(row: tuple) -> Passage:
    """A Passage from a row of PASSAGE_COLUMNS (sentences stored as JSON [[start, end], …])."""
    _, doc_id, start, end, paragraph, speaker, text, sentences, label = row
    spans = tuple(Span(a, b) for a, b in json.loads(sentences))
    return Passage(doc_id, start, end, paragraph, speaker, text, spans, label)


def document_row(document: Document, first_passage: int, passage_count: int) -> tuple:
    """A document as both stores' writers insert it: the documents table's columns in table order."""
    meta = document.metadata
    return (
        document.doc_id,
        str(document.path),
        document.format,
        document.sha256,
        document.fingerprint,
        document.body_start,
        document.text,
        meta.title,
        meta.citation_title,
        meta.author,
        meta.speaker,
        meta.kind,
        meta.date,
        meta.place,
        meta.reference,
        meta.url,
        meta.published_time,
        first_passage,
        passage_count,
    )


def document_from_row(row: tuple) -> DocumentInfo:
    """A DocumentInfo from a row of DOCUMENT_COLUMNS."""
    doc_id, path, fmt, *meta, passage_count, first_passage = row
    return DocumentInfo(doc_id, path, fmt, Metadata(*meta), passage_count, first_passage)
