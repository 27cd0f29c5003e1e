"""Question–sentence models ("readers") side by side on every labelled set, the claims set included (issue 20).

For each model folder: every labelled set through `evaluate_labelled` with the default dense model
(multilingual-e5-small): top-1, top-3, highlight, speaker, declines, non-answers shown as matches, for the
reranked order and for hybrid without a model (the baseline a model must beat). The claims set
(tests/data/claims: claims and half-remembered quotations typed in instead of questions) is asked over the
seeds plus its 23 briefings; the held-out claims (tests/data/claims-heldout, written blind after the statement
rule was fitted on the first) over the UN held-out speeches plus its 14 briefings.

    python -m bench.readers        # the shipped model, reading statements as questions and as statements
    python -m bench.readers --readers previous=git:COMMIT shipped=models/qa-reranker   # a past model from git
    python -m bench.readers --readers "questions-only=models/qa-reranker@1"   # statements weighted as questions
    python -m bench.readers --full-year   # plus the whole 2021 briefings year (about 30 min more)

Writes docs/readers.json and docs/readers.md. Indexes are cached under .bench/readers/ (one per set; the dense
model is the same for every reader, so one index serves them all).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from bench.measure import BENCH_DIR, REPO_ROOT, BenchError, log
from bench.models import BRIEFINGS, HELD_OUT, SETS, ZH, corpus_for, questions_for

CLAIMS = REPO_ROOT / "tests" / "data" / "claims" / "claims.jsonl"
MODES = ("reranked", "hybrid")
CLAIMS_HELD_OUT = REPO_ROOT / "tests" / "data" / "claims-heldout" / "claims.jsonl"
READER_SETS = {
    **SETS,
    "claims (seeds and 23 briefings)": ("claims", CLAIMS, None),
    "claims held out (UN speeches and 14 briefings)": ("claims-heldout", CLAIMS_HELD_OUT, None),
}
HELD_OUT_SETS = HELD_OUT | {"claims held out (UN speeches and 14 briefings)"}
SHIPPED = str(REPO_ROOT / "models" / "qa-reranker")
#: The shipped model as it reads a statement (search.STATEMENT_WEIGHT) and as it read one before: like a question.
DEFAULT_READERS = {"questions-only": f"{SHIPPED}@1", "shipped": SHIPPED}


def reader_folder(spec: str, work: Path) -> str:
    """A reader's model folder: `spec` itself, or for `git:COMMIT` models/qa-reranker as committed there,
    extracted once under work/. Raises BenchError without the repository's history."""
    if not spec.startswith("git:"):
        return spec
    commit = spec.removeprefix("git:")
    target = work / "models" / commit
    if not (target / "qa-reranker" / "model.onnx").is_file():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", commit, "models/qa-reranker"], capture_output=True, check=False
        )
        if archive.returncode:
            raise BenchError(f"cannot read models/qa-reranker at {commit}: {archive.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target / "extract", filter="data")
        shutil.rmtree(target / "qa-reranker", ignore_errors=True)
        (target / "extract" / "models" / "qa-reranker").rename(target / "qa-reranker")
    return str(target / "qa-reranker")


def claims_collection(work: Path, name: str, claims: Path, base: Path, base_at: str = "") -> Path:
    """A claims set's collection under work/corpora/name: the folder `base` (copied to `base_at` inside it) and
    the briefings its claims are about, copied byte for byte; built once, renamed into place when complete."""
    target = work / "corpora" / name
    if target.is_dir():
        return target
    staging = target.with_name(f"{name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(base, staging / base_at)
    for line in claims.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("collection") == "briefings" and row.get("path"):
            (staging / "briefings" / row["path"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(BRIEFINGS / row["path"], staging / "briefings" / row["path"])
    staging.rename(target)
    return target


def _corpus(key: str, work: Path) -> Path:
    if key == "claims":  # the seeds and the 23 briefings of tests/data/claims
        return claims_collection(work, "claims", CLAIMS, REPO_ROOT / "corpus")
    if key == "claims-heldout":  # the 16 UN held-out speeches and the 14 briefings the training held out
        return claims_collection(work, "claims-heldout", CLAIMS_HELD_OUT, REPO_ROOT / "tests/data/heldout/corpus", "un")
    return corpus_for(key, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--readers",
        nargs="+",
        default=[f"{k}={v}" for k, v in DEFAULT_READERS.items()],
        help="NAME=FOLDER[@STATEMENT_WEIGHT] ...",
    )
    parser.add_argument("--sets", nargs="+", default=None, help="only these sets (default: all)")
    parser.add_argument("--full-year", action="store_true", help="also the whole 2021 briefings year")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args(argv)

    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.evaluate import evaluate_labelled
    from assistant.reranker import load_reranker
    from assistant.search import STATEMENT_WEIGHT
    from bench.machine import describe_machine

    work = BENCH_DIR / "readers"
    sets = dict(READER_SETS)
    if args.full_year:
        sets["briefings (2021, whole year)"] = ("briefings-2021", SETS["briefings (test subset)"][1], None)
        sets["zh questions, briefings (whole year)"] = ("briefings-2021", ZH / "questions-en-docs.jsonl", "briefings")
    if args.sets:
        sets = {name: sets[name] for name in args.sets}
    readers = dict(item.split("=", 1) for item in args.readers)
    out_json = args.out_dir / "readers.json"
    results = json.loads(out_json.read_text(encoding="utf-8")) if out_json.is_file() else {}
    argv = sys.argv[1:] if argv is None else argv
    results.update({"machine": describe_machine(), "command": " ".join(["python -m bench.readers", *argv])})
    results.setdefault("readers", {})
    embedder = Settings().embedder()
    settings = {
        key: Settings(corpus_dir=_corpus(key, work), index_dir=work / key / "index") for key, _, _ in sets.values()
    }
    for key in sorted(settings):  # built once, with no model: every reader reads the same index
        QuoteEngine.open(settings[key], embedder=embedder, reranker=None, build=True)
    for name, spec in readers.items():
        folder, _, weight = spec.partition("@")  # FOLDER@W: statements' hybrid weight factor (search.STATEMENT_WEIGHT)
        reranker = load_reranker(reader_folder(folder, work))
        row = results["readers"].setdefault(name, {"sets": {}})
        row["folder"], row["statement_weight"] = folder, float(weight) if weight else STATEMENT_WEIGHT
        for set_name, (key, path, collection) in sets.items():
            log(f"{name}: {set_name}")
            engine = QuoteEngine.open(settings[key], embedder=embedder, reranker=reranker)
            engine.searcher.statement_weight = row["statement_weight"]
            report = evaluate_labelled(engine, questions_for(path, collection), modes=list(MODES))
            row["sets"][set_name] = {
                "questions": report["questions"],
                "answerable": report["answerable"],
                "held_out": set_name in HELD_OUT_SETS,
                "modes": {m: {k: v for k, v in r.items() if k != "misses"} for m, r in report["modes"].items()},
                "misses": report["modes"]["reranked"]["misses"],
            }
            args.out_dir.mkdir(parents=True, exist_ok=True)
            out_json.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out_dir / "readers.md").write_text(render(results), encoding="utf-8")
    log(f"wrote {out_json} and readers.md")
    return 0


def render(results: dict) -> str:
    """One row per set and mode, one group of columns per reader."""
    readers = results["readers"]
    names = list(readers)
    lines = [
        "# Question–sentence models side by side",
        "",
        f"`{results['command']}` on {results['machine'].get('cpu_model', 'this machine')}, "
        f"{results['machine'].get('cores', '?')} cores; dense model multilingual-e5-small. Held-out sets: nothing "
        "is fitted on them. hybrid is the order without any model (the same for every reader).",
        "",
        "| set | mode | "
        + " | ".join(f"{n} top-1 | {n} top-3 | {n} highlight | {n} declined (ans. / unans.)" for n in names)
        + " |",
        "|---|---|" + "---|---|---|---|" * len(names),
    ]
    set_names = list(dict.fromkeys(s for n in names for s in readers[n]["sets"]))
    for set_name in set_names:
        for mode in MODES:
            cells = []
            for n in names:
                r = readers[n]["sets"].get(set_name, {}).get("modes", {}).get(mode)
                if r is None:
                    cells += ["", "", "", ""]
                    continue
                cells += [
                    _f(r["top1"]),
                    _f(r["top3"]),
                    _f(r["highlight"]),
                    f"{r['answerable_declined']} / {r['unanswerable_declined']}",
                ]
            label = set_name + (" (held out)" if set_name in HELD_OUT_SETS else "")
            lines.append(f"| {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _f(value) -> str:
    return "" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
