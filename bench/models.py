"""MiniLM and multilingual-e5-small side by side on every labelled set (issue 19).

For each embedding model: every labelled set through `evaluate_labelled` (top-1, top-3, highlight, declines,
per mode), ingest time of the briefings test subset against that model's own floor (the model alone encoding
the same passages), and `ask()` p50 on the seed questions with and without the reranker.

    python -m bench.models                # the sets the tests use (about 40 min on 2 cores)
    python -m bench.models --full-year    # plus the whole 2021 briefings year (adds about 30 min)

Writes docs/models.json and docs/models.md. Indexes are cached under .bench/models/ (by model and set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import time
from pathlib import Path

from bench.measure import BENCH_DIR, REPO_ROOT, log

ZH = REPO_ROOT / "tests" / "data" / "zh"
BRIEFINGS = REPO_ROOT.parent / "shared" / "data" / "whitehouse-briefings-2021"
MODELS = ("minilm", "e5")
MODES = ("reranked", "hybrid", "dense", "keyword")
#: name: (corpus builder key, questions file, collection filter for the Chinese-over-English file)
SETS = {
    "seed": ("seed", REPO_ROOT / "tests" / "data" / "seed_questions.jsonl", None),
    "heldout": ("heldout", REPO_ROOT / "tests" / "data" / "heldout" / "questions.jsonl", None),
    "qa-heldout": ("qa-heldout", REPO_ROOT / "tests" / "data" / "qa-heldout" / "test" / "questions.jsonl", None),
    "briefings (test subset)": ("briefings", REPO_ROOT / "tests" / "data" / "briefings" / "questions.jsonl", None),
    "zh questions, seeds": ("seed", ZH / "questions-en-docs.jsonl", "seeds"),
    "zh questions, briefings": ("briefings", ZH / "questions-en-docs.jsonl", "briefings"),
    "zh questions, zh corpus": ("zh", ZH / "questions-zh-docs.jsonl", None),
}
#: Held out: nothing is fitted on these (bench/fit.py reads only the others).
HELD_OUT = {"heldout", "qa-heldout"}


def corpus_for(key: str, work: Path) -> Path:
    """The corpus folder a set is asked over (copied where it is assembled, read in place otherwise)."""
    if key == "seed":
        return REPO_ROOT / "corpus"
    if key == "heldout":
        return REPO_ROOT / "tests" / "data" / "heldout" / "corpus"
    if key == "qa-heldout":
        return REPO_ROOT / "tests" / "data" / "qa-heldout" / "test" / "corpus"
    if key == "zh":
        return ZH / "corpus"
    if key == "briefings":
        from bench.fit import briefings_subset

        target = work / "corpora" / "briefings-subset"
        if not target.is_dir():
            briefings_subset(target)
        return target
    if key == "briefings-2021":
        target = work / "corpora" / "briefings-2021"
        if not target.is_dir():
            shutil.copytree(BRIEFINGS, target, ignore=shutil.ignore_patterns("SOURCE.md", "README*"))
        return target
    raise KeyError(key)


def questions_for(path: Path, collection: str | None):
    from bench.fit import _labelled

    return _labelled(path, collection)


@contextlib.contextmanager
def every_meaning_match():
    """Search as before search.meaning_only_for_the_best: every hit whose cosine reaches the threshold a match."""
    import assistant.search as search

    kept = search.meaning_only_for_the_best
    search.meaning_only_for_the_best = lambda hits: hits
    try:
        yield
    finally:
        search.meaning_only_for_the_best = kept


def timed_ingest(corpus: Path, index: Path, settings_model: str, embedder) -> dict:
    """A fresh ingest into an empty index, then the model alone on the same passages (the floor)."""
    from assistant.config import Settings
    from assistant.ingest import ingest
    from bench.scaled import stored_vectors

    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    report = ingest(Settings(corpus_dir=corpus, index_dir=index, model=settings_model), embedder)
    wall = time.perf_counter() - started
    texts, _ = stored_vectors(index)
    started = time.perf_counter()
    embedder.encode(texts)  # the model with its passage prompt, sorted and batched as ingest does, nothing else
    floor = time.perf_counter() - started
    return {
        "passages": report.passages,
        "ingest_s": round(wall, 1),
        "floor_s": round(floor, 1),
        "ratio": round(wall / floor, 3),
    }


def ask_p50(engine, questions: list[str]) -> dict:
    """Median ask() seconds per mode over the questions (after one warm-up round)."""
    out = {}
    for mode in ("reranked", "hybrid"):
        for q in questions[:5]:
            engine.ask(q, mode=mode)
        times = []
        for q in questions:
            started = time.perf_counter()
            engine.ask(q, mode=mode)
            times.append(time.perf_counter() - started)
        out[mode] = round(statistics.median(times) * 1000, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-year", action="store_true", help="also the whole 2021 briefings year")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args(argv)

    from assistant.config import Settings, model_for
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled
    from bench.machine import describe_machine

    work = BENCH_DIR / "models"
    sets = dict(SETS)
    if args.full_year:
        sets["briefings (2021, whole year)"] = ("briefings-2021", SETS["briefings (test subset)"][1], None)
        sets["zh questions, briefings (whole year)"] = ("briefings-2021", ZH / "questions-en-docs.jsonl", "briefings")
    out_json = args.out_dir / "models.json"
    results = json.loads(out_json.read_text(encoding="utf-8")) if out_json.is_file() else {}
    results.update(
        {
            "machine": describe_machine(),
            "command": "python -m bench.models" + (" --full-year" if args.full_year else ""),
        }
    )
    results.setdefault("models", {})
    for name in args.models:
        model = model_for(name)
        embedder = Settings(model=model).embedder()
        embedder.encode(["warm-up"])
        row: dict = {"sets": {}}
        engines: dict[str, QuoteEngine] = {}
        for key in sorted({key for key, _, _ in sets.values()}):
            corpus, index = corpus_for(key, work), work / name / key / "index"
            if key == "briefings":
                log(f"{name}: timed ingest of the briefings test subset")
                row["ingest"] = timed_ingest(corpus, index, model, embedder)
            engines[key] = QuoteEngine.open(
                Settings(corpus_dir=corpus, index_dir=index, model=model), embedder=embedder, build=True
            )
        for set_name, (key, path, collection) in sets.items():
            log(f"{name}: {set_name}")
            report = evaluate_labelled(engines[key], questions_for(path, collection), modes=list(MODES))
            with every_meaning_match():  # before issue 22: every passage close in meaning counted as an answer
                before = evaluate_labelled(engines[key], questions_for(path, collection), modes=["reranked"])
            report["modes"]["reranked"]["non_answer_matches_before"] = before["modes"]["reranked"]["non_answer_matches"]
            row["sets"][set_name] = {
                "questions": report["questions"],
                "answerable": report["answerable"],
                "held_out": set_name in HELD_OUT,
                "modes": {m: {k: v for k, v in r.items() if k != "misses"} for m, r in report["modes"].items()},
            }
        seed_questions = [q.question for q in questions_for(SETS["seed"][1], None)]
        row["ask_p50_ms"] = ask_p50(engines["seed"], seed_questions)
        results["models"][name] = row
        args.out_dir.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out_dir / "models.md").write_text(render(results), encoding="utf-8")
    log(f"wrote {out_json} and models.md")
    return 0


def render(results: dict) -> str:
    """The side-by-side tables as Markdown."""
    models = results["models"]
    names = [m for m in MODELS if m in models]
    lines = [
        "# Embedding models side by side",
        "",
        f"`{results['command']}` on {results['machine'].get('cpu_model', 'this machine')}, "
        f"{results['machine'].get('cores', '?')} cores. Held-out sets: nothing is fitted on them.",
        "",
        "| set | mode | "
        + " | ".join(f"{n} top-1 | {n} top-3 | {n} highlight | {n} declined (ans. / unans.)" for n in names)
        + " |",
        "|---|---|" + "---|---|---|---|" * len(names),
    ]
    set_names = list(dict.fromkeys(s for n in names for s in models[n]["sets"]))
    for set_name in set_names:
        for mode in MODES:
            cells = []
            for n in names:
                r = models[n]["sets"].get(set_name, {}).get("modes", {}).get(mode)
                if r is None:
                    cells += ["", "", "", ""]
                    continue
                declined = (
                    f"{r['answerable_declined']} / {r['unanswerable_declined']}"
                    if r.get("answerable_declined") is not None
                    else ""
                )
                cells += [_f(r["top1"]), _f(r["top3"]), _f(r["highlight"]), declined]
            label = set_name + (" (held out)" if set_name in HELD_OUT else "")
            lines.append(f"| {label} | {mode} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Non-answers shown as matches, per question, in the first 5 quotes (reranked): before issue 22 (every passage "
        "close in meaning a match) → now (search.meaning_only_for_the_best).",
        "",
        "| set | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for set_name in set_names:
        cells = []
        for n in names:
            r = models[n]["sets"].get(set_name, {}).get("modes", {}).get("reranked", {})
            before, after = r.get("non_answer_matches_before"), r.get("non_answer_matches")
            cells.append("" if after is None else f"{before} → {after}")
        lines.append(f"| {set_name} | " + " | ".join(cells) + " |")
    lines += ["", "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for what, get in (
        (
            "briefings subset: ingest s (floor s, ratio)",
            lambda r: f"{r['ingest']['ingest_s']} ({r['ingest']['floor_s']}, {r['ingest']['ratio']}×)",
        ),
        ("ask() p50 ms, reranked", lambda r: str(r["ask_p50_ms"]["reranked"])),
        ("ask() p50 ms, hybrid (no reranker)", lambda r: str(r["ask_p50_ms"]["hybrid"])),
    ):
        lines.append(f"| {what} | " + " | ".join(get(models[n]) for n in names) + " |")
    return "\n".join(lines) + "\n"


def _f(value) -> str:
    return "" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
