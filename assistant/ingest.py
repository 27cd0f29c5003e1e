"""The embedded index's writer: ingest a corpus folder into index_dir as a new generation (index.py reads it).

Only added or changed documents are read, split and embedded; unchanged ones are copied from the current
generation with their vectors. The new generation is written beside the old one and CURRENT swapped
atomically, so a killed ingest leaves the previous index usable. Ingests are serialised by a lock file;
the embeddings of documents an ingest finished are kept in `index_dir/work/` until it completes, so one
that is killed is resumed, not redone. The PostgreSQL store's writer is pgingest.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from assistant.config import Settings
from assistant.corpus import Document, Skipped, SourceFile, read_document, scan_corpus
from assistant.embedding import Embedder, model_label
from assistant.errors import (
    CorpusError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    NotAnIndexError,
)
from assistant.index import (
    CORPUS_RECORD,
    CURRENT,
    DATABASE,
    FORMAT_VERSION,
    KEYWORDS,
    LOCK,
    MANIFEST,
    OWN_NAMES,
    SCHEMA,
    VECTORS,
    WORK,
    Index,
    check_files,
    current_generation,
    read_manifest,
    sha256_of,
)
from assistant.keywords import KeywordIndex, fts_text
from assistant.passages import Passage, passages_for
from assistant.store import document_row

#: Fresh passages are embedded in batches of at least this many, then saved per document.
CHECKPOINT_PASSAGES = 4096  # ~20 s of embedding: batches sorted by length across documents stay efficient
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80

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
FTS_FILL = "INSERT INTO passages_fts (rowid, text, context) VALUES (?, ?, ?)"


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


def ingest(
    settings: Settings,
    embedder: Embedder,
    progress: ProgressCallback | None = None,
    notice: Callable[[str], None] | None = None,
) -> IngestReport:
    """Bring the index in settings.index_dir up to date with settings.corpus_dir.

    Only added or changed documents are embedded; removed ones are dropped; an index
    built with another model, dimension or passage settings, or a damaged one, is rebuilt whole;
    an index built from another corpus folder now belongs to this one. `notice` gets one-line
    messages a person should see at once (waiting for another writer, rebuilding a damaged
    index, changing the corpus). Holds an exclusive lock so two ingests never interleave, and
    first removes what a killed ingest left behind (reusing the embeddings it finished).

    Raises CorpusError when the corpus folder is missing or has no readable document,
    NotAnIndexError when index_dir holds other files and no index (nothing is written there),
    IndexBusyError when another ingest holds the lock longer than settings.lock_timeout.
    """
    index_dir = Path(settings.index_dir)
    _refuse_foreign_folder(index_dir, settings)
    index_dir.mkdir(parents=True, exist_ok=True)
    notice = notice or (lambda line: None)
    with _exclusive_lock(index_dir, settings.lock_timeout, notice):
        _remove_leftovers(index_dir)
        report = _ingest_locked(settings, embedder, progress or (lambda stage, done, total: None), notice)
        shutil.rmtree(index_dir / WORK, ignore_errors=True)  # done: nothing is left to resume
        return report


def embed_ahead(settings: Settings, embedder: Embedder, progress: ProgressCallback | None = None) -> int:
    """Embed the documents added or changed since the current index, without taking the ingest lock, into
    the checkpoints the next ingest reuses; return how many documents were read.

    For a server that must not keep other writers (the CLI, another app) waiting: the ingest that
    follows holds the lock only to read, split and write. Embeds nothing when there is no readable
    index yet or it must be rebuilt whole (another model or passage settings): ingest does that.
    A checkpoint lost because another ingest finished meanwhile (it removes them) is embedded again there.
    """
    if settings.store is not None:  # a shared store is written by its own ingest (pgingest), not by servers
        return 0
    index_dir = Path(settings.index_dir)
    try:
        manifest = read_manifest(current_generation(index_dir))
    except (IndexMissingError, IndexCorruptError):
        return 0
    if _rebuild_reason(manifest, settings, embedder):
        return 0
    entries, unreadable = manifest["documents"], manifest.get("unreadable", {})
    sources, _ = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    fresh: dict[str, tuple[Document, list[Passage]]] = {}
    for source in sources:
        known = entries.get(source.doc_id, {}).get("fingerprint") == source.fingerprint
        if known or source.fingerprint in unreadable:
            continue
        try:
            document = read_document(source)
        except (ValueError, OSError):  # ingest reports it
            continue
        fresh[source.doc_id] = (document, passages_for(document, settings.passages))
    if fresh:
        with contextlib.suppress(OSError):
            embed_checkpointed(index_dir / WORK, embedder, fresh, progress or (lambda stage, done, total: None))
    return len(fresh)


def stale_reason(settings: Settings, embedder: Embedder) -> str | None:
    """Why the index must be ingested before use ("no index yet", a corpus or settings change), or None
    when it is up to date. Checks file sizes, not contents (Index.load does that).

    Raises IndexCorruptError when the index's manifest or files are damaged, CorpusError when the
    corpus folder is missing.
    """
    try:
        generation = current_generation(settings.index_dir)
    except IndexMissingError:
        return "no index yet"
    manifest = read_manifest(generation)
    check_files(generation, manifest, content=False)
    sources, _ = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    recorded = manifest.get("corpus")
    if recorded and Path(recorded) != Path(settings.corpus_dir).resolve():
        return f"corpus folder changed ({recorded} -> {Path(settings.corpus_dir).resolve()})"
    fingerprints = {doc_id: entry["fingerprint"] for doc_id, entry in manifest["documents"].items()}
    skipped_ok = set(manifest.get("unreadable", {}))
    current = {s.doc_id: s.fingerprint for s in sources if s.fingerprint not in skipped_ok}
    if current != fingerprints:
        return "documents added, changed or removed"
    return _rebuild_reason(manifest, settings, embedder)


def is_stale(settings: Settings, embedder: Embedder) -> bool:
    """True when the index is missing, unreadable, or differs from the corpus or settings."""
    try:
        return stale_reason(settings, embedder) is not None
    except (IndexCorruptError, CorpusError):
        return True


def _ingest_locked(
    settings: Settings, embedder: Embedder, progress: ProgressCallback, notice: Callable[[str], None]
) -> IngestReport:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    sources, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    old, unusable = _load_previous(settings.index_dir)
    corpus = Path(settings.corpus_dir).resolve()
    if old is None and unusable != "no index yet":
        notice(f"The index in {settings.index_dir} is damaged; rebuilding it from {corpus}. ({unusable})")
    elif old is not None and old.manifest.get("corpus") and Path(old.manifest["corpus"]) != corpus:
        notice(f"The index in {settings.index_dir} was built from {old.manifest['corpus']}; it now follows {corpus}.")
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
    moved = old is not None and old.manifest.get("corpus") != str(corpus)  # also: recorded by an older version
    if old is not None and not rebuilt and not fresh_sources and not removed and not moved:
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
    fresh_vectors = embed_checkpointed(Path(settings.index_dir) / WORK, embedder, fresh, progress)
    timings["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report = _write_generation(settings, embedder, old, included, fresh, fresh_vectors, unreadable)
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


def embed_checkpointed(
    work: Path, embedder: Embedder, fresh: dict[str, tuple[Document, list[Passage]]], progress: ProgressCallback
) -> dict[str, np.ndarray]:
    """Each fresh document's passage vectors, saved in `work` per document as soon as they are made.

    A document whose vectors a killed ingest already saved (same passage texts, same model) is
    not embedded again. Passages are embedded in batches of about CHECKPOINT_PASSAGES, so that
    batching stays efficient and a kill loses at most one batch.
    """
    work.mkdir(exist_ok=True)
    model = f"{model_label(embedder.name)}\n{_backend(embedder)}\n{embedder.dimension}"
    total = sum(len(passages) for _, passages in fresh.values())
    vectors: dict[str, np.ndarray] = {}
    pending: list[tuple[str, list[Passage], Path]] = []
    for doc_id, (_, passages) in fresh.items():
        key = model + "\n" + "\x1f".join(p.text for p in passages)  # the vectors depend on these alone
        checkpoint = work / f"{hashlib.sha256(key.encode()).hexdigest()}.npy"
        saved = _read_checkpoint(checkpoint, len(passages), embedder.dimension)
        if saved is not None:
            vectors[doc_id] = saved
        else:
            pending.append((doc_id, passages, checkpoint))
    done = total - sum(len(passages) for _, passages, _ in pending)
    if done:
        progress("embed", done, total)
    batches, batch = [], []
    for item in pending:
        batch.append(item)
        if sum(len(passages) for _, passages, _ in batch) >= CHECKPOINT_PASSAGES:
            batches.append(batch)
            batch = []
    batches += [batch] if batch else []

    def embed_progress(count: int) -> None:
        nonlocal done
        done += count
        progress("embed", done, total)

    for batch in batches:
        texts = [p.text for _, passages, _ in batch for p in passages]
        matrix = embedder.encode(texts, progress=embed_progress) if texts else np.zeros((0, embedder.dimension))
        offset = 0
        for doc_id, passages, checkpoint in batch:
            vectors[doc_id] = np.asarray(matrix[offset : offset + len(passages)], dtype=np.float32)
            offset += len(passages)
            _write_checkpoint(checkpoint, vectors[doc_id])
    return vectors


def _read_checkpoint(path: Path, rows: int, dimension: int) -> np.ndarray | None:
    try:
        saved = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return saved if saved.shape == (rows, dimension) and saved.dtype == np.float32 else None


def _write_checkpoint(path: Path, vectors: np.ndarray) -> None:
    partial = path.with_suffix(".part")
    with open(partial, "wb") as handle:
        np.save(handle, vectors, allow_pickle=False)
    os.replace(partial, path)  # a kill leaves no half-written checkpoint under the real name


def _write_generation(settings, embedder, old, included, fresh, fresh_vectors, unreadable) -> int:
    """Write a complete new generation and make it current; return its passage count."""
    index_dir = Path(settings.index_dir)
    corpus = Path(settings.corpus_dir).resolve()
    staging = index_dir / f"tmp-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        connection = sqlite3.connect(staging / DATABASE)
        connection.executescript(SCHEMA)
        vector_blocks, documents_manifest, next_id = [], {}, 0
        for source in included:
            if source.doc_id in fresh:
                document, passages = fresh[source.doc_id]
                vectors = fresh_vectors[source.doc_id]
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
        contexts = connection.execute(CONTEXTS).fetchall()
        connection.executemany(FTS_FILL, [(pid, fts_text(text), fts_text(context)) for pid, text, context in contexts])
        connection.commit()
        connection.close()
        keyword_files = KeywordIndex.build([row[1] for row in contexts], [row[2] for row in contexts]).save(
            staging / KEYWORDS
        )
        matrix = np.vstack(vector_blocks).astype(np.float32) if vector_blocks else np.zeros((0, embedder.dimension))
        kind = index_kind_for(settings, len(matrix))
        faiss.write_index(_build_faiss(matrix, kind), str(staging / VECTORS))
        manifest = {
            "format_version": FORMAT_VERSION,
            "corpus": str(corpus),
            "settings": {
                "model": settings.model,
                "backend": settings.backend,
                "index_kind": settings.index_kind,
                "approximate_above": settings.approximate_above,
                "max_file_bytes": settings.max_file_bytes,
            },
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
                path.relative_to(staging).as_posix(): {"size": path.stat().st_size, "sha256": sha256_of(path)}
                for path in [staging / DATABASE, staging / VECTORS, *keyword_files]
            },
        }
        _write_json(staging / MANIFEST, manifest)
        _fsync_dir(staging)
        if old is not None:
            old.close()
        generation = index_dir / f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        os.replace(staging, generation)
        _replace_file(index_dir / CORPUS_RECORD, str(corpus) + "\n")
        _replace_file(index_dir / CURRENT, generation.name + "\n")
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
    passages = old.document_passages(source.doc_id, as_stored=True)
    vectors = old.vector_index.reconstruct_n(info.first_passage, len(passages)) if passages else None
    return document, passages, np.asarray(vectors, dtype=np.float32).reshape(len(passages), old.dimension)


def _insert_document(connection: sqlite3.Connection, document: Document, passages: list[Passage], first: int):
    connection.execute(
        "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        document_row(document, first, len(passages)),
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


def index_kind_for(settings: Settings, count: int) -> str:
    """ "flat" (exact search) up to settings.approximate_above passages, else "hnsw" (unless settings.index_kind
    says which)."""
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
    wanted = index_kind_for(settings, manifest.get("passages", 0))
    if settings.index_kind != "auto" and manifest.get("index_kind") != wanted:
        return f"index kind changed ({manifest.get('index_kind')} -> {wanted})"
    return None


def _backend(embedder: Embedder) -> str:
    """The embedder's backend label; embedders that do not say (test doubles) count as torch."""
    return getattr(embedder, "backend", "torch")


def _load_previous(index_dir: Path) -> tuple[Index | None, str | None]:
    """The current index, or None and why not ("no index yet", or unreadable: it will be rebuilt)."""
    try:
        return Index.load(index_dir), None
    except IndexMissingError:
        return None, "no index yet"
    except IndexCorruptError as error:
        return None, f"previous index unreadable: {error}"


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


def _replace_file(path: Path, text: str) -> None:
    """Write a small file so that readers see the old or the new content, never a part."""
    partial = path.with_name(path.name + ".tmp")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _remove_old_generations(index_dir: Path, keep: str) -> None:
    for child in index_dir.iterdir():
        if child.is_dir() and child.name != keep and (child.name.startswith(("gen-", "tmp-"))):
            shutil.rmtree(child, ignore_errors=True)


def _remove_leftovers(index_dir: Path) -> None:
    """Remove what a killed ingest left: its tmp-* folder, and generations CURRENT no longer names.

    Called with the lock held, so no other ingest is writing any of them.
    """
    try:
        keep = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        keep = ""
    _remove_old_generations(index_dir, keep=keep)


def _refuse_foreign_folder(index_dir: Path, settings: Settings) -> None:
    """Raise NotAnIndexError unless index_dir is missing, empty, or holds an index of ours."""
    if index_dir.exists() and not index_dir.is_dir():
        raise NotAnIndexError(f"{index_dir} is a file, not an index folder; nothing was written.")
    if not index_dir.is_dir() or (index_dir / CURRENT).is_file():
        return
    model_cache = Path(settings.model_cache).resolve()
    strangers = sorted(
        child.name
        for child in index_dir.iterdir()
        if not (
            child.name in OWN_NAMES or child.name.startswith(("gen-", "tmp-", ".")) or child.resolve() == model_cache
        )
    )
    if strangers:
        shown = ", ".join(strangers[:3]) + (", …" if len(strangers) > 3 else "")
        raise NotAnIndexError(
            f"{index_dir} is not an index folder (it holds {shown}); nothing was written there. "
            "Choose a new or empty folder for the index."
        )


@contextlib.contextmanager
def _exclusive_lock(index_dir: Path, timeout: float, notice: Callable[[str], None]):
    """Hold index_dir/.lock; when another process holds it, say so and wait up to `timeout` seconds."""
    path = index_dir / LOCK
    with open(path, "a") as handle:
        if not _try_lock(handle):
            notice(f"Waiting for another process to finish updating the index in {index_dir} (it holds {path})…")
            deadline = time.monotonic() + timeout
            while not _try_lock(handle):
                if time.monotonic() >= deadline:
                    raise IndexBusyError(
                        f"Another process has been updating the index in {index_dir} for over {timeout:g} s "
                        f"(it holds {path}); nothing was changed. Try again when it has finished."
                    )
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
