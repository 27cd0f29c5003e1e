"""The PostgreSQL store's writer: bring the store at settings.store up to date with settings.corpus_dir.

One writer, many readers. Two ingests are serialised by a PostgreSQL advisory lock (the second waits
up to settings.lock_timeout, with the same messages as the embedded index's lock file). Documents are
compared by content fingerprint: only added or changed ones are read, split and embedded, removed
ones are deleted. Everything an ingest writes, and the generation number readers watch, is one
transaction: a reader sees the store before or after it, never half, and a killed ingest leaves the
previous store untouched (the embeddings it finished are kept in settings.index_dir/work-postgres
and reused by the next one, as the embedded ingest does).
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.corpus import Document, Skipped, read_document, scan_corpus
from assistant.embedding import Embedder, model_label
from assistant.errors import CorpusError, IndexBusyError
from assistant.index import FORMAT_VERSION
from assistant.ingest import IngestReport, ProgressCallback, embed_checkpointed, index_kind_for
from assistant.keywords import tokens
from assistant.passages import Passage, passages_for
from assistant.pgstore import (
    CONTEXT_FIELD,
    PG_FORMAT,
    SCHEMA_NAME,
    TEXT_FIELD,
    StoreMismatchError,
    StoreUnavailableError,
    _unreachable,
    index_sql,
    read_meta,
    schema_sql,
    where,
)
from assistant.store import document_row

#: The advisory lock key every ingest into a store takes (pg_advisory_lock takes a bigint).
LOCK_KEY = 0x51756F7465  # "Quote"
WORK = "work-postgres"
#: maintenance_work_mem for a first build's index creation: the HNSW graph of ~500,000 passages of 384
#: numbers fits in it; a larger one is still built, more slowly, once the graph outgrows it.
BUILD_MEMORY = "1GB"
S = SCHEMA_NAME


def ingest_postgres(
    settings: Settings,
    embedder: Embedder,
    progress: ProgressCallback | None = None,
    notice: Callable[[str], None] | None = None,
    rebuild: bool = False,
) -> IngestReport:
    """Bring the PostgreSQL store at settings.store up to date with settings.corpus_dir; return what changed.

    The first ingest creates the tables (and the extensions `vector` and `pg_trgm` when the role may).
    With `rebuild`, the store is dropped and built again; a store made with another model or dimension is
    otherwise refused (StoreMismatchError), one of an older format or other passage settings is rebuilt.
    Raises CorpusError (no readable document), IndexBusyError (another ingest holds the lock longer than
    settings.lock_timeout), StoreUnavailableError (the database cannot be reached).
    """
    import psycopg

    url = settings.store
    notice = notice or (lambda line: None)
    progress = progress or (lambda stage, done, total: None)
    try:
        connection = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        raise StoreUnavailableError(_unreachable(url, error)) from error
    with connection:
        _take_lock(connection, url, settings.lock_timeout, notice)
        try:
            _create_extensions(connection, url)
            from pgvector.psycopg import register_vector

            register_vector(connection)
            return _ingest_locked(connection, settings, embedder, progress, notice, rebuild)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def _take_lock(connection, url: str, timeout: float, notice: Callable[[str], None]) -> None:
    def take() -> bool:
        return connection.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]

    if take():
        return
    notice(f"Waiting for another process to finish updating the index in the {where(url)}…")
    deadline = time.monotonic() + timeout
    while not take():
        if time.monotonic() >= deadline:
            raise IndexBusyError(
                f"Another process has been updating the index in the {where(url)} for over {timeout:g} s; "
                "nothing was changed. Try again when it has finished."
            )
        time.sleep(0.1)


def _create_extensions(connection, url: str) -> None:
    import psycopg

    for extension in ("vector", "pg_trgm"):
        try:
            connection.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        except psycopg.Error as error:
            raise StoreUnavailableError(
                f"The {where(url)} lacks the extension '{extension}' and this role may not create it ({error}). "
                f"Ask its administrator to run `CREATE EXTENSION {extension};` in it."
            ) from error


def _ingest_locked(connection, settings, embedder, progress, notice, rebuild) -> IngestReport:
    started, timings = time.perf_counter(), {}
    sources, skipped = scan_corpus(settings.corpus_dir, settings.max_file_bytes)
    meta = read_meta(connection)
    wanted = _meta(settings, embedder)
    reason = "rebuild asked for" if rebuild and meta is not None else None
    if meta is not None and not rebuild:
        if (meta.get("model"), meta.get("dimension")) != (wanted["model"], wanted["dimension"]):
            # A shared store is not re-embedded behind its readers' backs: they would all stop answering.
            raise StoreMismatchError(
                f"The {where(settings.store)} was built with {meta.get('model')} ({meta.get('dimension')} "
                f"dimensions); this ingest embeds with {wanted['model']} ({wanted['dimension']} dimensions). "
                "Set ASSISTANT_MODEL to the store's model, or rebuild it for every replica with "
                "`python -m assistant ingest --store URL --rebuild`."
            )
        for key in ("format", "format_version", "passage_settings"):
            if meta.get(key) != wanted[key]:
                reason = f"{key.replace('_', ' ')} changed ({meta.get(key)} -> {wanted[key]})"
    if reason:
        notice(f"Rebuilding the index in the {where(settings.store)}: {reason}.")

    known: dict[str, str] = {}
    unreadable_before: dict[str, str] = {}
    if meta is not None and not reason:
        known = dict(connection.execute(f"SELECT doc_id, fingerprint FROM {S}.documents").fetchall())
        unreadable_before = dict(connection.execute(f"SELECT fingerprint, reason FROM {S}.unreadable").fetchall())
    kept, fresh_sources, unreadable = [], [], {}
    for source in sources:
        if known.get(source.doc_id) == source.fingerprint:
            kept.append(source)
        elif source.fingerprint in unreadable_before:
            skipped.append(Skipped(source.path, unreadable_before[source.fingerprint]))
            unreadable[source.fingerprint] = unreadable_before[source.fingerprint]
        else:
            fresh_sources.append(source)
    removed = sorted(set(known) - {s.doc_id for s in sources})
    corpus = str(Path(settings.corpus_dir).resolve())
    moved = meta is not None and meta.get("corpus") != corpus
    if meta is not None and not reason and not fresh_sources and not removed and not moved:
        return IngestReport(
            documents=len(kept),
            passages=int(meta.get("passages", 0)),
            unchanged=len(kept),
            skipped=skipped,
            seconds={"total": time.perf_counter() - started},
        )
    timings["scan"] = time.perf_counter() - started

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
    if not fresh and not kept:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped) or "no .txt, .md, .html or .pdf files"
        raise CorpusError(f"No readable document in {settings.corpus_dir} ({reasons}).")

    t0 = time.perf_counter()
    work = Path(settings.index_dir) / WORK
    work.mkdir(parents=True, exist_ok=True)
    vectors = embed_checkpointed(work, embedder, fresh, progress)
    timings["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    changed = sorted(d for d in fresh if d in known)
    first_build = meta is None or bool(reason)
    with connection.transaction():
        if first_build:
            connection.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
            connection.execute(schema_sql(embedder.dimension, indexes=False))
        else:
            _delete(connection, [*changed, *removed])
        _insert(connection, fresh, vectors, progress)
        if first_build:  # the search indexes over the loaded rows, the HNSW graph built in memory
            connection.execute(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
            connection.execute(index_sql())
        connection.execute(f"DELETE FROM {S}.unreadable")
        for fingerprint, why in unreadable.items():
            connection.execute(f"INSERT INTO {S}.unreadable VALUES (%s, %s)", [fingerprint, why])
        (count,) = connection.execute(f"SELECT count(*) FROM {S}.passages").fetchone()
        generation = int(meta["generation"]) + 1 if meta and "generation" in meta else 1
        values = {**wanted, "corpus": corpus, "passages": str(count), "generation": str(generation)}
        values["index_kind"] = index_kind_for(settings, count)  # as the embedded index: exact up to 50,000
        values["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for key, value in values.items():
            connection.execute(
                f"INSERT INTO {S}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
    connection.execute(f"ANALYZE {S}.postings")
    connection.execute(f"ANALYZE {S}.context_postings")
    connection.execute(f"ANALYZE {S}.passages")
    timings["index"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    return IngestReport(
        documents=len(kept) + len(fresh),
        passages=int(count),
        added=sorted(d for d in fresh if d not in known),
        changed=changed,
        removed=removed,
        unchanged=len(kept),
        skipped=skipped,
        rebuilt=reason if meta is not None else None,
        seconds=timings,
    )


def _meta(settings: Settings, embedder: Embedder) -> dict[str, str]:
    return {
        "format": str(PG_FORMAT),
        "format_version": str(FORMAT_VERSION),
        "model": model_label(embedder.name),
        "dimension": str(embedder.dimension),
        "passage_settings": json.dumps(asdict(settings.passages), sort_keys=True),
    }


def _delete(connection, doc_ids: list[str]) -> None:
    """Remove documents with their passages and postings, taking their words out of the BM25 statistics."""
    if not doc_ids:
        return
    ids = f"(SELECT id FROM {S}.passages WHERE doc_id = ANY(%(docs)s))"
    groups = f"(SELECT DISTINCT context_group FROM {S}.passages WHERE doc_id = ANY(%(docs)s))"
    gone = {"docs": doc_ids}
    connection.execute(
        f"""UPDATE {S}.terms t SET df = t.df - gone.df FROM (
            SELECT term, {TEXT_FIELD} AS field, count(*) AS df FROM {S}.postings
            WHERE passage_id IN {ids} GROUP BY term
            UNION ALL
            SELECT term, {CONTEXT_FIELD}, sum(passages) FROM {S}.context_postings
            WHERE group_id IN {groups} GROUP BY term
        ) gone WHERE t.term = gone.term AND t.field = gone.field""",
        gone,
    )
    for field, column in ((TEXT_FIELD, "text_length"), (CONTEXT_FIELD, "context_length")):
        connection.execute(
            f"""UPDATE {S}.fields f SET n = f.n - gone.n, total = f.total - gone.total FROM (
                SELECT count(*) AS n, coalesce(sum({column}), 0) AS total FROM {S}.passages
                WHERE doc_id = ANY(%(docs)s)) gone WHERE f.field = {field}""",
            gone,
        )
    connection.execute(f"DELETE FROM {S}.postings WHERE passage_id IN {ids}", gone)
    connection.execute(f"DELETE FROM {S}.context_postings WHERE group_id IN {groups}", gone)
    connection.execute(f"DELETE FROM {S}.documents WHERE doc_id = ANY(%(docs)s)", gone)  # passages cascade
    connection.execute(f"DELETE FROM {S}.terms WHERE df <= 0")


def _field_length(words: list[str]) -> int:
    """A field's BM25 length: its words, or 1 for none (bm25s indexes an empty field as one empty token)."""
    return len(words) or 1


def context_of(document: Document, passage: Passage) -> str:
    """Who and what a passage comes from, as the embedded index's keyword context field (index.CONTEXTS)."""
    meta = document.metadata
    parts = [meta.title, meta.citation_title, meta.author, meta.kind, meta.place, meta.reference, passage.speaker]
    return " ".join(part or "" for part in parts)


def _insert(connection, fresh, vectors, progress) -> None:
    """Insert new documents, passages (with vectors) and postings with COPY, and add their words' statistics."""
    (next_id,) = connection.execute(f"SELECT coalesce(max(id) + 1, 0) FROM {S}.passages").fetchone()
    df: Counter = Counter()
    lengths = {TEXT_FIELD: [0, 0], CONTEXT_FIELD: [0, 0]}
    total = sum(len(passages) for _, passages in fresh.values())
    done = 0
    for doc_id, (document, passages) in fresh.items():
        connection.execute(
            f"INSERT INTO {S}.documents VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            document_row(document, next_id, len(passages)),
        )
        matrix = np.asarray(vectors[doc_id], dtype=np.float32)
        # A context group: the passages of one speaker (their context is the same), named by its first passage.
        group_of = {}
        for i, passage in enumerate(passages):
            group_of.setdefault(passage.speaker, next_id + i)
        group_words = {group: tokens(context_of(document, passages[group - next_id])) for group in group_of.values()}
        group_sizes = Counter(group_of[passage.speaker] for passage in passages)
        text_words = [tokens(passage.text) for passage in passages]
        with connection.cursor() as cursor:
            columns = (
                'id, doc_id, start, "end", paragraph, speaker, text, sentences, speaker_label, context_group, '
                "text_length, context_length, embedding"
            )
            with cursor.copy(f"COPY {S}.passages ({columns}) FROM STDIN") as copy:
                for i, passage in enumerate(passages):
                    spans = json.dumps([[s.start, s.end] for s in passage.sentences])
                    vector = "[" + ",".join(f"{x:.9g}" for x in matrix[i].tolist()) + "]"
                    group = group_of[passage.speaker]
                    copy.write_row(
                        [
                            next_id + i,
                            doc_id,
                            passage.start,
                            passage.end,
                            passage.paragraph,
                            passage.speaker,
                            passage.text,
                            spans,
                            passage.speaker_label,
                            group,
                            _field_length(text_words[i]),
                            _field_length(group_words[group]),
                            vector,
                        ]
                    )
            with cursor.copy(f"COPY {S}.postings (term, passage_id, tf, length, context_group) FROM STDIN") as copy:
                for i, (passage, words) in enumerate(zip(passages, text_words, strict=True)):
                    length, group = _field_length(words), group_of[passage.speaker]
                    lengths[TEXT_FIELD][0] += 1
                    lengths[TEXT_FIELD][1] += length
                    for term, tf in Counter(words).items():
                        copy.write_row([term, next_id + i, tf, length, group])
                        df[(term, TEXT_FIELD)] += 1
            with cursor.copy(f"COPY {S}.context_postings (term, group_id, tf, length, passages) FROM STDIN") as copy:
                for group, words in group_words.items():
                    length, size = _field_length(words), group_sizes[group]
                    lengths[CONTEXT_FIELD][0] += size
                    lengths[CONTEXT_FIELD][1] += size * length
                    for term, tf in Counter(words).items():
                        copy.write_row([term, group, tf, length, size])
                        df[(term, CONTEXT_FIELD)] += size
        next_id += len(passages)
        done += len(passages)
        progress("index", done, total)
    for field, (n, length) in lengths.items():
        connection.execute(f"UPDATE {S}.fields SET n = n + %s, total = total + %s WHERE field = %s", [n, length, field])
    connection.execute("CREATE TEMPORARY TABLE new_terms (term text, field smallint, df integer) ON COMMIT DROP")
    with connection.cursor() as cursor, cursor.copy("COPY new_terms FROM STDIN") as copy:
        for (term, field), count in df.items():
            copy.write_row([term, field, count])
    connection.execute(
        f"INSERT INTO {S}.terms SELECT term, field, df FROM new_terms "
        "ON CONFLICT (term, field) DO UPDATE SET df = terms.df + excluded.df"
    )
