"""Ingest speed: a fresh ingest by stage, the model-only floor, and re-ingests with nothing or one file changed.

The engine's `ingest` times its own stages (IngestReport.seconds: scan, read_split,
embed, index, total). The floor is the same passages encoded by the bare
SentenceTransformer in one call (batch 64, as the engine uses): no reading, splitting
or indexing. The model is loaded before both, so neither includes the load; its time
is reported on its own. Re-ingests are timed in-process and, as a user runs them, with
`python -m assistant ingest`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.index import Index
from assistant.ingest import ingest
from bench.corpora import corpus_bytes, fresh_copy
from bench.measure import bench_env, load_average, log, timed_run
from bench.scaled import ReusedVectorEmbedder, build_index, index_bytes, stored_vectors

CHANGE = "\n\nThis sentence was added by the re-ingest benchmark to change one document.\n"


def load_model(model: str) -> tuple[SentenceTransformerEmbedder, float]:
    """The engine's embedder with its model loaded, and the seconds the load took."""
    embedder = Settings(model=model).embedder()
    started = time.perf_counter()
    embedder.encode(["warm-up"])
    return embedder, time.perf_counter() - started


def fresh_ingest(
    subset_dir: Path, work_dir: Path, embedder: SentenceTransformerEmbedder, compare_torch: bool = True
) -> dict:
    """Copy the subset, ingest it into an empty index, then encode the same passages with the model alone.

    With `compare_torch` (and a non-torch backend), the passages are also encoded by the model as shipped.
    """
    corpus, index_dir = fresh_copy(subset_dir, work_dir / "corpus"), work_dir / "index"
    _remove(index_dir)
    settings = Settings(corpus_dir=corpus, index_dir=index_dir)
    size = corpus_bytes(corpus)
    log(f"ingest: {corpus} ({size / 1e6:.1f} MB) into an empty index")
    load_before = load_average()
    started = time.perf_counter()
    report = ingest(settings, embedder)
    wall = time.perf_counter() - started
    texts, _ = stored_vectors(index_dir)
    log(f"ingest: {report.passages} passages in {wall:.1f} s; now the model-only floor on the same passages")
    started = time.perf_counter()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    floor = time.perf_counter() - started
    torch_floor = None
    if compare_torch and embedder.backend != "torch":  # the model as shipped: what the ONNX backend is meant to beat
        log(f"ingest: the same passages with the model as shipped (torch), to compare with {embedder.backend}")
        shipped = Settings(model=embedder.name, backend="torch").embedder()
        shipped.encode(["warm-up"])
        started = time.perf_counter()
        shipped.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        torch_floor = time.perf_counter() - started
        del shipped
    seconds = {name: round(value, 3) for name, value in report.seconds.items()}
    return {
        "corpus_dir": str(corpus),
        "index_dir": str(index_dir),
        "documents": report.documents,
        "passages": report.passages,
        "bytes": size,
        "mean_passage_chars": round(statistics.mean(len(t) for t in texts), 1),
        "seconds": seconds,
        "wall_s": round(wall, 3),
        "passages_per_s": round(report.passages / seconds["total"], 1),
        "mb_per_s": round(size / 1e6 / seconds["total"], 3),
        "backend": embedder.backend,
        "floor_s": round(floor, 3),
        "torch_floor_s": round(torch_floor, 3) if torch_floor else None,
        "total_over_torch_floor": round(seconds["total"] / torch_floor, 3) if torch_floor else None,
        "floor_passages_per_s": round(len(texts) / floor, 1),
        "total_over_floor": round(seconds["total"] / floor, 3),
        "embed_over_floor": round(seconds["embed"] / floor, 3),
        "index_bytes": index_bytes(index_dir),
        "load_average": {"before": load_before, "after": load_average()},
    }


def reingests(corpus: Path, index_dir: Path, embedder, cli_runs: int = 3) -> dict:
    """Re-ingest with nothing changed and with one file changed (then restore it), in-process and by CLI.

    The changed file is the corpus's first speech; a sentence is appended to it.
    """
    settings = Settings(corpus_dir=corpus, index_dir=index_dir)
    cli = [sys.executable, "-m", "assistant", "ingest", "--corpus", str(corpus), "--index", str(index_dir)]
    result: dict = {"documents": None, "passages": Index.load(index_dir).size}

    started = time.perf_counter()
    report = ingest(settings, embedder)
    result["unchanged"] = {"in_process_s": round(time.perf_counter() - started, 3), "up_to_date": report.up_to_date}
    result["documents"] = report.documents
    cli_times = [timed_run(cli, env=bench_env()) for _ in range(cli_runs)]
    result["unchanged"]["cli_s"] = [round(t, 3) for t in cli_times]
    result["unchanged"]["cli_median_s"] = round(statistics.median(cli_times), 3)

    target = sorted(Path(corpus).rglob("*.txt"))[0]
    original = target.read_bytes()
    try:
        target.write_bytes(original + CHANGE.encode())
        started = time.perf_counter()
        report = ingest(settings, embedder)
        result["one_changed"] = {
            "file": str(target.relative_to(corpus)),
            "in_process_s": round(time.perf_counter() - started, 3),
            "stages": {name: round(value, 3) for name, value in report.seconds.items()},
            "changed": len(report.changed),
        }
        target.write_bytes(original)  # changing it back is another one-file change, timed by CLI
        result["one_changed"]["cli_s"] = round(timed_run(cli, env=bench_env()), 3)
    finally:
        target.write_bytes(original)
    return result


def full_corpus_reingest(
    ungdc: Path, work_dir: Path, model: str, known_index: Path, embedder: SentenceTransformerEmbedder
) -> dict:
    """Re-ingest timings on a copy of the whole UN corpus (all files).

    Its index is built with placeholder vectors: the real ones for passages the subset
    index already has, seeded random unit vectors for the rest, because embedding every
    speech would not fit the time budget and re-ingest timings do not depend on vector
    values. The changed file is then embedded by the real model.
    """
    corpus = fresh_copy(ungdc, work_dir / "corpus")  # same content each run, so the cached index stays valid
    texts, vectors = stored_vectors(known_index)
    placeholder = ReusedVectorEmbedder(model, texts, vectors, unknown="random", backend=embedder.backend)
    log("re-ingest: indexing the whole UN corpus with placeholder vectors (cached)")
    build = build_index(corpus, work_dir / "index", "auto", placeholder, {"corpus": "ungdc-all"})
    result = reingests(corpus, work_dir / "index", embedder)
    result["placeholder_build"] = build
    result["bytes"] = corpus_bytes(corpus)
    return result


def _remove(path: Path) -> None:
    import shutil

    if path.exists():
        shutil.rmtree(path)
