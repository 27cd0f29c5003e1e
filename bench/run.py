"""`python -m bench.run`: every benchmark in one run, written to docs/benchmarks.{md,json} and docs/latency.png.

Sections, in order: ingest (fresh ingest of a subset of the UN speeches by stage,
the model-only floor, re-ingests), reingest_all (re-ingest of the whole UN corpus),
latency (ask() at ~2k, ~20k, ~200k passages, flat and HNSW, with memory), check (check() of
quotations at the largest size, on the latency section's index), briefings (a fresh ingest of
the 365 2021 press briefings against its model-only floor, then the labelled briefings set on that
index, every mode), app (CLI
cold start and, when app.py works, the Streamlit app in a browser), peer (the
LangChain tutorial stack), onnx (the ONNX backend) and stores (the embedded index and PostgreSQL side
by side at 200,000 and 2,000,000 passages, then the same answers on every labelled set: bench/stores.py
and bench/store_parity.py, about 90 minutes more). `--quick` runs a small subset to check that
everything works; the default without stores (`--skip stores`) fits ~40 minutes on 2 cores. Built
indexes, corpus copies and the extra environments are cached under .bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.corpora import (
    UN_QUESTIONS,
    all_speeches,
    choose_subset,
    copy_subset,
    corpus_bytes,
    leading_files,
    repeated_corpus,
    subset_key,
    ungdc_root,
)
from bench.measure import BENCH_DIR, REPO_ROOT, BenchError, MachineLoad, log, wait_until_quiet

SECTIONS = ("ingest", "reingest_all", "latency", "check", "briefings", "readers", "app", "peer", "onnx", "stores")
BRIEFINGS = REPO_ROOT.parent / "shared" / "data" / "whitehouse-briefings-2021"
BRIEFINGS_QUESTIONS = REPO_ROOT / "tests" / "data" / "briefings" / "questions.jsonl"
DEFAULT_FILES = 646  # every third speech: ~20,000 passages, embedded in ~6 minutes here
QUICK_FILES = 200
SEED_CORPUS = REPO_ROOT / "corpus"
SEED_QUESTIONS = REPO_ROOT / "tests" / "data" / "seed_questions.jsonl"
HELDOUT = REPO_ROOT / "tests" / "data" / "heldout"
QA_HELDOUT = REPO_ROOT / "tests" / "data" / "qa-heldout" / "test"
#: The labelled sets quality is measured on: the seed set (the threshold is calibrated on it) and
#: the held-out set written blind to the retrieval code (tests/data/heldout/README.md).
LABELLED_SETS = {
    "seed": (SEED_CORPUS, SEED_QUESTIONS),
    "heldout": (HELDOUT / "corpus", HELDOUT / "questions.jsonl"),
    # Held-out slices of the reranker's training data (training/eval_sets.py), the half nothing is fitted on.
    "qa-heldout": (QA_HELDOUT / "corpus", QA_HELDOUT / "questions.jsonl"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    if args.render_only:
        write_outputs(_previous(args.out_dir), args.out_dir)
        return 0
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    selected = [s for s in (args.only or SECTIONS) if s not in (args.skip or [])]
    results = _previous(args.out_dir) if args.only else {}
    try:
        results = run(args, selected, results)
        results["run"]["command"] = " ".join(["python -m bench.run", *argv])
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    results["run"]["wall_s"] = round(time.perf_counter() - started, 1)
    write_outputs(results, args.out_dir)
    log(f"done in {results['run']['wall_s'] / 60:.1f} min: {args.out_dir / 'benchmarks.md'}")
    return 0


def run(args, selected: list[str], results: dict) -> dict:
    """Run the selected sections; results of sections not run are kept from `results`."""
    # Import the whole engine now: its files may be edited while a long run goes on, and
    # a lazy import later would mix versions in this process.
    import assistant.engine
    import assistant.evaluate  # noqa: F401
    from assistant.config import default_model
    from bench.ingest_speed import load_model
    from bench.machine import describe_machine, engine_source_hash

    BENCH_DIR.mkdir(exist_ok=True)
    root = ungdc_root(REPO_ROOT)
    files = all_speeches(root)
    subset = choose_subset(files, args.files)
    key = subset_key(root, subset)
    if results.get("corpus", {}).get("key") not in (None, key):
        raise BenchError("--only needs the same subset as the previous run (use the same --files/--quick)")
    subset_dir = copy_subset(root, subset, BENCH_DIR / "corpora" / f"ungdc-{len(subset)}-{key}")
    questions_file = BENCH_DIR / "un-questions.json"
    questions_file.write_text(json.dumps(UN_QUESTIONS), encoding="utf-8")
    results["machine"] = describe_machine()
    results["run"] = {
        "sections": selected,
        "all_sections": list(SECTIONS),
        "quick": args.quick,
        "rounds": args.rounds,
        "sizes": args.sizes,
    }
    results["corpus"] = _describe_subset(root, files, subset, key, subset_dir)
    model = default_model()
    embedder, model_load = load_model(model)
    ctx = {
        "root": root,
        "key": key,
        "subset": subset,
        "subset_dir": subset_dir,
        "model": model,
        "embedder": embedder,
        "model_load_s": model_load,
        "questions_file": questions_file,
        "args": args,
    }
    ctx["work"] = BENCH_DIR / "runs" / f"ingest-{key}"  # the subset's copy and index, which later sections use
    if "ingest" not in selected:
        _ensure_base_index(ctx)
    for section in SECTIONS:
        if section in selected:
            results[section] = _timed_section(section, ctx, args)
            _checkpoint(results, args.out_dir)
    results["run"]["engine_source_sha256_end"] = engine_source_hash()
    return results


def _checkpoint(results: dict, out_dir: Path) -> None:
    """Save the results so far, so a failed run can be finished with --only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")


def _timed_section(section: str, ctx: dict, args) -> dict:
    """Wait for a quiet machine, run one section, and note how busy other processes kept the CPU."""
    quiet = wait_until_quiet(max_wait_s=args.quiet_wait)
    log(f"section {section} (other processes used {quiet} cores just before)")
    with MachineLoad() as load:
        try:
            result = SECTION_RUNNERS[section](ctx, args)
        except Exception as error:  # an optional section's failure is reported, not fatal
            if section in ("ingest", "latency"):
                raise
            log(f"section {section} failed: {error!r}")
            result = {"error": f"{type(error).__name__}: {error}"}
    result["section"] = {"wall_s": load.wall_s, "others_cpu_cores": load.others_cores, "others_before": quiet}
    return result


def _ingest(ctx: dict, args) -> dict:
    from bench.ingest_speed import fresh_ingest, reingests

    result = fresh_ingest(ctx["subset_dir"], ctx["work"], ctx["embedder"])
    result["model_load_s"] = round(ctx["model_load_s"], 3)
    log("ingest: re-ingests of the subset")
    result["reingest"] = reingests(ctx["work"] / "corpus", ctx["work"] / "index", ctx["embedder"])
    return result


def _briefings(ctx: dict, args) -> dict:
    """The whole year of briefings: ingest against the floor, then the labelled set on that index."""
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled, load_labelled
    from bench.ingest_speed import fresh_ingest

    if not BRIEFINGS.is_dir():
        raise BenchError(f"no briefings at {BRIEFINGS}")
    work, transcripts = BENCH_DIR / "runs" / "briefings", BENCH_DIR / "corpora" / "briefings-2021"
    if not transcripts.is_dir():  # the transcripts only, not the folder's SOURCE.md
        shutil.copytree(BRIEFINGS, transcripts, ignore=shutil.ignore_patterns("SOURCE.md"))
    result = fresh_ingest(transcripts, work, ctx["embedder"], compare_torch=False)
    log("briefings: the labelled set on the whole year, every mode")
    engine = QuoteEngine.open(Settings(corpus_dir=work / "corpus", index_dir=work / "index"), embedder=ctx["embedder"])
    started = time.perf_counter()
    report = evaluate_labelled(engine, load_labelled(BRIEFINGS_QUESTIONS))
    result["quality"] = {
        "questions": str(BRIEFINGS_QUESTIONS.relative_to(REPO_ROOT)),
        "answerable": report["answerable"],
        "unanswerable": report["questions"] - report["answerable"],
        "oracle_top1": report.get("better_baseline_top1"),
        "modes": {
            mode: {k: v for k, v in row.items() if not k.startswith("_")} for mode, row in report["modes"].items()
        },
        "wall_s": round(time.perf_counter() - started, 1),
    }
    return result


def _ensure_base_index(ctx: dict) -> None:
    """Without the ingest section, reuse the subset's index from an earlier run, or build it untimed."""
    from assistant.config import Settings
    from assistant.ingest import ingest, is_stale
    from bench.corpora import fresh_copy

    corpus, index = ctx["work"] / "corpus", ctx["work"] / "index"
    if not corpus.is_dir():
        fresh_copy(ctx["subset_dir"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index)
    if is_stale(settings, ctx["embedder"]):
        log("the subset's index is missing or stale: building it (not timed)")
        ingest(settings, ctx["embedder"])


def _reingest_all(ctx: dict, args) -> dict:
    from bench.ingest_speed import full_corpus_reingest

    return full_corpus_reingest(
        ctx["root"], BENCH_DIR / "runs" / "reingest-all", ctx["model"], ctx["work"] / "index", ctx["embedder"]
    )


def _latency(ctx: dict, args) -> dict:
    """Build (or reuse) an index per size and kind, then time each in a fresh child process."""
    from bench.latency import measure_index
    from bench.scaled import index_bytes

    configs = []
    for target in args.sizes:
        plan = _size_plan(ctx, target)
        for kind in ("flat", "hnsw"):
            corpus, index, build = _build_for(ctx, plan, kind)
            log(f"latency: {plan['name']} {kind} ({build['passages']} passages)")
            measured = measure_index(corpus, index, ctx["questions_file"], args.rounds)
            sizes = index_bytes(index)
            configs.append(
                {
                    "target": target,
                    "corpus": plan["name"],
                    "how": plan["how"],
                    "kind": kind,
                    "passages": measured["passages"],
                    "build": build,
                    "index_bytes": sizes,
                    "bytes_per_passage": {k: round(v / measured["passages"], 1) for k, v in sizes.items()},
                    **measured,
                }
            )
    return {"configs": configs, "questions": len(UN_QUESTIONS), "rounds": args.rounds, "top_k": 5}


def _check(ctx: dict, args) -> dict:
    """check() latency at the largest size, with the index kind `auto` picks there (the latency section's build)."""
    from assistant.config import Settings
    from bench.check_speed import measure_index

    target = max(args.sizes)
    plan = _size_plan(ctx, target)
    kind = "hnsw" if target > Settings().approximate_above else "flat"
    corpus, index, build = _build_for(ctx, plan, kind)
    log(f"check: {plan['name']} {kind} ({build['passages']} passages)")
    count = 10 if args.quick else 25
    return {"target": target, "corpus": plan["name"], "how": plan["how"], **measure_index(corpus, index, count, 2)}


def _size_plan(ctx: dict, target: int) -> dict:
    """How to reach about `target` passages: the subset itself, its first files, or repeats of it."""
    from assistant.index import Index

    index = Index.load(ctx["work"] / "index")
    counts = {info.doc_id: info.passage_count for info in index.documents()}
    total = index.size
    index.close()
    if 0.8 * total <= target <= 1.25 * total:
        return {"name": "subset", "corpus": ctx["work"] / "corpus", "how": "the subset as ingested", "copies": 1}
    if target < total:
        taken, count = [], 0
        for relative in ctx["subset"]:
            taken.append(relative)
            count += counts.get(relative.with_suffix("").as_posix(), 0)
            if count >= target:
                break
        corpus = leading_files(
            ctx["subset_dir"], taken, BENCH_DIR / "corpora" / f"ungdc-{ctx['key']}-first{len(taken)}"
        )
        how = f"the first {len(taken)} speeches of the subset; vectors reused from the subset's index"
        return {"name": f"first{len(taken)}", "corpus": corpus, "how": how, "copies": 1}
    copies = max(2, round(target / total))
    corpus = repeated_corpus(ctx["subset_dir"], copies, BENCH_DIR / "corpora" / f"ungdc-{ctx['key']}-x{copies}")
    how = (
        f"the subset repeated {copies} times (copy-00 to copy-{copies - 1:02d}); copy-00 keeps the real vectors, "
        "every repeat gets the real vector plus Gaussian noise (sigma 0.005 per dimension), re-normalised"
    )
    return {"name": f"x{copies}", "corpus": corpus, "how": how, "copies": copies}


def _build_for(ctx: dict, plan: dict, kind: str) -> tuple[Path, Path, dict]:
    """The index for a plan and kind: the ingested subset itself, or a cached build with reused vectors."""
    from assistant.index import Index
    from bench.scaled import ReusedVectorEmbedder, build_index, stored_vectors

    base = ctx["work"] / "index"
    loaded = Index.load(base)
    base_kind, base_size = loaded.manifest["index_kind"], loaded.size
    loaded.close()
    if plan["name"] == "subset" and base_kind == kind:
        return plan["corpus"], base, {"passages": base_size, "reused": True, "real_ingest": True}
    texts, vectors = stored_vectors(base)
    embedder = ReusedVectorEmbedder(ctx["model"], texts, vectors, backend=ctx["embedder"].backend)
    index = BENCH_DIR / "indexes" / f"ungdc-{ctx['key']}-{plan['name']}-{kind}"
    build = build_index(plan["corpus"], index, kind, embedder, {"corpus": plan["name"], "subset": ctx["key"]})
    return plan["corpus"], index, build


def _app(ctx: dict, args) -> dict:
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.evaluate import load_labelled
    from bench.app_start import browser_answers, cli_cold_start

    question = UN_QUESTIONS[0]
    result = {"question": question}
    log("app: CLI cold start on the subset's index")
    result["cli_subset"] = cli_cold_start(ctx["work"] / "corpus", ctx["work"] / "index", question)
    seed_index = BENCH_DIR / "indexes" / "seed"
    QuoteEngine.open(Settings(corpus_dir=SEED_CORPUS, index_dir=seed_index), embedder=ctx["embedder"], build=True)
    log("app: CLI cold start on the seed corpus")
    result["cli_seed"] = cli_cold_start(SEED_CORPUS, seed_index, "What is China's position on the planned event?")
    if args.skip_browser:
        result["browser"] = result["browser_seed"] = {"skipped": "--skip-browser"}
        return result
    log("app: Streamlit in headless Chromium, subset index")
    result["browser"] = browser_answers(
        REPO_ROOT / "app.py", ctx["work"] / "corpus", ctx["work"] / "index", UN_QUESTIONS
    )
    log("app: Streamlit in headless Chromium, seed corpus")
    seed_questions = [q.question for q in load_labelled(SEED_QUESTIONS)]
    result["browser_seed"] = browser_answers(REPO_ROOT / "app.py", SEED_CORPUS, seed_index, seed_questions)
    return result


def _peer(ctx: dict, args) -> dict:
    from bench.peer_langchain import run_peer

    log("peer: LangChain tutorial stack (build, serve, quality)")
    store = BENCH_DIR / "peer" / f"store-{ctx['key']}"
    store.parent.mkdir(parents=True, exist_ok=True)
    peer = run_peer(ctx["work"] / "corpus", store, ctx["questions_file"], LABELLED_SETS, args.rounds)
    return {"peer": peer, "ours_serve": _ours_on_subset(ctx, args), "ours_quality": our_quality(ctx["embedder"])}


def _ours_on_subset(ctx: dict, args) -> dict:
    """Our ask() on the same index the peer was compared on: the subset's, as ingested (new child process)."""
    from bench.latency import measure_index

    log("peer: our ask() on the subset's index, for the comparison")
    return measure_index(ctx["work"] / "corpus", ctx["work"] / "index", ctx["questions_file"], args.rounds)


def our_quality(embedder) -> dict:
    """Per labelled set: our answer-in-top-1 by the peer's rule, and evaluate_labelled for us and the baselines."""
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled, load_labelled

    results = {}
    for name, (corpus, questions) in LABELLED_SETS.items():
        engine = QuoteEngine.open(
            Settings(corpus_dir=corpus, index_dir=BENCH_DIR / "indexes" / name), embedder=embedder, build=True
        )
        labelled = load_labelled(questions)
        answerable = [q for q in labelled if q.answerable]
        top1 = top3 = 0
        for question in answerable:
            quotes = engine.ask(question.question, top_k=3).quotes
            top1 += bool(quotes) and question.answer in quotes[0].text
            top3 += any(question.answer in quote.text for quote in quotes)
        report = evaluate_labelled(engine, labelled)
        results[name] = {
            "answerable": len(answerable),
            "unanswerable": len(labelled) - len(answerable),
            "answer_in_top1": top1,
            "answer_in_top3": top3,
            "top1_rate": round(top1 / len(answerable), 4),
            "top3_rate": round(top3 / len(answerable), 4),
            "better_baseline_top1": report.get("better_baseline_top1"),
            "shipped": report.get("shipped"),
            "evaluate_labelled": {
                mode: {k: v for k, v in r.items() if k != "misses"} for mode, r in report["modes"].items()
            },
        }
    return results


def _onnx(ctx: dict, args) -> dict:
    from bench.onnx_backend import run_onnx
    from bench.scaled import stored_vectors

    texts, _ = stored_vectors(ctx["work"] / "index")
    sample = args.onnx_sample
    chosen = [texts[(i * len(texts)) // sample] for i in range(min(sample, len(texts)))]
    passages_file = BENCH_DIR / "onnx-passages.json"
    passages_file.write_text(json.dumps(chosen), encoding="utf-8")
    log(f"onnx: export, quantise, measure on {len(chosen)} passages")
    return run_onnx(
        passages_file, ctx["questions_file"], SEED_CORPUS, SEED_QUESTIONS, ctx["work"] / "corpus", ctx["work"] / "index"
    )


def _readers(ctx: dict, args) -> dict:
    """The shipped question–sentence model on every labelled set, the claims sets included, reading statements as
    statements and as questions (bench/readers.py, in a child process, writing docs/readers.{md,json}; with the
    whole briefings year unless --quick), shown in benchmarks.md."""
    command = [sys.executable, "-m", "bench.readers", "--out-dir", str(args.out_dir)]
    command += [] if args.quick else ["--full-year"]
    log("readers: the shipped question–sentence model on every labelled set, statements read both ways")
    completed = subprocess.run(command, cwd=REPO_ROOT, env=os.environ.copy())
    if completed.returncode:
        raise BenchError(f"{' '.join(command[1:])} exited with {completed.returncode}")
    return {
        "command": " ".join(["python", *command[1:]]),
        "readers": json.loads((args.out_dir / "readers.json").read_text(encoding="utf-8")),
    }


def _stores(ctx: dict, args) -> dict:
    """Both stores side by side (bench/stores.py: ingest rate, ask() p50, recall@20, replica RSS at each size),
    then the same answers on every labelled set (bench/store_parity.py) and PostgreSQL's recall by ef_search
    on real vectors (bench/ef_sweep.py); each in a child process, writing docs/stores.{md,json},
    docs/store_parity.{md,json} and docs/ef_sweep.{md,json}, shown in benchmarks.md."""
    sizes = [str(size) for size in args.stores_sizes]
    log(f"stores: embedded index and PostgreSQL at {', '.join(sizes)} passages")
    commands = {
        "stores": [sys.executable, "-m", "bench.stores", "--sizes", *sizes, "--out", str(args.out_dir / "stores.json")],
        "store_parity": [sys.executable, "-m", "bench.store_parity", "--out-dir", str(args.out_dir)],
        "ef_sweep": [sys.executable, "-m", "bench.ef_sweep", "--out-dir", str(args.out_dir)],
    }
    result = {"commands": {name: " ".join(["python", *command[1:]]) for name, command in commands.items()}}
    for name, command in commands.items():
        if name != "stores" and args.quick:
            continue
        completed = subprocess.run(command, cwd=REPO_ROOT, env=os.environ.copy())
        if completed.returncode:
            raise BenchError(f"{' '.join(command[1:])} exited with {completed.returncode}")
        result[name] = json.loads((args.out_dir / f"{name}.json").read_text(encoding="utf-8"))
    return result


SECTION_RUNNERS = {
    "ingest": _ingest,
    "check": _check,
    "briefings": _briefings,
    "reingest_all": _reingest_all,
    "latency": _latency,
    "app": _app,
    "peer": _peer,
    "onnx": _onnx,
    "readers": _readers,
    "stores": _stores,
}


def _describe_subset(root: Path, files: list[Path], subset: list[Path], key: str, subset_dir: Path) -> dict:
    sessions: dict[str, int] = {}
    for relative in subset:
        sessions[relative.parts[0]] = sessions.get(relative.parts[0], 0) + 1
    return {
        "location": "../shared/data/ungdc/speeches_2015-2024",
        "all_files": len(files),
        "all_bytes": sum((root / f).stat().st_size for f in files),
        "subset_files": len(subset),
        "subset_bytes": corpus_bytes(subset_dir),
        "selection": f"files[(i * {len(files)}) // {len(subset)}] for i in range({len(subset)}) over the sorted paths",
        "per_session": sessions,
        "first_files": [f.as_posix() for f in subset[:3]],
        "key": key,
    }


def _previous(out_dir: Path) -> dict:
    path = out_dir / "benchmarks.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_outputs(results: dict, out_dir: Path) -> None:
    """docs/benchmarks.json, docs/latency.png and docs/benchmarks.md."""
    from bench.plot import plot_latency
    from bench.report import render_markdown, targets

    out_dir.mkdir(parents=True, exist_ok=True)
    results["targets"] = targets(results)
    configs = results.get("latency", {}).get("configs", [])
    results["plot_skipped"] = plot_latency(configs, out_dir / "latency.png") if configs else "no latency results"
    (out_dir / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    (out_dir / "benchmarks.md").write_text(render_markdown(results), encoding="utf-8")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The options, with the defaults that depend on --quick filled in."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"a quick check: {QUICK_FILES} speeches, sizes 2000 and 20000, 2 rounds"
    )
    parser.add_argument("--files", type=int, help=f"speeches in the subset (default {DEFAULT_FILES} of 1,938)")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="passage counts for the latency runs (default 2000,20000,200000)",
    )
    parser.add_argument("--rounds", type=int, help="times each question is asked per index (default 3)")
    parser.add_argument("--only", type=lambda s: s.split(","), help=f"run only these sections: {','.join(SECTIONS)}")
    parser.add_argument("--skip", type=lambda s: s.split(","), help="sections to leave out")
    parser.add_argument("--skip-browser", action="store_true", help="leave out the Streamlit browser timing")
    parser.add_argument("--onnx-sample", type=int, help="passages for the ONNX speed test (default 2000)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=90,
        help="seconds to wait for other processes to go quiet before each section",
    )
    parser.add_argument(
        "--stores-sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        help="passage counts for the two stores side by side (default 200000,2000000; --quick 20000)",
    )
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--render-only", action="store_true", help="rewrite the page and plot from benchmarks.json")
    args = parser.parse_args(argv)
    for name in (args.only or []) + (args.skip or []):
        if name not in SECTIONS:
            parser.error(f"unknown section '{name}'; sections are {', '.join(SECTIONS)}")
    args.files = args.files or (QUICK_FILES if args.quick else DEFAULT_FILES)
    args.sizes = args.sizes or ([2000, 20000] if args.quick else [2000, 20000, 200000])
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.onnx_sample = args.onnx_sample or (500 if args.quick else 2000)
    args.stores_sizes = args.stores_sizes or ([20000] if args.quick else [200000, 2000000])
    return args


if __name__ == "__main__":
    sys.exit(main())
