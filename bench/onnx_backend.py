"""The embedding backends compared: torch (the model as shipped), onnx and onnx-int8.

Each is the engine's own embedder (`Settings(backend=...).embedder()`, assistant/embedding.py):
the ONNX ones are exported from the bundled model into .bench/onnx-model and, for int8,
dynamically quantised with the config this CPU supports. Run in a child process of
.venv. For each backend it measures: passages per second on a sample of the corpus's
passages, the time to embed one question, agreement with the torch vectors (cosine),
top-1 on the labelled seed questions through our engine (a seed index built with that
backend), and ask() latency on the subset's UN index (the question embedded by the
backend; the index's vectors are the engine default's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.measure import BENCH_DIR, bench_env, emit_json, percentiles, run_json_child

WORK = BENCH_DIR / "onnx-model"
BACKENDS = ("torch", "onnx", "onnx-int8")


def run_onnx(passages_file: Path, questions_file: Path, seed_corpus: Path, labelled: Path, corpus: Path, index: Path):
    """Run the measurements in a fresh process; returns their report."""
    argv = [sys.executable, "-m", "bench.onnx_backend", "--passages", str(passages_file), "--questions"]
    argv += [str(questions_file), "--seed-corpus", str(seed_corpus), "--labelled", str(labelled)]
    argv += ["--corpus", str(corpus), "--index", str(index)]
    return run_json_child(argv, env=bench_env(), timeout=3600)


def _measure(args) -> dict:
    from assistant.config import Settings
    from assistant.embedding import int8_config
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled, load_labelled
    from bench.latency import serve_and_time

    texts = json.loads(args.passages.read_text(encoding="utf-8"))
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    labelled = load_labelled(args.labelled)
    results, reference = {}, None
    for name in BACKENDS:
        embedder = Settings(backend=name, model_cache=WORK).embedder()
        started = time.perf_counter()
        embedder.encode(["warm-up"])
        load = time.perf_counter() - started
        started = time.perf_counter()
        vectors = embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        encode = time.perf_counter() - started
        floor = []
        for question in questions * 2:
            started = time.perf_counter()
            embedder.encode_queries([question])
            floor.append(time.perf_counter() - started)
        reference = vectors if reference is None else reference
        cosine = np.sum(vectors * reference, axis=1)
        seed = QuoteEngine.open(
            Settings(corpus_dir=args.seed_corpus, index_dir=WORK / f"seed-index-{name}"),
            embedder=embedder,
            build=True,
        )
        quality = evaluate_labelled(seed, labelled, modes=("hybrid", "dense"))
        engine = QuoteEngine.open(Settings(corpus_dir=args.corpus, index_dir=args.index), embedder=embedder)
        served = serve_and_time(engine, questions, rounds=2)
        results[name] = {
            "label": embedder.backend,
            "load_s": round(load, 2),
            "passages": len(texts),
            "encode_s": round(encode, 2),
            "passages_per_s": round(len(texts) / encode, 1),
            "question": percentiles(floor),
            "cosine_to_torch": {"mean": round(float(cosine.mean()), 5), "min": round(float(cosine.min()), 5)},
            "labelled": {mode: {k: v for k, v in r.items() if k != "misses"} for mode, r in quality["modes"].items()},
            "ask_subset": {"hybrid": served["hybrid"], "floor": served["floor"], "passages": engine.store.size},
        }
    torch_rate = results["torch"]["passages_per_s"]
    for result in results.values():
        result["speedup_vs_torch"] = round(result["passages_per_s"] / torch_rate, 2)
    return {"export": {"int8_config": int8_config()}, "backends": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the embedding backends.")
    for option in ("--passages", "--questions", "--seed-corpus", "--labelled", "--corpus", "--index"):
        parser.add_argument(option, type=Path, required=True)
    emit_json(_measure(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
