"""`python -m bench.ef_sweep`: recall@20 of PostgreSQL's HNSW search against exact search, by ef_search, on
real vectors only: the 2021 briefings (64,649 passages) embedded once by the real model, no copies.

bench/stores.py measures recall at 200,000 and 2,000,000 passages, which repeat the briefings with a little
noise; there the exact top 20 is mostly near-copies of a few passages, and recall says more about those
near-ties than about the index. This is the same index and the same 123 labelled questions on distinct,
real vectors: what pgstore.EF_SEARCH was chosen on. Writes docs/ef_sweep.{md,json}; reuses bench/stores.py's
work folder (.bench/stores) and its local server.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.measure import REPO_ROOT, log

EF_VALUES = (100, 200, 400, 800)
OUT = REPO_ROOT / "docs" / "ef_sweep.json"


def sweep(url: str, queries: np.ndarray, exact: list[list[int]]) -> list[dict]:
    """For each ef_search: recall@20 and the p50 time of the query the store runs (ORDER BY <#> LIMIT 20)."""
    import psycopg
    from pgvector.psycopg import register_vector

    from assistant.pgstore import SCHEMA_NAME
    from bench.stores import RECALL_K, recall

    rows = []
    with psycopg.connect(url) as connection:
        register_vector(connection)
        for ef in EF_VALUES:
            found, seconds = [], []
            for query in queries:
                with connection.transaction():
                    connection.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                    started = time.perf_counter()
                    result = connection.execute(
                        f"SELECT id FROM {SCHEMA_NAME}.passages ORDER BY embedding <#> %s LIMIT {RECALL_K}", [query]
                    ).fetchall()
                    seconds.append(time.perf_counter() - started)
                found.append([row[0] for row in result])
            rows.append({"ef_search": ef, **recall(found, exact), "p50_ms": round(1000 * float(np.median(seconds)), 2)})
            log(f"ef_sweep: ef_search {ef}: {rows[-1]}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ef_sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT.parent, help="where ef_sweep.{md,json} are written")
    out = parser.parse_args(argv).out_dir / OUT.name

    from assistant import localpg
    from assistant.evaluate import load_labelled
    from bench.machine import describe_machine
    from bench.stores import (
        DEFAULT_WORK,
        QUESTIONS,
        base_corpus,
        build_postgres,
        exact_top,
        question_vectors,
        repeat_corpus,
        source_rows,
    )

    work = DEFAULT_WORK.resolve()
    corpus, index = base_corpus(work)
    questions = [q.question for q in load_labelled(QUESTIONS)]
    queries = question_vectors(questions)
    with localpg.start(work / "postgres") as server:
        single = repeat_corpus(corpus, 1, work / "corpora" / "briefings-x1")
        build = build_postgres(server, "stores_x1", single, work / "indexes" / "postgres-x1", index)
        url = server.url_for("stores_x1")
        _, _, vectors = source_rows(url)  # ids 0..n-1 in order: a fresh build numbers passages from 0
        exact = exact_top(vectors, queries)
        rows = sweep(url, queries, exact)
    results = {
        "machine": describe_machine(),
        "command": "python -m bench.ef_sweep",
        "passages": int(build["passages"]),
        "questions": len(questions),
        "rows": rows,
    }
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(render(results), encoding="utf-8")
    return 0


def render(results: dict) -> str:
    machine = results["machine"]
    lines = [
        "# PostgreSQL HNSW recall by ef_search, on real vectors",
        "",
        f"`{results['command']}` on {machine.get('cores', '?')} cores, no GPU, {machine.get('date_utc', '')}: "
        f"the 2021 briefings ({results['passages']:,} passages, multilingual-e5-small, no copies), "
        f"the {results['questions']} labelled briefings questions, recall@20 against exact search (numpy over "
        "the same vectors); HNSW m 16, ef_construction 64 (assistant/pgstore.py).",
        "",
        "| ef_search | recall@20 (mean) | worst question | query p50 ms |",
        "|---|---|---|---|",
    ]
    for row in results["rows"]:
        lines.append(f"| {row['ef_search']} | {row['recall_at_20']:.3f} | {row['min']:.2f} | {row['p50_ms']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
