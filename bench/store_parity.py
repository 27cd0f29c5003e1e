"""Both stores on every labelled set: the embedded files and PostgreSQL, the same questions, the same model (issue 21).

Each set's corpus is ingested into the embedded index (cached with bench.models under .bench/models/e5/) and
into a fresh database of a local PostgreSQL server (assistant.localpg). The PostgreSQL ingest takes the
passage vectors the embedded index already holds (the same model on the same passage texts gives the same
vectors), so only the stores differ. Then `evaluate_labelled` runs on both, reranked and hybrid.

    python -m bench.store_parity          # about 15 min on 2 cores, most of it the first embedding of a set

Writes docs/store_parity.json and docs/store_parity.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from bench.measure import BENCH_DIR, REPO_ROOT, log
from bench.models import SETS, corpus_for, questions_for

MODES = ("reranked", "hybrid")


class StoredVectors:
    """An embedder that answers passage texts from an embedded index's stored vectors (the same model made
    them) and hands anything else to the model."""

    def __init__(self, embedder, texts: list[str], matrix: np.ndarray) -> None:
        self._embedder = embedder
        self._known = dict(zip(texts, matrix))
        self.name, self.dimension = embedder.name, embedder.dimension

    def encode(self, texts, progress=None) -> np.ndarray:
        missing = [t for t in texts if t not in self._known]
        if missing:
            self._known.update(zip(missing, self._embedder.encode(missing)))
        if progress:
            progress(len(texts))
        return np.asarray([self._known[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_queries(self, texts) -> np.ndarray:
        return self._embedder.encode_queries(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args(argv)

    from dataclasses import replace

    import psycopg

    from assistant import localpg
    from assistant.config import Settings, model_for
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled
    from assistant.pgingest import ingest_postgres
    from bench.machine import describe_machine

    work = BENCH_DIR / "models"
    model = model_for("e5")
    embedder = Settings(model=model).embedder()
    results: dict = {"machine": describe_machine(), "command": "python -m bench.store_parity", "sets": {}}
    data = BENCH_DIR / "store-parity" / "pgdata"
    shutil.rmtree(data.parent, ignore_errors=True)
    with localpg.start(data) as server:
        engines: dict[str, dict] = {}
        for key in sorted({key for key, _, _ in SETS.values()}):
            corpus, index = corpus_for(key, work), work / "e5" / key / "index"
            embedded = QuoteEngine.open(
                Settings(corpus_dir=corpus, index_dir=index, model=model), embedder=embedder, build=True
            )
            texts = [row[0] for row in embedded.store.query("SELECT text FROM passages ORDER BY id")]
            reuse = StoredVectors(embedder, texts, embedded.store.matrix)
            database = f"parity_{key.replace('-', '_')}"
            with psycopg.connect(server.url, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {database}")
            settings = replace(embedded.settings, store=server.url_for(database), index_dir=data.parent / key)
            started = time.perf_counter()
            report = ingest_postgres(settings, reuse)
            log(f"{key}: {report.passages} passages into PostgreSQL in {time.perf_counter() - started:.1f} s")
            shared = QuoteEngine.open(settings, embedder, reranker=embedded.reranker)
            engines[key] = {"embedded": embedded, "postgresql": shared}
        for set_name, (key, path, collection) in SETS.items():
            log(f"{set_name}")
            row = {}
            for store, engine in engines[key].items():
                report = evaluate_labelled(engine, questions_for(path, collection), modes=list(MODES))
                row[store] = {
                    "questions": report["questions"],
                    "answerable": report["answerable"],
                    "modes": {m: {k: v for k, v in r.items() if k != "misses"} for m, r in report["modes"].items()},
                }
            results["sets"][set_name] = row
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "store_parity.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out_dir / "store_parity.md").write_text(render(results), encoding="utf-8")
    log("wrote store_parity.json and store_parity.md")
    return 0


def render(results: dict) -> str:
    """The Markdown table: per set and mode, top-1 / top-3 / declined answerable on each store."""
    about = results["machine"]
    machine = f"{about['cores']} cores ({about['cpu_model']}), {about['ram_gib']} GiB, no GPU, {about['date_utc']}"
    lines = [
        "# Both stores on every labelled set",
        "",
        f"`{results['command']}` on {machine}. Model multilingual-e5-small, the shipped reranker. "
        "Counts of answerable questions (top-1 / top-3 answer found, declined); the target is the same top-1 and "
        "top-3 within one question on either store.",
        "",
        "| set | mode | embedded top-1 / top-3 / declined | PostgreSQL top-1 / top-3 / declined | largest gap |",
        "|---|---|---|---|---|",
    ]
    for set_name, row in results["sets"].items():
        for mode in MODES:
            cells, counts = [], []
            for store in ("embedded", "postgresql"):
                r = row[store]["modes"][mode]
                n = row[store]["answerable"]
                numbers = [round(r["top1"] * n), round(r["top3"] * n), r.get("answerable_declined", 0)]
                counts.append(numbers)
                cells.append(" / ".join(str(x) for x in numbers) + f" of {n}")
            gap = max(abs(a - b) for a, b in zip(*counts))
            lines.append(f"| {set_name} | {mode} | {cells[0]} | {cells[1]} | {gap} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
