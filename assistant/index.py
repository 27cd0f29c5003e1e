"""The embedded store (store.Store): FAISS vectors, a BM25 keyword index, and a SQLite passage store with FTS5
for phrases, in files under index_dir. Its writer is ingest.py.

On disk, `index_dir/CURRENT` names one complete generation folder holding
`passages.sqlite`, `vectors.faiss`, `keywords/` and `manifest.json`. An ingest writes a new
generation beside the old one and then swaps CURRENT atomically, so a reader never sees a
half-written one. FAISS row i is passage id i.

An index knows its corpus: `index_dir/CORPUS` and the manifest hold the absolute corpus
folder. The manifest also records each file's size and sha256, checked on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from assistant.errors import (
    IndexCorruptError,
    IndexMissingError,
    UnknownDocumentError,
)
from assistant.keywords import KeywordIndex, fts_phrase
from assistant.passages import REPORTER, Passage, people_from_speakers
from assistant.store import (
    DOCUMENT_COLUMNS,
    PASSAGE_COLUMNS,
    DocumentInfo,
    Restriction,
    document_from_row,
    passage_from_row,
)

# 4: passages keep their speaker label as written; documents their published_time. 5: Chinese is read: sentences
# end at CJK punctuation, CJK letters weigh 3 in the passage cap, jieba cuts Han runs in the keyword index, and
# FTS5 indexes each CJK letter as a token (keywords.fts_text). 6: a misspelt label speaks for the label it stands
# for (passages.label_variants), `MR: ZIENTS:` is one label, a bare title (`MR:`) is passages.UNNAMED.
FORMAT_VERSION = 6
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DATABASE = "passages.sqlite"
VECTORS = "vectors.faiss"
KEYWORDS = "keywords"
LOCK = ".lock"
#: index_dir/CORPUS: the absolute corpus folder the index is built from (kept beside the generations,
#: so that it is known even when a generation's manifest is damaged).
CORPUS_RECORD = "CORPUS"
#: index_dir/work: per-document embeddings of an ingest that has not completed, reused by the next one.
WORK = "work"
#: What an index folder may hold besides gen-* and tmp-* folders; anything else means it is not ours.
OWN_NAMES = frozenset({LOCK, CURRENT, f"{CURRENT}.tmp", CORPUS_RECORD, f"{CORPUS_RECORD}.tmp", WORK, "README.md"})
#: How often Index.load reads CURRENT again when a writer swapped it while it was reading.
LOAD_ATTEMPTS = 3
HNSW_EF_SEARCH = 96

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL, sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL, body_start INTEGER NOT NULL, text TEXT NOT NULL,
    title TEXT NOT NULL, citation_title TEXT, author TEXT, speaker TEXT, kind TEXT, date TEXT,
    place TEXT, reference TEXT, url TEXT, published_time TEXT,
    first_passage INTEGER NOT NULL, passage_count INTEGER NOT NULL
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    paragraph INTEGER NOT NULL, speaker TEXT, text TEXT NOT NULL, sentences TEXT NOT NULL, speaker_label TEXT
);
CREATE INDEX passages_doc ON passages (doc_id, id);
CREATE VIRTUAL TABLE passages_fts USING fts5 (
    text, context, content='', tokenize='porter unicode61 remove_diacritics 2'
);
"""


class Index:
    """The embedded store (store.Store): a loaded generation, its FAISS index in memory and a read-only SQLite
    connection.

    Safe to share between threads (Streamlit sessions): SQLite access is serialised
    by a lock and FAISS searches are read-only.
    """

    def __init__(
        self,
        directory: Path,
        manifest: dict,
        vectors: faiss.Index,
        keywords: KeywordIndex,
        connection: sqlite3.Connection,
        generation: Path | None = None,
        signature: tuple | None = None,
    ):
        self.directory = directory
        self.manifest = manifest
        self.vector_index = vectors
        self.keywords = keywords
        self.generation = generation
        #: Set when a query found the passage store damaged (the message to show); the index is then not current.
        self.damage: str | None = None
        self._signature = signature
        self._db = connection
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None
        self._people: dict[str, tuple[str, ...]] | None = None
        self._person_of: dict[str, str] | None = None

    @classmethod
    def load(cls, index_dir: Path) -> Index:
        """Open the current generation in index_dir, after checking every file against its recorded sha256.

        A generation a writer replaced while it was being read is not an error: the new one is read.
        Raises IndexMissingError when none was built, IndexCorruptError when its parts are
        missing, damaged or disagree with each other (the message names the file).
        """
        index_dir = Path(index_dir)
        generation = current_generation(index_dir)
        for _ in range(LOAD_ATTEMPTS - 1):
            try:
                return cls._load_generation(index_dir, generation)
            except IndexCorruptError:
                newer = current_generation(index_dir)
                if newer == generation:  # not a race with a writer: the index is damaged
                    raise
                generation = newer
        return cls._load_generation(index_dir, generation)

    @classmethod
    def _load_generation(cls, index_dir: Path, generation: Path) -> Index:
        manifest = read_manifest(generation)
        signature = _signature(generation, manifest)  # before reading: a change from now on makes it not current
        check_files(generation, manifest, content=True)
        database, vector_file = generation / DATABASE, generation / VECTORS
        try:
            vectors = faiss.read_index(str(vector_file))
            keywords = KeywordIndex.load(generation / KEYWORDS)
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
            (count,) = connection.execute("SELECT count(*) FROM passages").fetchone()
        except (RuntimeError, OSError, ValueError, KeyError, sqlite3.DatabaseError) as error:
            raise IndexCorruptError(_corrupt(index_dir, str(error).splitlines()[0])) from error
        if not count == vectors.ntotal == keywords.size == manifest["passages"]:
            raise IndexCorruptError(_corrupt(index_dir, "passage, vector and keyword counts disagree"))
        if isinstance(vectors, faiss.IndexHNSW):
            vectors.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index_dir, manifest, vectors, keywords, connection, generation, signature)

    def is_current(self) -> bool:
        """Whether CURRENT still names this generation, its files are as they were loaded, and no query
        found damage. Cheap (a few stat calls), for a server to ask every few seconds."""
        if self.damage is not None or self.generation is None:
            return False
        try:
            name = (self.directory / CURRENT).read_text(encoding="utf-8").strip()
        except OSError:
            return False
        return name == self.generation.name and _signature(self.generation, self.manifest) == self._signature

    @property
    def size(self) -> int:
        return int(self.vector_index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.vector_index.d)

    def query(self, sql: str, parameters: Iterable = ()) -> list[tuple]:
        """Run a read-only SQL query against the passage store.

        Raises IndexCorruptError, naming the file, when the store was damaged after it was opened.
        """
        with self._lock:
            try:
                return self._db.execute(sql, tuple(parameters)).fetchall()
            except sqlite3.DatabaseError as error:
                if not _is_damage(error):
                    raise
                where = self.generation / DATABASE if self.generation else DATABASE
                self.damage = _corrupt(self.directory, f"{where}: {error}")
                raise IndexCorruptError(self.damage) from error

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages by id (ids not in the index are left out)."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})",
            ids,
        )
        return {row[0]: self._named(passage_from_row(row)) for row in rows}

    def document_passages(self, doc_id: str, as_stored: bool = False) -> list[Passage]:
        """All passages of one document, in order, each speaker named as the collection knows them
        (person_named); with as_stored, as its document alone names them (what ingest reuses)."""
        rows = self.query(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY id",
            [doc_id],
        )
        return [passage_from_row(row) if as_stored else self._named(passage_from_row(row)) for row in rows]

    def person_named(self, speaker: str | None) -> str | None:
        """The name the collection gives the person a passage speaker value stands for: 'Anthony Fauci' for
        `DR. FAUCI` in a briefing whose title names no one, when another names him (people()); else the value."""
        if self._person_of is None:
            self._person_of = {value: name for name, values in self.people().items() for value in values}
        return self._person_of.get(speaker, speaker)

    def _named(self, passage: Passage) -> Passage:
        named = self.person_named(passage.speaker)
        return passage if named == passage.speaker else replace(passage, speaker=named)

    def people(self) -> dict[str, tuple[str, ...]]:
        """Every speaker across documents, each person once: {name: the passage speaker values that are them}.

        'Jen Psaki' resolved in one briefing and `MS. PSAKI` left as written in another are one
        person (see passages.people_from_speakers). Computed once per loaded index.
        """
        if self._people is None:
            rows = self.query(
                "SELECT speaker, speaker_label, count(*) FROM passages WHERE speaker IS NOT NULL "
                "GROUP BY speaker, speaker_label"
            )
            self._people = people_from_speakers(rows)
        return self._people

    def questioners(self) -> tuple[str, ...]:
        """The speaker values of reporters' turns: REPORTER (`Q`, `QUESTION:`), and the outlets a transcript
        names (`China Daily:`) where the document's metadata names the one person who answers them.

        In a press conference whose metadata names its speaker (the spokesperson), every other turn
        is a question from the press. For steering "the journalist"; attribution is unchanged.
        """
        rows = self.query(
            "SELECT DISTINCT p.speaker FROM passages p JOIN documents d USING (doc_id) "
            "WHERE p.speaker_label IS NOT NULL "
            "AND (p.speaker = ? OR (d.speaker IS NOT NULL AND p.speaker != d.speaker)) ORDER BY p.speaker",
            [REPORTER],
        )
        return tuple(row[0] for row in rows)

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, ordered by date then id."""
        rows = self.query(f"SELECT {DOCUMENT_COLUMNS} FROM documents ORDER BY date IS NULL, date, doc_id")
        return [document_from_row(row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo:
        """One document's metadata. Raises UnknownDocumentError."""
        rows = self.query(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", [doc_id])
        if not rows:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return document_from_row(rows[0])

    def document_text(self, doc_id: str) -> str:
        """The exact text passages are offsets into. Raises UnknownDocumentError."""
        rows = self.query("SELECT text FROM documents WHERE doc_id = ?", [doc_id])
        if not rows:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return rows[0][0]

    @property
    def matrix(self) -> np.ndarray:
        """A zero-copy (passages, dimension) view of the stored vectors; row i is passage i."""
        if self._matrix is None:
            index = self.vector_index
            flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
            if index.ntotal == 0:
                self._matrix = np.zeros((0, index.d), dtype=np.float32)
            else:
                self._matrix = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
        return self._matrix

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of some passages, one row each (a copy)."""
        return self.matrix[np.asarray(ids, dtype=np.int64)].copy()

    # --- store.Store ---

    @property
    def model(self) -> str | None:
        return self.manifest.get("model")

    def vectors(self, ids) -> np.ndarray:
        return self.matrix[np.asarray(ids, dtype=np.int64)]

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray | None = None) -> list[int]:
        if self.size == 0:
            return []
        if allowed is None:
            _, ids = self.vector_index.search(query[None, :], min(depth, self.size))
            return [int(i) for i in ids[0] if i >= 0]
        scores = self.matrix[allowed] @ query  # exact: HNSW misses under tight filters
        order = np.argsort(-scores)[:depth]
        return [int(allowed[i]) for i in order]

    def keyword(self, terms, depth: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        return self.keywords.top(terms, depth, allowed)

    def known(self, terms) -> set[str]:
        return {term for term in terms if self.keywords.knows(term)}

    def restricted(self, restriction: Restriction, within: np.ndarray | None = None) -> np.ndarray:
        clauses, parameters = [], []
        if restriction.doc_ids:
            clauses.append(f"p.doc_id IN ({','.join('?' * len(restriction.doc_ids))})")
            parameters += restriction.doc_ids
        if restriction.authors or restriction.speakers:
            authors_marks = ",".join("?" * len(restriction.authors))
            speaker_marks = ",".join("?" * len(restriction.speakers))
            clauses.append(f"(d.author IN ({authors_marks}) OR p.speaker IN ({speaker_marks}))")
            parameters += [*restriction.authors, *restriction.speakers]
        if restriction.spoken_in:
            marks = ",".join("?" * len(restriction.spoken_in))
            clauses.append(f"p.doc_id IN (SELECT doc_id FROM passages WHERE speaker IN ({marks}))")
            parameters += restriction.spoken_in
        if restriction.date_from:
            clauses.append("d.date >= ?")
            parameters.append(restriction.date_from)
        if restriction.date_to:
            clauses.append("d.date <= ?")
            parameters.append(restriction.date_to + "\uffff")  # a partial date ("2023") includes its whole span
        where = " AND ".join(clauses) or "1"
        rows = self.query(f"SELECT p.id FROM passages p JOIN documents d USING (doc_id) WHERE {where}", parameters)
        ids = np.array(sorted(row[0] for row in rows), dtype=np.int64)
        return ids if within is None else np.intersect1d(ids, within)

    def phrase(self, phrase: str, limit: int | None = None) -> list[int]:
        """FTS5 phrase candidates; [] for a phrase FTS5 cannot read."""
        sql = "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?"
        parameters: list = [fts_phrase(phrase)]
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        try:
            rows = self.query(sql, parameters)
        except sqlite3.OperationalError:
            return []
        return sorted(row[0] for row in rows)

    def passages_overlapping(self, doc_id: str, start: int, end: int) -> list[int]:
        rows = self.query(
            'SELECT id FROM passages WHERE doc_id = ? AND "end" > ? AND start < ? ORDER BY id', [doc_id, start, end]
        )
        return [row[0] for row in rows]

    def authors(self) -> set[str]:
        return {row[0] for row in self.query("SELECT author FROM documents WHERE author IS NOT NULL")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def current_generation(index_dir: Path) -> Path:
    """The folder CURRENT points to. Raises IndexMissingError / IndexCorruptError."""
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(f"No index in {index_dir}. Run `python -m assistant ingest` to build it.")
    name = pointer.read_text(encoding="utf-8").strip()
    generation = index_dir / name
    if not name or "/" in name or not generation.is_dir():
        raise IndexCorruptError(_corrupt(index_dir, f"CURRENT names a missing folder '{name}'"))
    return generation


def has_documents(index_dir: Path) -> bool:
    """True when index_dir holds a readable index with at least one document."""
    with contextlib.suppress(IndexMissingError, IndexCorruptError):
        return bool(read_manifest(current_generation(Path(index_dir))).get("documents"))
    return False


def indexed_corpus(index_dir: Path) -> Path | None:
    """The absolute corpus folder the index in index_dir was built from; None when there is no index
    or it is an old one whose documents' folder is not known."""
    index_dir = Path(index_dir)
    with contextlib.suppress(OSError):
        recorded = (index_dir / CORPUS_RECORD).read_text(encoding="utf-8").strip()
        if recorded:
            return Path(recorded)
    with contextlib.suppress(IndexMissingError, IndexCorruptError):
        manifest = read_manifest(current_generation(index_dir))
        if manifest.get("corpus"):
            return Path(manifest["corpus"])
        # Built before the corpus was recorded: the folder its documents were read from, when that is known.
        folders = {str(Path(entry["path"]).parent) for entry in manifest["documents"].values() if "path" in entry}
        if folders and all(os.path.isabs(folder) for folder in folders):
            return Path(os.path.commonpath(folders))
    return None


def read_manifest(generation: Path) -> dict:
    path = generation / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"], manifest["documents"], manifest["passages"]  # noqa: B018 - required keys
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexCorruptError(_corrupt(generation.parent, f"{MANIFEST} is missing or unreadable")) from error
    return manifest


def check_files(generation: Path, manifest: dict, content: bool) -> None:
    """Every file the manifest lists is there with its recorded size and, with `content`, its sha256.

    (Manifests written before checksums were recorded list sizes only.)
    """
    for name in dict.fromkeys([DATABASE, VECTORS, *manifest["files"]]):
        part, recorded = generation / name, manifest["files"].get(name)
        size, digest = (
            (recorded.get("size"), recorded.get("sha256")) if isinstance(recorded, dict) else (recorded, None)
        )
        try:
            intact_size = part.stat().st_size == size
            intact = intact_size and not (content and digest and sha256_of(part) != digest)
        except OSError:  # missing (or removed by a writer while we read: Index.load then reads the new one)
            intact_size = intact = False
        if not intact_size:
            raise IndexCorruptError(_corrupt(generation.parent, f"{part} is missing or has the wrong size"))
        if not intact:
            raise IndexCorruptError(
                _corrupt(generation.parent, f"{part} has changed since it was written: its sha256 differs")
            )


def _signature(generation: Path, manifest: dict) -> tuple | None:
    """Identity, size and modification time of each file of a generation (None when one is gone)."""
    try:
        return tuple(
            (name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            for name in sorted(manifest["files"])
            for stat in [(generation / name).stat()]
        )
    except OSError:
        return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Whether an SQLite error means the file is damaged (not a mistake in the query)."""
    if not isinstance(error, sqlite3.OperationalError):
        return not isinstance(error, sqlite3.ProgrammingError)
    return any(words in str(error) for words in ("I/O error", "malformed", "unable to open", "not a database"))


def _corrupt(index_dir: Path, reason: str) -> str:
    return f"The index in {index_dir} is unreadable ({reason}). Run `python -m assistant ingest` to rebuild it."
