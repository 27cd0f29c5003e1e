"""Index: FAISS vectors, a BM25 keyword index, and a SQLite passage store with FTS5 for phrases.

On disk, `index_dir/CURRENT` names one complete generation folder holding
`passages.sqlite`, `vectors.faiss`, `keywords/` and `manifest.json`. An ingest writes a new
generation beside the old one and then swaps CURRENT atomically, so a killed ingest
leaves the previous index usable. FAISS row i is passage id i.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from assistant.config import Settings
from assistant.corpus import Document, Metadata, Skipped, SourceFile, read_document, scan_corpus
from assistant.embedding import Embedder, model_label
from assistant.errors import CorpusError, IndexCorruptError, IndexMissingError, UnknownDocumentError
from assistant.keywords import KeywordIndex
from assistant.passages import Passage, Span, passages_for, people_from_speakers

FORMAT_VERSION = 4  # 4: passages keep their speaker label as written; documents their published_time
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
DATABASE = "passages.sqlite"
VECTORS = "vectors.faiss"
KEYWORDS = "keywords"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
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

# Each passage's text and, beside it, who and what it comes from, in passage id order: the two
# fields of the keyword index, so "the note verbale" or "the spokesperson" find the right
# document's passages (FTS5 gets the same, for phrase search).
CONTEXTS = """
SELECT p.id, p.text,
    coalesce(d.title, '')
    || ' ' || coalesce(d.citation_title, '')
    || ' ' || coalesce(d.author, '')
    || ' ' || coalesce(d.kind, '')
    || ' ' || coalesce(d.place, '')
    || ' ' || coalesce(d.reference, '')
    || ' ' || coalesce(p.speaker, '')
FROM passages p JOIN documents d ON d.doc_id = p.doc_id
ORDER BY p.id
"""
FTS_FILL = "INSERT INTO passages_fts (rowid, text, context)" + CONTEXTS


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the index knows it: metadata and where its passages are."""

    doc_id: str
    path: str
    format: str
    metadata: Metadata
    passage_count: int
    first_passage: int


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did, for the summary line and for benchmarks."""

    documents: int
    passages: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    rebuilt: str | None = None  # why everything was re-embedded, if it was
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.rebuilt)


ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)


class Index:
    """A loaded generation: the FAISS index in memory and a read-only SQLite connection.

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
    ):
        self.directory = directory
        self.manifest = manifest
        self.vectors = vectors
        self.keywords = keywords
        self._db = connection
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None
        self._people: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def load(cls, index_dir: Path) -> Index:
        """Open the current generation in index_dir.

        Raises IndexMissingError when none was built, IndexCorruptError when its
        parts are missing, damaged or disagree with each other.
        """
        generation = current_generation(index_dir)
        manifest = _read_manifest(generation)
        _check_file_sizes(generation, manifest)
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
        return cls(Path(index_dir), manifest, vectors, keywords, connection)

    @property
    def size(self) -> int:
        return int(self.vectors.ntotal)

    @property
    def dimension(self) -> int:
        return int(self.vectors.d)

    def query(self, sql: str, parameters: Iterable = ()) -> list[tuple]:
        """Run a read-only SQL query against the passage store."""
        with self._lock:
            return self._db.execute(sql, tuple(parameters)).fetchall()

    def passages(self, ids: Iterable[int]) -> dict[int, Passage]:
        """Passages by id (ids not in the index are left out)."""
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE id IN ({marks})",
            ids,
        )
        return {row[0]: _passage(row) for row in rows}

    def document_passages(self, doc_id: str) -> list[Passage]:
        """All passages of one document, in order."""
        rows = self.query(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY id",
            [doc_id],
        )
        return [_passage(row) for row in rows]

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

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, ordered by date then id."""
        rows = self.query(f"SELECT {_DOCUMENT_COLUMNS} FROM documents ORDER BY date IS NULL, date, doc_id")
        return [_document_info(row) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo:
        """One document's metadata. Raises UnknownDocumentError."""
        rows = self.query(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE doc_id = ?", [doc_id])
        if not rows:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return _document_info(rows[0])

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
            index = self.vectors
            flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
            if index.ntotal == 0:
                self._matrix = np.zeros((0, index.d), dtype=np.float32)
            else:
                self._matrix = faiss.rev_swig_ptr(flat.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
        return self._matrix

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of some passages, one row each (a copy)."""
        return self.matrix[np.asarray(ids, dtype=np.int64)].copy()

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


def ingest(
    settings: Settings,
    embedder: Embedder,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Bring the index in settings.index_dir up to date with settings.corpus_dir.

    Only added or changed documents are embedded; removed ones are dropped; an index
    built with another model, dimension or passage settings is rebuilt whole. Holds
    an exclusive lock so two ingests never interleave. Raises CorpusError when the
    corpus folder is missing or has no readable document.
    """
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(index_dir):
        return _ingest_locked(settings, embedder, progress or (lambda stage, done, total: None))


def is_stale(settings: Settings, embedder: Embedder) -> bool:
    """True when the index is missing, unreadable, or differs from the corpus or settings."""
    try:
        generation = current_generation(settings.index_dir)
        manifest = _read_manifest(generation)
        _check_file_sizes(generation, manifest)
        sources, _ = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    except (IndexMissingError, IndexCorruptError, CorpusError):
        return True
    fingerprints = {doc_id: entry["fingerprint"] for doc_id, entry in manifest["documents"].items()}
    skipped_ok = set(manifest.get("unreadable", {}))
    current = {s.doc_id: s.fingerprint for s in sources if s.fingerprint not in skipped_ok}
    return _rebuild_reason(manifest, settings, embedder) is not None or current != fingerprints


def _ingest_locked(settings: Settings, embedder: Embedder, progress: ProgressCallback) -> IngestReport:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    sources, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    old, unusable = _load_previous(settings.index_dir)
    rebuilt = unusable if old is None else _rebuild_reason(old.manifest, settings, embedder)
    reusable = {} if (old is None or rebuilt) else old.manifest["documents"]
    unreadable_before = {} if (old is None or rebuilt) else old.manifest.get("unreadable", {})

    previous_ids = set(reusable)
    kept, fresh_sources, unreadable = [], [], {}
    for source in sources:
        entry = reusable.get(source.doc_id)
        if entry and entry["fingerprint"] == source.fingerprint:
            kept.append(source)
        elif source.fingerprint in unreadable_before:  # failed before and has not changed since
            skipped.append(Skipped(source.path, unreadable_before[source.fingerprint]))
            unreadable[source.fingerprint] = unreadable_before[source.fingerprint]
        else:
            fresh_sources.append(source)
    removed = sorted(previous_ids - {s.doc_id for s in sources})
    if old is not None and not rebuilt and not fresh_sources and not removed:
        unchanged_report = IngestReport(
            documents=len(kept),
            passages=old.size,
            unchanged=len(kept),
            skipped=skipped,
            seconds={"total": time.perf_counter() - started},
        )
        old.close()
        return unchanged_report
    timings["scan"] = time.perf_counter() - started

    # Read and split what is new; a file that cannot be read is skipped, the rest goes on.
    t0 = time.perf_counter()
    fresh: dict[str, tuple[Document, list[Passage]]] = {}
    for done, source in enumerate(fresh_sources, start=1):
        try:
            document = read_document(source)
        except (ValueError, OSError) as error:
            skipped.append(Skipped(source.path, str(error)))
            unreadable[source.fingerprint] = str(error)
        else:
            fresh[source.doc_id] = (document, passages_for(document, settings.passages))
        progress("read", done, len(fresh_sources))
    timings["read_split"] = time.perf_counter() - t0

    included = [s for s in sources if s.doc_id in fresh or s in kept]
    if not included:
        if old is not None:
            old.close()
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped) or "no .txt, .md, .html or .pdf files"
        raise CorpusError(f"No readable document in {settings.corpus_dir} ({reasons}).")

    # Embed only the new passages.
    t0 = time.perf_counter()
    new_texts = [p.text for doc_id in fresh for p in fresh[doc_id][1]]
    embedded = 0

    def embed_progress(count: int) -> None:
        nonlocal embedded
        embedded += count
        progress("embed", embedded, len(new_texts))

    new_vectors = embedder.encode(new_texts, progress=embed_progress) if new_texts else None
    timings["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = _write_generation(settings, embedder, old, included, fresh, new_vectors, unreadable)
    timings["index"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    previous = set(reusable)
    return IngestReport(
        documents=len(included),
        passages=report,
        added=sorted(d for d in fresh if d not in previous),
        changed=sorted(d for d in fresh if d in previous),
        removed=removed,
        unchanged=len(kept),
        skipped=skipped,
        rebuilt=rebuilt,
        seconds=timings,
    )


def _write_generation(settings, embedder, old, included, fresh, new_vectors, unreadable) -> int:
    """Write a complete new generation and make it current; return its passage count."""
    index_dir = Path(settings.index_dir)
    staging = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        connection = sqlite3.connect(staging / DATABASE)
        connection.executescript(SCHEMA)
        vector_blocks, documents_manifest, next_id, fresh_offset = [], {}, 0, 0
        for source in included:
            if source.doc_id in fresh:
                document, passages = fresh[source.doc_id]
                vectors = new_vectors[fresh_offset : fresh_offset + len(passages)]
                fresh_offset += len(passages)
            else:
                document, passages, vectors = _reuse(old, source)
            _insert_document(connection, document, passages, next_id)
            vector_blocks.append(vectors)
            documents_manifest[source.doc_id] = {
                "path": str(source.path),
                "sha256": source.sha256,
                "fingerprint": source.fingerprint,
                "passages": len(passages),
            }
            next_id += len(passages)
        connection.execute(FTS_FILL)
        contexts = connection.execute(CONTEXTS).fetchall()
        connection.commit()
        connection.close()
        keyword_files = KeywordIndex.build([row[1] for row in contexts], [row[2] for row in contexts]).save(
            staging / KEYWORDS
        )
        matrix = np.vstack(vector_blocks).astype(np.float32) if vector_blocks else np.zeros((0, embedder.dimension))
        kind = _index_kind(settings, len(matrix))
        faiss.write_index(_build_faiss(matrix, kind), str(staging / VECTORS))
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": model_label(embedder.name),
            "backend": _backend(embedder),
            "dimension": int(matrix.shape[1]),
            "passage_settings": asdict(settings.passages),
            "index_kind": kind,
            "passages": int(len(matrix)),
            "documents": documents_manifest,
            "unreadable": unreadable,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": {
                path.relative_to(staging).as_posix(): path.stat().st_size
                for path in [staging / DATABASE, staging / VECTORS, *keyword_files]
            },
        }
        _write_json(staging / MANIFEST, manifest)
        _fsync_dir(staging)
        if old is not None:
            old.close()
        generation = index_dir / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        os.replace(staging, generation)
        pointer_tmp = index_dir / f"{CURRENT}.tmp"
        pointer_tmp.write_text(generation.name + "\n", encoding="utf-8")
        with open(pointer_tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer_tmp, index_dir / CURRENT)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_old_generations(index_dir, keep=generation.name)
    return int(len(matrix))


def _reuse(old: Index, source: SourceFile) -> tuple[Document, list[Passage], np.ndarray]:
    """An unchanged document's text, passages and vectors, taken from the previous index."""
    info = old.document(source.doc_id)
    (body_start,) = old.query("SELECT body_start FROM documents WHERE doc_id = ?", [source.doc_id])[0]
    document = Document(
        doc_id=source.doc_id,
        path=source.path,
        format=info.format,
        text=old.document_text(source.doc_id),
        metadata=info.metadata,
        sha256=source.sha256,
        fingerprint=source.fingerprint,
        body_start=body_start,
    )
    passages = old.document_passages(source.doc_id)
    vectors = old.vectors.reconstruct_n(info.first_passage, len(passages)) if passages else None
    return document, passages, np.asarray(vectors, dtype=np.float32).reshape(len(passages), old.dimension)


def _insert_document(connection: sqlite3.Connection, document: Document, passages: list[Passage], first: int):
    meta = document.metadata
    connection.execute(
        "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
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
            first,
            len(passages),
        ),
    )
    connection.executemany(
        "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                first + i,
                p.doc_id,
                p.start,
                p.end,
                p.paragraph,
                p.speaker,
                p.text,
                json.dumps([[s.start, s.end] for s in p.sentences]),
                p.speaker_label,
            )
            for i, p in enumerate(passages)
        ],
    )


def _index_kind(settings: Settings, count: int) -> str:
    if settings.index_kind != "auto":
        return settings.index_kind
    return "hnsw" if count > settings.approximate_above else "flat"


def _build_faiss(matrix: np.ndarray, kind: str) -> faiss.Index:
    dimension = matrix.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(matrix):
        serving_threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building an HNSW graph does use every core
        try:
            index.add(np.ascontiguousarray(matrix, dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(serving_threads)
    return index


def _rebuild_reason(manifest: dict, settings: Settings, embedder: Embedder) -> str | None:
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index format changed"
    if manifest.get("model") != model_label(embedder.name):
        return f"model changed ({manifest.get('model')} -> {model_label(embedder.name)})"
    backend = _backend(embedder)
    if manifest.get("backend", "torch") != backend:
        return f"embedding backend changed ({manifest.get('backend', 'torch')} -> {backend})"
    if manifest.get("passage_settings") != asdict(settings.passages):
        return "passage settings changed"
    wanted = _index_kind(settings, manifest.get("passages", 0))
    if settings.index_kind != "auto" and manifest.get("index_kind") != wanted:
        return f"index kind changed ({manifest.get('index_kind')} -> {wanted})"
    return None


def _backend(embedder: Embedder) -> str:
    """The embedder's backend label; embedders that do not say (test doubles) count as torch."""
    return getattr(embedder, "backend", "torch")


def _load_previous(index_dir: Path) -> tuple[Index | None, str | None]:
    """The current index, or None and why not (none yet, or unreadable: it will be rebuilt)."""
    try:
        return Index.load(index_dir), None
    except IndexMissingError:
        return None, "no index yet"
    except IndexCorruptError as error:
        return None, f"previous index unreadable: {error}"


def _read_manifest(generation: Path) -> dict:
    path = generation / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"], manifest["documents"], manifest["passages"]  # noqa: B018 - required keys
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IndexCorruptError(_corrupt(generation.parent, f"{MANIFEST} is missing or unreadable")) from error
    return manifest


def _check_file_sizes(generation: Path, manifest: dict) -> None:
    for name in dict.fromkeys([DATABASE, VECTORS, *manifest["files"]]):
        part = generation / name
        if not part.is_file() or part.stat().st_size != manifest["files"].get(name):
            raise IndexCorruptError(_corrupt(generation.parent, f"{name} is missing or has the wrong size"))


def _corrupt(index_dir: Path, reason: str) -> str:
    return f"The index in {index_dir} is unreadable ({reason}). Run `python -m assistant ingest` to rebuild it."


def _passage(row: tuple) -> Passage:
    _, doc_id, start, end, paragraph, speaker, text, sentences, label = row
    spans = tuple(Span(a, b) for a, b in json.loads(sentences))
    return Passage(doc_id, start, end, paragraph, speaker, text, spans, label)


_PASSAGE_COLUMNS = 'id, doc_id, start, "end", paragraph, speaker, text, sentences, speaker_label'
_DOCUMENT_COLUMNS = (
    "doc_id, path, format, title, citation_title, author, speaker, kind, date, place, reference, url, "
    "published_time, passage_count, first_passage"
)


def _document_info(row: tuple) -> DocumentInfo:
    doc_id, path, fmt, *meta, passage_count, first_passage = row
    return DocumentInfo(doc_id, path, fmt, Metadata(*meta), passage_count, first_passage)


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for child in index_dir.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith(("gen-", "tmp-"))):
            shutil.rmtree(child, ignore_errors=True)


@contextlib.contextmanager
def _exclusive_lock(index_dir: Path):
    with open(index_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
