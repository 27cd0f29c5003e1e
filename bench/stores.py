"""`python -m bench.stores`: the embedded index and the PostgreSQL store side by side, at the same sizes.

    python -m bench.stores --sizes 200000 2000000 --out docs/stores.json [--work .bench/stores]

The base corpus is the 365 press briefings of 2021 (../shared/data/whitehouse-briefings-2021), ingested
once with the real model; larger corpora repeat it (hard links, as corpora.repeated_corpus) and reuse its vectors with
a little noise on every repeat (scaled.ReusedVectorEmbedder), so ingest times exclude the model. The
questions are the labelled briefings questions (tests/data/briefings/questions.jsonl), the same for
both stores. Per size and store:

- ingest passages/s: the store's own ingest (index.ingest, pgingest.ingest_postgres) of the repeated
  corpus, reading and splitting the files included, embedding excluded (reused vectors);
- ask() p50 in mode hybrid (no reranker model) and reranked, and searcher.search() alone, measured in a
  fresh child process (a replica) that opened the engine as the app does (latency.serve_and_time);
- the replica's resident memory (VmRSS after opening and after answering, and VmHWM), in that child;
- recall@20 of store.dense(q, 20) against exact search over every vector: numpy over the stored matrix
  for the embedded index, `ORDER BY (embedding <#> q) + 0` for PostgreSQL.

Sizes above --full-up-to get a dense-only build instead, because the full ingests do not fit this
machine's time there: the vectors (real ones for the first copy, perturbed for the others) go straight
into a FAISS HNSW index with the embedded index's parameters, and with COPY into a PostgreSQL store
whose BM25 postings and trigram index are left empty, its HNSW index built after the load. There,
recall@20 and the replica's memory are measured; ask() latency is not comparable and not reported.
Results are merged into --out by size (a later run of one size keeps the others) and docs/stores.md is
rendered beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench.measure import (
    REPO_ROOT,
    BenchError,
    bench_env,
    current_rss_mib,
    emit_json,
    log,
    peak_rss_mib,
    percentiles,
    run_json_child,
)

BRIEFINGS = REPO_ROOT.parent / "shared" / "data" / "whitehouse-briefings-2021"
QUESTIONS = REPO_ROOT / "tests" / "data" / "briefings" / "questions.jsonl"
DEFAULT_WORK = REPO_ROOT / ".bench" / "stores"
DEFAULT_OUT = REPO_ROOT / "docs" / "stores.json"
RECALL_K = 20
#: Above this many passages a size gets the dense-only build (see the module docstring).
FULL_UP_TO = 500_000
#: At dense-only sizes the exact search in SQL reads every row (seconds each): it checks this many questions
#: against numpy's exact search over the same vectors, which then serves as exact for all of them.
EXACT_SQL_CHECKS = 20
TARGETS = {
    "hybrid_ratio_at_200k": "retrieval without the model, p50 on PostgreSQL <= 2x the embedded index's, at 200,000",
    "recall_at_2m": "dense recall@20 >= 0.98 of exact, at 2,000,000",
    "rss_flat": "a PostgreSQL replica's resident memory does not grow with the corpus",
}


# --- the base corpus and its real vectors ---


def base_corpus(work: Path) -> tuple[Path, Path]:
    """The briefings copied under work/ and indexed once with the real model: (corpus, index)."""
    from assistant.config import Settings
    from assistant.ingest import ingest, is_stale

    if not BRIEFINGS.is_dir():
        raise BenchError(f"no briefings at {BRIEFINGS}")
    corpus, index = work / "corpora" / "briefings", work / "base-index"
    if not corpus.is_dir():
        shutil.copytree(BRIEFINGS, corpus, ignore=shutil.ignore_patterns("SOURCE.md"))
    settings = Settings(corpus_dir=corpus, index_dir=index, reranker="none")
    embedder = settings.embedder()
    if is_stale(settings, embedder):
        log(f"stores: embedding the briefings with the real model into {index} (once)")
        ingest(settings, embedder)
    return corpus, index


def reused_embedder(base_index: Path):
    """A fresh ReusedVectorEmbedder over the base index (each ingest needs its own: it counts repeats)."""
    from assistant.index import Index
    from bench.scaled import ReusedVectorEmbedder, stored_vectors

    loaded = Index.load(base_index)
    model, backend = loaded.manifest["model"], loaded.manifest["backend"]
    loaded.close()
    texts, vectors = stored_vectors(base_index)
    return ReusedVectorEmbedder(model, texts, vectors, backend=backend)


def question_vectors(questions: list[str]) -> np.ndarray:
    """The questions embedded as queries by the real model (what the engine searches with)."""
    from assistant.config import Settings

    return np.asarray(Settings().embedder().encode_queries(questions), dtype=np.float32)


# --- full builds: each store's own ingest ---


def repeat_corpus(source: Path, copies: int, dest: Path) -> Path:
    """`copies` hard-linked repeats of a corpus as dest/copy-00, copy-01, ... (corpora.repeated_corpus
    takes .txt files only; the briefings are Markdown)."""
    from bench.corpora import _link

    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file() and p.suffix in (".md", ".txt"))
    marker = dest / ".bench-corpus.json"
    wanted = {"source": str(source), "copies": copies, "files": len(files)}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    for copy in range(copies):
        for relative in files:
            _link(source / relative, dest / f"copy-{copy:02d}" / relative)
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return dest


def build_embedded(corpus: Path, index: Path, base_index: Path, copies: int) -> dict:
    """index.ingest of the repeated corpus (kind auto), cached by scaled.build_index."""
    from bench.scaled import build_index

    build = build_index(corpus, index, "auto", reused_embedder(base_index), {"corpus": f"briefings-x{copies}"})
    return {**build, "passages_per_s": round(build["passages"] / build["seconds"]["total"], 1)}


def build_postgres(server, database: str, corpus: Path, index: Path, base_index: Path) -> dict:
    """pgingest.ingest_postgres of the repeated corpus into its own database, unless a marker says it is done."""
    from assistant.config import Settings
    from assistant.pgingest import ingest_postgres

    url = ensure_database(server, database)
    marker = index / "pg-build.json"
    meta = store_meta(url)
    if marker.is_file() and meta and json.loads(marker.read_text())["generation"] == meta.get("generation"):
        return {**json.loads(marker.read_text()), "reused": True}
    settings = Settings(corpus_dir=corpus, index_dir=index, store=url, reranker="none")
    report = ingest_postgres(settings, reused_embedder(base_index), rebuild=meta is not None)
    seconds = {name: round(value, 2) for name, value in report.seconds.items()}
    build = {
        "passages": report.passages,
        "documents": report.documents,
        "seconds": seconds,
        "passages_per_s": round(report.passages / seconds["total"], 1),
        "generation": store_meta(url)["generation"],
    }
    index.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(build), encoding="utf-8")
    return {**build, "reused": False}


def ensure_database(server, database: str) -> str:
    """The URL of `database` on the local server, created (with the extensions) when missing."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{database}"')
    url = server.url_for(database)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    return url


def store_meta(url: str) -> dict | None:
    import psycopg

    from assistant.pgstore import read_meta

    with psycopg.connect(url) as connection:
        return read_meta(connection)


def postgres_sizes(url: str) -> dict:
    """Bytes on disk of the database and of each table and index of the store."""
    import psycopg

    from assistant.pgstore import SCHEMA_NAME

    with psycopg.connect(url) as connection:
        (database,) = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        rows = connection.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'i') ORDER BY 2 DESC",
            [SCHEMA_NAME],
        ).fetchall()
    return {"database": database, **{name: size for name, size in rows if size > 65536}}


def server_settings(url: str) -> dict:
    import psycopg

    names = ("server_version", "shared_buffers", "work_mem", "maintenance_work_mem", "max_parallel_workers_per_gather")
    with psycopg.connect(url) as connection:
        values = {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}
        (pgvector,) = connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    return {**values, "pgvector": pgvector}


# --- recall@20 against exact search ---


def recall_embedded(index_dir: Path, queries: np.ndarray) -> dict:
    """store.dense(q, 20) of the embedded index against numpy's exact top 20 over its stored matrix."""
    from assistant.index import Index

    index = Index.load(index_dir)
    try:
        approximate = [index.dense(q, RECALL_K) for q in queries]
        exact = exact_top(index.matrix, queries)
        kind = index.manifest["index_kind"]
    finally:
        index.close()
    return {"index_kind": kind, **recall(approximate, exact)}


def recall_postgres(url: str, queries: np.ndarray, exact: list[list[int]] | None = None) -> dict:
    """store.dense(q, 20) of PostgresStore against exact search in SQL (`ORDER BY (embedding <#> q) + 0`).

    With `exact` (numpy's exact top ids over the loaded matrix, row i being passage id i), SQL checks only the
    first EXACT_SQL_CHECKS questions and `exact` serves for all; `sql_agrees` is the share of ids that agreed.
    """
    from assistant.pgstore import EF_SEARCH, SCHEMA_NAME, PostgresStore

    store = PostgresStore.open(url)
    try:
        timed, approximate = [], []
        for q in queries:
            started = time.perf_counter()
            approximate.append(store.dense(q, RECALL_K))
            timed.append(time.perf_counter() - started)
        checked = queries if exact is None else queries[:EXACT_SQL_CHECKS]
        sql = f"SELECT id FROM {SCHEMA_NAME}.passages ORDER BY (embedding <#> %s) + 0 LIMIT %s"
        started = time.perf_counter()
        exact_sql = [[row[0] for row in store._read(sql, [q, RECALL_K])] for q in checked]
        sql_s = (time.perf_counter() - started) / max(1, len(checked))
    finally:
        store.close()
    result = {"ef_search": EF_SEARCH, "dense_ms": percentiles(timed), "exact_sql_ms_each": round(1000 * sql_s, 1)}
    if exact is None:
        return {**result, **recall(approximate, exact_sql)}
    agree = np.mean([len(set(a) & set(b)) / RECALL_K for a, b in zip(exact_sql, exact, strict=False)])
    return {**result, **recall(approximate, exact), "sql_checked": len(checked), "sql_agrees": round(float(agree), 4)}


def exact_top(matrix: np.ndarray, queries: np.ndarray, chunk: int = 262_144) -> list[list[int]]:
    """The exact top RECALL_K ids by inner product for each query, over every row of matrix (in chunks)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(matrix), chunk):
        scores = queries @ np.asarray(matrix[start : start + chunk]).T
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores, ids = np.hstack([best_scores, scores]), np.hstack([best_ids, ids])
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :RECALL_K]
        best_scores, best_ids = np.take_along_axis(scores, keep, 1), np.take_along_axis(ids, keep, 1)
    return best_ids.tolist()


def recall(approximate: list[list[int]], exact: list[list[int]]) -> dict:
    """Mean and minimum share of the exact top RECALL_K that the approximate search returned."""
    shares = [len(set(a) & set(e)) / len(e) for a, e in zip(approximate, exact, strict=True) if e]
    return {"questions": len(shares), "recall_at_20": round(float(np.mean(shares)), 4), "min": min(shares)}


# --- dense-only builds, for sizes the full ingests do not reach here ---


def scaled_matrix(base: np.ndarray, copies: int, seed: int = 0) -> np.ndarray:
    """`copies` repeats of the base vectors: the first as is, the others plus Gaussian noise, re-normalised."""
    from bench.scaled import NOISE_SIGMA

    rng = np.random.default_rng(seed)
    matrix = np.empty((len(base) * copies, base.shape[1]), dtype=np.float32)
    matrix[: len(base)] = base
    for copy in range(1, copies):
        noisy = base + rng.normal(0.0, NOISE_SIGMA, base.shape).astype(np.float32)
        matrix[copy * len(base) : (copy + 1) * len(base)] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return matrix


def source_rows(url: str) -> tuple[list[tuple], list[tuple], np.ndarray]:
    """The first copy's documents and passages (with vectors) of a full PostgreSQL store, in id order."""
    import psycopg
    from pgvector.psycopg import register_vector

    from assistant.pgstore import SCHEMA_NAME as S

    with psycopg.connect(url) as connection:
        register_vector(connection)
        documents = connection.execute(f"SELECT * FROM {S}.documents WHERE doc_id LIKE 'copy-00/%%'").fetchall()
        passages = connection.execute(
            f"SELECT * FROM {S}.passages WHERE doc_id LIKE 'copy-00/%%' ORDER BY id"
        ).fetchall()
    vectors = np.stack([row[-1].to_numpy() for row in passages]).astype(np.float32)
    return documents, [row[:-1] for row in passages], vectors


def build_postgres_dense(server, database: str, source_url: str, copies: int, matrix: np.ndarray, work: Path) -> dict:
    """A store of `copies` repeats of the source's first copy: documents and passages by COPY, vectors from
    `matrix`, then the HNSW index (maintenance_work_mem raised); no postings, no trigram index."""
    import psycopg
    from pgvector.psycopg import register_vector

    from assistant.pgstore import HNSW_EF_CONSTRUCTION, HNSW_M, schema_sql
    from assistant.pgstore import SCHEMA_NAME as S

    url = ensure_database(server, database)
    marker = work / f"{database}.json"
    meta = store_meta(url)
    if marker.is_file() and meta and json.loads(marker.read_text())["generation"] == meta.get("generation"):
        return {**json.loads(marker.read_text()), "reused": True}
    documents, passages, _ = source_rows(source_url)
    per_copy, seconds = len(passages), {}
    with psycopg.connect(url, autocommit=True) as connection:
        register_vector(connection)
        connection.execute(f"DROP SCHEMA IF EXISTS {S} CASCADE")
        connection.execute(schema_sql(matrix.shape[1], indexes=False))
        started = time.perf_counter()
        for copy in range(copies):
            _copy_rows(connection, documents, passages, copy, per_copy, matrix[copy * per_copy : (copy + 1) * per_copy])
            if copy % 10 == 0:
                log(f"stores: {database}: copy {copy + 1}/{copies} loaded")
        seconds["copy"] = time.perf_counter() - started
        started = time.perf_counter()
        connection.execute("SET maintenance_work_mem = '6GB'")
        connection.execute("SET max_parallel_maintenance_workers = 1")  # with the leader: both cores
        log(f"stores: {database}: building the HNSW index over {len(matrix)} vectors")
        connection.execute(
            f"CREATE INDEX passages_embedding ON {S}.passages USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        seconds["hnsw"] = time.perf_counter() - started
        connection.execute(f"ANALYZE {S}.passages")
        source = store_meta(source_url)
        values = {**source, "passages": str(len(matrix)), "generation": "1", "corpus": f"dense-only x{copies}"}
        for key, value in values.items():
            connection.execute(f"INSERT INTO {S}.meta VALUES (%s, %s)", [key, value])
    build = {
        "passages": len(matrix),
        "documents": len(documents) * copies,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "generation": "1",
        "how": "COPY of documents and passages (vectors from the scaled matrix), then CREATE INDEX hnsw "
        f"(m {HNSW_M}, ef_construction {HNSW_EF_CONSTRUCTION}, maintenance_work_mem 6GB, 1 parallel worker); "
        "no BM25 postings, no trigram index",
    }
    marker.write_text(json.dumps(build), encoding="utf-8")
    return {**build, "reused": False}


def _copy_rows(connection, documents, passages, copy: int, per_copy: int, vectors: np.ndarray) -> None:
    from assistant.pgstore import SCHEMA_NAME as S

    prefix = f"copy-{copy:02d}/"
    first = passages[0][0]
    with connection.transaction(), connection.cursor() as cursor:
        with cursor.copy(f"COPY {S}.documents FROM STDIN") as out:
            for row in documents:
                row = list(row)
                row[0] = prefix + row[0][len("copy-00/") :]
                row[-2] = row[-2] - first + copy * per_copy  # first_passage
                out.write_row(row)
        with cursor.copy(f"COPY {S}.passages FROM STDIN") as out:
            for (pid, doc_id, *rest), vector in zip(passages, vectors, strict=True):
                out.write_row([pid - first + copy * per_copy, prefix + doc_id[len("copy-00/") :], *rest, vector])


def build_faiss_dense(matrix: np.ndarray, path: Path) -> dict:
    """The embedded index's HNSW FAISS index (ingest._build_faiss, its parameters) over `matrix`, saved."""
    import faiss

    if path.is_file() and faiss.read_index(str(path), faiss.IO_FLAG_MMAP).ntotal == len(matrix):
        return {"passages": len(matrix), "reused": True, **json.loads(path.with_suffix(".json").read_text())}
    started = time.perf_counter()
    from assistant.ingest import _build_faiss

    index = _build_faiss(matrix, "hnsw")  # the embedded index's own HNSW build and parameters
    seconds = round(time.perf_counter() - started, 1)
    faiss.write_index(index, str(path))
    path.with_suffix(".json").write_text(json.dumps({"seconds": {"hnsw": seconds}}))
    return {"passages": len(matrix), "reused": False, "seconds": {"hnsw": seconds}, "bytes": path.stat().st_size}


def recall_faiss(path: Path, queries: np.ndarray, exact: list[list[int]]) -> dict:
    """The saved FAISS HNSW index searched as Index.dense does (efSearch HNSW_EF_SEARCH) against exact."""
    import faiss

    from assistant.index import HNSW_EF_SEARCH

    index = faiss.read_index(str(path))
    index.hnsw.efSearch = HNSW_EF_SEARCH
    approximate, timed = [], []
    for q in queries:
        started = time.perf_counter()
        approximate.append([int(i) for i in index.search(q[None, :], RECALL_K)[1][0]])
        timed.append(time.perf_counter() - started)
    del index
    return {
        "index_kind": "hnsw",
        "ef_search": HNSW_EF_SEARCH,
        "dense_ms": percentiles(timed),
        **recall(approximate, exact),
    }


# --- the replica: a child process that opens the engine and answers ---


def measure_replica(corpus: Path, index: Path, store: str | None, questions: list[str], rounds: int) -> dict:
    """Run the replica child on one store and return its report."""
    questions_file = index.parent / "timing-questions.json"
    questions_file.write_text(json.dumps(questions), encoding="utf-8")
    argv = [sys.executable, "-m", "bench.stores", "replica", "--corpus", str(corpus), "--index", str(index)]
    argv += ["--questions", str(questions_file), "--rounds", str(rounds)] + (["--store", store] if store else [])
    return run_json_child(argv, env=bench_env(), timeout=3600)


def measure_faiss_replica(path: Path, questions: list[str]) -> dict:
    """Run the FAISS-only child (models, then the FAISS file, then searches) and return its report."""
    questions_file = path.parent / "timing-questions.json"
    questions_file.write_text(json.dumps(questions), encoding="utf-8")
    argv = [sys.executable, "-m", "bench.stores", "faiss-replica", "--vectors", str(path)]
    return run_json_child(argv + ["--questions", str(questions_file)], env=bench_env(), timeout=3600)


def replica_main(args) -> int:
    """The child: open the engine as the app does, answer, report times and resident memory."""
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.search import Question
    from bench.latency import serve_and_time

    rss_start = current_rss_mib()
    started = time.perf_counter()
    settings = Settings(corpus_dir=args.corpus, index_dir=args.index, store=args.store)
    engine = QuoteEngine.open(settings)
    engine.embedder.encode(["warm-up"])  # load the model now, as the app does
    opened, rss_open = time.perf_counter() - started, current_rss_mib()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    served = serve_and_time(engine, questions, args.rounds)
    searched = []
    for question in questions:
        started = time.perf_counter()
        engine.searcher.search(Question(question), mode="hybrid")
        searched.append(time.perf_counter() - started)
    emit_json(
        {
            "passages": engine.store.size,
            "index_kind": engine.store.manifest.get("index_kind"),
            "open_s": round(opened, 3),
            "rss_mib": {"start": rss_start, "after_open": rss_open, "after_answers": current_rss_mib()},
            "peak_rss_mib": peak_rss_mib(),
            "search_hybrid": percentiles(searched),
            **served,
        }
    )
    return 0


def faiss_replica_main(args) -> int:
    """The FAISS-only child: what an embedded replica's vectors alone add to its memory at a dense-only size."""
    import faiss

    from assistant.config import Settings

    rss_start = current_rss_mib()
    settings = Settings()
    embedder, reranker = settings.embedder(), settings.load_reranker()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    queries = embedder.encode_queries(questions)
    rss_models = current_rss_mib()
    index = faiss.read_index(str(args.vectors))
    rss_index = current_rss_mib()
    for q in queries:
        index.search(np.asarray(q, dtype=np.float32)[None, :], 100)
    del reranker
    emit_json(
        {
            "passages": index.ntotal,
            "rss_mib": {
                "start": rss_start,
                "models": rss_models,
                "after_index": rss_index,
                "after_search": current_rss_mib(),
            },
            "index_adds_mib": round(rss_index - rss_models, 1),
            "peak_rss_mib": peak_rss_mib(),
        }
    )
    return 0


# --- one size ---


def full_size(ctx: dict, target: int) -> dict:
    """Both stores by their own ingest at about `target` passages, then recall and a replica of each."""
    from bench.scaled import index_bytes

    copies = max(1, round(target / ctx["base_passages"]))
    corpus = repeat_corpus(ctx["base_corpus"], copies, ctx["work"] / "corpora" / f"briefings-x{copies}")
    embedded_dir = ctx["work"] / "indexes" / f"embedded-x{copies}"
    log(f"stores: {target}: embedded ingest of {copies} copies")
    embedded = {"build": build_embedded(corpus, embedded_dir, ctx["base_index"], copies)}
    embedded["bytes"] = index_bytes(embedded_dir)
    log(f"stores: {target}: PostgreSQL ingest of {copies} copies")
    pg_dir = ctx["work"] / "indexes" / f"postgres-x{copies}"
    postgres = {"build": build_postgres(ctx["server"], f"stores_x{copies}", corpus, pg_dir, ctx["base_index"])}
    url = ctx["server"].url_for(f"stores_x{copies}")
    postgres["bytes"] = postgres_sizes(url)
    log(f"stores: {target}: recall@20")
    embedded["recall"] = recall_embedded(embedded_dir, ctx["queries"])
    postgres["recall"] = recall_postgres(url, ctx["queries"])
    timing = ctx["questions"][: ctx["args"].timing_questions]
    log(f"stores: {target}: replicas ({len(timing)} questions, {ctx['args'].rounds} rounds reranked)")
    embedded["replica"] = measure_replica(corpus, embedded_dir, None, timing, ctx["args"].rounds)
    postgres["replica"] = measure_replica(corpus, pg_dir, url, timing, ctx["args"].rounds)
    faiss_file = _current_faiss(embedded_dir)
    if faiss_file is not None:
        embedded["vectors_only_replica"] = measure_faiss_replica(faiss_file, timing)
    return {
        "how": "full",
        "copies": copies,
        "passages": embedded["build"]["passages"],
        "embedded": embedded,
        "postgres": postgres,
    }


def dense_only_size(ctx: dict, target: int) -> dict:
    """Vectors only at about `target` passages: a PostgreSQL store loaded by COPY, then FAISS HNSW (unless
    --skip-faiss-dense). The PostgreSQL half is saved before the FAISS build starts."""
    source = _smallest_full_store(ctx)
    _, _, base = source_rows(source)
    copies = max(1, round(target / len(base)))
    log(f"stores: {target}: {copies} copies of {len(base)} vectors, dense only")
    matrix = scaled_matrix(base, copies)
    folder = ctx["work"] / "indexes" / f"dense-x{copies}"
    folder.mkdir(parents=True, exist_ok=True)
    result = {"how": "dense-only", "copies": copies, "passages": len(matrix), "embedded": {}, "postgres": {}}
    log(f"stores: {target}: PostgreSQL load and HNSW build")
    database = f"stores_dense_x{copies}"
    postgres = result["postgres"]
    postgres["build"] = build_postgres_dense(ctx["server"], database, source, copies, matrix, folder)
    url = ctx["server"].url_for(database)
    postgres["bytes"] = postgres_sizes(url)
    log(f"stores: {target}: exact top 20 and PostgreSQL recall@20")
    exact = exact_top(matrix, ctx["queries"])
    postgres["recall"] = recall_postgres(url, ctx["queries"], exact)
    timing = ctx["questions"][: ctx["args"].timing_questions]
    corpus = ctx["work"] / "corpora" / "briefings"  # unused by a shared store's engine; must exist
    postgres["replica"] = measure_replica(corpus, folder, url, timing, 1)
    postgres["replica"]["note"] = "no BM25 postings: keyword search finds nothing, ask() times not comparable"
    ctx["save"](target, result)
    if ctx["args"].skip_faiss_dense:
        result["embedded"] = {"skipped": "--skip-faiss-dense"}
        return result
    faiss_file = folder / "vectors.faiss"
    log(f"stores: {target}: FAISS HNSW build")
    embedded = result["embedded"]
    embedded["build"] = build_faiss_dense(matrix, faiss_file)
    del matrix
    embedded["recall"] = recall_faiss(faiss_file, ctx["queries"], exact)
    embedded["vectors_only_replica"] = measure_faiss_replica(faiss_file, timing)
    return result


def _current_faiss(index_dir: Path) -> Path | None:
    from assistant.index import VECTORS, current_generation

    path = current_generation(index_dir) / VECTORS
    return path if path.is_file() else None


def _smallest_full_store(ctx: dict) -> str:
    """The URL of the full PostgreSQL store with the fewest copies in the work folder (built at x1 if none)."""
    built = sorted(ctx["work"].glob("indexes/postgres-x*/pg-build.json"), key=lambda p: int(p.parent.name[10:]))
    if built:
        return ctx["server"].url_for(f"stores_{built[0].parent.name.split('-')[1]}")
    corpus = repeat_corpus(ctx["base_corpus"], 1, ctx["work"] / "corpora" / "briefings-x1")
    build_postgres(ctx["server"], "stores_x1", corpus, ctx["work"] / "indexes" / "postgres-x1", ctx["base_index"])
    return ctx["server"].url_for("stores_x1")


# --- the run ---


def run(args) -> dict:
    from assistant import localpg
    from assistant.evaluate import load_labelled
    from assistant.index import Index
    from bench.machine import describe_machine

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    corpus, index = base_corpus(work)
    loaded = Index.load(index)
    base_passages = loaded.size
    loaded.close()
    questions = [q.question for q in load_labelled(QUESTIONS)]
    results = _previous(args.out)
    results.update(
        machine=describe_machine(),
        command=(command := " ".join(["python -m bench.stores", *args.argv])),
        base={"corpus": "whitehouse-briefings-2021 (365 transcripts)", "passages": base_passages},
        questions={
            "file": str(QUESTIONS.relative_to(REPO_ROOT)),
            "recall": len(questions),
            "timing": min(args.timing_questions, len(questions)),
            "rounds_reranked": args.rounds,
        },
        targets=TARGETS,
    )
    with localpg.start(work / "postgres") as server:
        results["postgres_server"] = server_settings(server.url)
        ctx = {
            "args": args,
            "work": work,
            "base_corpus": corpus,
            "base_index": index,
            "server": server,
            "base_passages": base_passages,
            "questions": questions,
            "queries": question_vectors(questions),
        }
        sizes = results.setdefault("sizes", {})

        def save(target: int, partial: dict) -> None:
            sizes[str(target)] = {**partial, "partial": True, "command": command}
            write_outputs(results, args.out)

        ctx["save"] = save
        for target in sorted(args.sizes):
            started = time.perf_counter()
            measure = full_size if target <= args.full_up_to else dense_only_size
            measured = measure(ctx, target)
            sizes[str(target)] = {**measured, "wall_s": round(time.perf_counter() - started, 1), "command": command}
            write_outputs(results, args.out)
    return results


def _previous(out: Path) -> dict:
    return json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}


def write_outputs(results: dict, out: Path) -> None:
    """The JSON at `out` and the Markdown table beside it (stores.md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(render_markdown(results), encoding="utf-8")


def render_markdown(results: dict) -> str:
    """docs/stores.md: the command, the machine, one row per measure and size, and the targets."""
    machine, sizes = results.get("machine", {}), results.get("sizes", {})
    lines = [
        "# Embedded index vs PostgreSQL (pgvector)",
        "",
        f"Measured on {_machine_line(machine)} by bench/stores.py ({machine.get('date_utc', '')}); the raw numbers "
        "are in docs/stores.json. Commands: "
        + ", ".join(sorted({f"`{r.get('command', results.get('command'))}`" for r in sizes.values()}))
        + ".",
        "",
    ]
    columns = sorted(sizes, key=int)
    header = "| measure | " + " | ".join(f"{int(s):,} {store}" for s in columns for store in ("embedded", "postgres"))
    lines += [header + " |", "|---" * (1 + 2 * len(columns)) + "|"]
    for name, getter in _ROWS:
        cells = [_cell(getter, sizes[s], store) for s in columns for store in ("embedded", "postgres")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *_target_lines(sizes), "", *_notes(results)]
    return "\n".join(lines) + "\n"


def _machine_line(machine: dict) -> str:
    cores = machine.get("cpu_count") or machine.get("cores") or os.cpu_count()
    return f"{cores} cores, no GPU ({machine.get('cpu_model') or machine.get('cpu', {}).get('model', 'CPU')})"


def _get(data: dict, *keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _full(key: str):
    """A replica timing, shown only for full builds (a dense-only store has no keyword index to time)."""
    return lambda r, s: _get(r, s, "replica", key, "p50_ms") if r["how"] == "full" else None


_ROWS = [
    ("passages", lambda r, s: r["passages"]),
    ("build", lambda r, s: r["how"]),
    ("ingest passages/s", lambda r, s: _get(r, s, "build", "passages_per_s")),
    ("build seconds", lambda r, s: _get(r, s, "build", "seconds")),
    ("ask() p50 ms, hybrid (no model)", _full("hybrid")),
    ("ask() p50 ms, reranked", _full("ask")),
    ("search() p50 ms, hybrid", _full("search_hybrid")),
    ("dense(q, 20) p50 ms", lambda r, s: _get(r, s, "recall", "dense_ms", "p50_ms")),
    ("dense recall@20 vs exact (mean)", lambda r, s: _get(r, s, "recall", "recall_at_20")),
    ("dense recall@20, worst question", lambda r, s: _get(r, s, "recall", "min")),
    ("replica RSS MiB after answers", lambda r, s: _get(r, s, "replica", "rss_mib", "after_answers")),
    ("replica peak RSS MiB", lambda r, s: _get(r, s, "replica", "peak_rss_mib")),
    ("vectors-only child: FAISS adds MiB", lambda r, s: _get(r, s, "vectors_only_replica", "index_adds_mib")),
    ("on disk MB", lambda r, s: _mb(_get(r, s, "bytes", "total") or _get(r, s, "bytes", "database"))),
]


def _mb(value):
    return None if value is None else round(value / 1e6)


def _cell(getter, result: dict, store: str) -> str:
    try:
        value = getter(result, store)
    except (KeyError, TypeError):
        value = None
    if value is None:
        return "–"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:g}" for k, v in value.items())
    return f"{value:,}" if isinstance(value, int) else str(value)


def _target_lines(sizes: dict) -> list[str]:
    lines = ["## Targets", ""]
    small = sizes.get("200000", {})
    for label, key in (("searcher.search() hybrid (retrieval alone)", "search_hybrid"), ("ask() hybrid", "hybrid")):
        embedded, postgres = (_get(small, s, "replica", key, "p50_ms") for s in ("embedded", "postgres"))
        if embedded and postgres:
            ratio = postgres / embedded
            verdict = "met" if ratio <= 2 else "not met"
            lines.append(
                f"- {TARGETS['hybrid_ratio_at_200k']}, as {label}: {postgres} / {embedded} ms = "
                f"{ratio:.2f}x, {verdict}."
            )
        else:
            lines.append(f"- {TARGETS['hybrid_ratio_at_200k']}, as {label}: not measured.")
    big = sizes.get("2000000", {})
    pg_recall = _get(big, "postgres", "recall", "recall_at_20")
    if pg_recall is not None:
        verdict = "met" if pg_recall >= 0.98 else "not met"
        faiss_recall = _get(big, "embedded", "recall", "recall_at_20")
        lines.append(f"- {TARGETS['recall_at_2m']}: PostgreSQL {pg_recall}, {verdict} (embedded FAISS {faiss_recall}).")
    else:
        lines.append(f"- {TARGETS['recall_at_2m']}: not measured (run `python -m bench.stores --sizes 2000000`).")
    rss = {int(s): _get(r, "postgres", "replica", "rss_mib", "after_answers") for s, r in sizes.items()}
    rss = {s: v for s, v in sorted(rss.items()) if v}
    if len(rss) >= 2:
        (small_n, low), (big_n, high) = list(rss.items())[0], list(rss.items())[-1]
        verdict = "met" if high <= low * 1.1 + 50 else "not met"
        lines.append(
            f"- {TARGETS['rss_flat']}: {low} MiB at {small_n:,}, {high} MiB at {big_n:,}, {verdict} "
            "(within 10% + 50 MiB counts as flat)."
        )
    else:
        lines.append(f"- {TARGETS['rss_flat']}: needs two sizes.")
    return lines


def _notes(results: dict) -> list[str]:
    base, questions = results.get("base", {}), results.get("questions", {})
    server = results.get("postgres_server", {})
    return [
        "## How",
        "",
        f"- Base corpus: {base.get('corpus')}, {base.get('passages', 0):,} passages embedded once by the real model; "
        "larger corpora repeat it, the first copy with the real vectors, every other copy with Gaussian noise "
        "(sigma 0.005 per dimension, re-normalised; bench/scaled.py). Ingest times exclude the model.",
        f"- Questions: {questions.get('file')} ({questions.get('recall')} for recall; the first "
        f"{questions.get('timing')} for timing, {questions.get('rounds_reranked')} rounds reranked, 1 round hybrid).",
        "- Recall@20: `store.dense(q, 20)` against exact top 20 over every vector (numpy for the embedded index; "
        "`ORDER BY (embedding <#> q) + 0` for PostgreSQL). Near-duplicate copies make this harder than real data: "
        "the exact top 20 is often a cluster of copies of a few passages whose scores differ by ~0.005. "
        "PostgreSQL's recall on the real, distinct vectors alone, by ef_search: docs/ef_sweep.md "
        "(`python -m bench.ef_sweep`).",
        "- Replica RSS: VmRSS of a child process that opened the engine (model, reranker, store) and answered the "
        "timing questions; the PostgreSQL server's own memory is not in it.",
        f"- PostgreSQL: the local server of assistant/localpg.py, settings as shipped ({server}).",
        "- Dense-only sizes: no BM25 postings or trigram index were built, so neither ingest rate nor ask() time "
        "is given there; the embedded side is the FAISS index alone (a child that loads the models, then the "
        "FAISS file: 'FAISS adds MiB' is what the vectors cost an embedded replica).",
    ]


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stores", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000], help="passage counts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON (stores.md is written beside it)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="corpora, indexes and the PostgreSQL data")
    parser.add_argument("--timing-questions", type=int, default=30, help="questions the replicas time")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of reranked ask() per question")
    parser.add_argument("--full-up-to", type=int, default=FULL_UP_TO, help="larger sizes are built dense-only")
    parser.add_argument("--skip-faiss-dense", action="store_true", help="dense-only sizes: PostgreSQL only")
    parser.add_argument("--render-only", action="store_true", help="rewrite stores.md from the JSON")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["replica"], ["faiss-replica"]):
        child = argparse.ArgumentParser(prog=f"python -m bench.stores {argv[0]}")
        child.add_argument("--corpus", type=Path)
        child.add_argument("--index", type=Path)
        child.add_argument("--store")
        child.add_argument("--vectors", type=Path)
        child.add_argument("--questions", type=Path, required=True)
        child.add_argument("--rounds", type=int, default=2)
        args = child.parse_args(argv[1:])
        return replica_main(args) if argv[0] == "replica" else faiss_replica_main(args)
    args = parse_arguments(argv)
    if args.render_only:
        write_outputs(_previous(args.out), args.out)
        return 0
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        run(args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    log(f"done: {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
