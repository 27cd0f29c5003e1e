"""ask() latency and serving memory for one index, measured in a fresh child process.

Run as `python -m bench.latency --corpus DIR --index DIR --questions FILE [--rounds N]`;
it prints one BENCH-JSON line. The child opens the engine as the app does, warms up,
then for every question times embedding the question alone (the floor) and a full
`ask(question, top_k=5)` in the default mode (reranked when a reranker is configured),
and, for a breakdown, wraps the engine's parts (question encoding, FAISS search, BM25
keyword search, the unknown-word check, passage fetch, the reranker model, word stemming
for highlights, and the extra encoding that `_sentence_scores` does for highlights) in
timers. Hybrid without the model, dense and keyword modes are timed one round each. Peak resident
memory is the child's ru_maxrss after all of it: model, index and queries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench.measure import bench_env, current_rss_mib, emit_json, peak_rss_mib, percentiles, run_json_child

TOP_K = 5
WARM_UP = 5


def measure_index(corpus: Path, index: Path, questions_file: Path, rounds: int) -> dict:
    """Run the child on one index and return its report (see module docstring)."""
    argv = [sys.executable, "-m", "bench.latency", "--corpus", str(corpus), "--index", str(index)]
    argv += ["--questions", str(questions_file), "--rounds", str(rounds)]
    return run_json_child(argv, env=bench_env())


def serve_and_time(engine, questions: list[str], rounds: int) -> dict:
    """Time the floor and ask() for each question `rounds` times, plus one round of dense and keyword mode."""
    parts = _instrument(engine)
    encode = parts.pop("_original_encode")
    for question in questions[:WARM_UP]:
        engine.ask(question, top_k=TOP_K)
    floor, asked, breakdown, highlight_calls = [], [], defaultdict(list), 0
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            encode([question])
            floor.append(time.perf_counter() - started)
            parts["timers"].clear()
            started = time.perf_counter()
            engine.ask(question, top_k=TOP_K)
            total = time.perf_counter() - started
            asked.append(total)
            timers = dict(parts["timers"])
            highlight_calls += "highlight_encode" in timers
            timers["question_encode"] = timers.pop("encode", 0.0) - timers.get("highlight_encode", 0.0)
            timers["other"] = total - sum(timers.values())
            for name, seconds in timers.items():
                breakdown[name].append(seconds)
    modes = {}
    for mode in ("hybrid", "dense", "keyword"):
        samples = []
        for question in questions:
            started = time.perf_counter()
            engine.ask(question, top_k=TOP_K, mode=mode)
            samples.append(time.perf_counter() - started)
        modes[mode] = percentiles(samples)
    names = ["question_encode", "dense_search", "keyword_search", "unknown_words", "fetch_passages", "stemming"]
    names += ["highlight_encode", "rerank_model", "other"]
    return {
        "floor": percentiles(floor),
        "ask": percentiles(asked),
        "mode": engine.searcher.default_mode,
        **modes,
        "breakdown_mean_ms": {
            name: round(1000 * sum(breakdown[name]) / len(asked), 2) for name in names if name in breakdown
        },
        "asks_with_highlight_encode": f"{highlight_calls}/{len(asked)}",
    }


def _instrument(engine) -> dict:
    """Wrap engine parts in timers (instance attributes only; the engine's code is untouched)."""
    timers: dict[str, float] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timers[name] = timers.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    original_encode = engine.embedder.encode_queries  # the floor: the question embedded alone
    engine.embedder.encode = timed("encode", engine.embedder.encode)
    engine.embedder.encode_queries = timed("encode", original_encode)
    engine._sentence_scores = timed("highlight_encode", engine._sentence_scores)
    engine.searcher._dense = timed("dense_search", engine.searcher._dense)
    engine.searcher._keyword = timed("keyword_search", engine.searcher._keyword)
    engine.store.passages = timed("fetch_passages", engine.store.passages)
    if engine.reranker is not None:
        engine.reranker.score = timed("rerank_model", engine.reranker.score)
    if hasattr(engine.searcher, "_unknown_words"):  # the one place the question's words are looked up
        engine.searcher._unknown_words = timed("unknown_words", engine.searcher._unknown_words)
    import assistant.answer

    if hasattr(assistant.answer, "stem"):  # highlight scoring stems every word of every quoted sentence
        assistant.answer.stem = timed("stemming", assistant.answer.stem)
    return {"timers": timers, "_original_encode": original_encode}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True, help="a JSON list of questions")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    rss_start = current_rss_mib()
    started = time.perf_counter()
    from assistant.config import Settings
    from assistant.engine import QuoteEngine

    engine = QuoteEngine.open(Settings(corpus_dir=args.corpus, index_dir=args.index))
    engine.embedder.encode(["warm-up"])  # load the model now, as the app does
    opened = time.perf_counter() - started
    rss_open = current_rss_mib()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    result = serve_and_time(engine, questions, args.rounds)
    emit_json(
        {
            "passages": engine.store.size,
            "index_kind": engine.store.manifest.get("index_kind"),
            "open_s": round(opened, 3),
            "rss_mib": {"start": rss_start, "after_open": rss_open, "peak": peak_rss_mib()},
            **result,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
