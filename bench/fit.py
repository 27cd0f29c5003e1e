"""Fit the per-model search settings on the development sets only: the fusion weight, the reranker fusion
weight, the cosine threshold and the CJK-question threshold.

Development sets: the seed questions over the seeds, the 2021 briefings questions over the test subset of
the briefings (tests/test_briefings.subset), and the two Chinese sets (tests/data/zh). The held-out sets
(tests/data/heldout, tests/data/qa-heldout) are never read here.

    python -m bench.fit --model e5 --out docs/fit-e5.json

Prints one line per setting tried and writes every measurement to --out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from assistant.config import Settings, model_for
from assistant.engine import QuoteEngine
from assistant.evaluate import LabelledQuestion, load_labelled
from assistant.search import calibrate_threshold

REPO = Path(__file__).resolve().parent.parent
ZH = REPO / "tests" / "data" / "zh"
DENSE_WEIGHTS = (0.5, 0.6, 0.7, 0.8)
HYBRID_WEIGHTS = (4.0, 8.0, 12.0, 16.0)


def briefings_subset(target: Path) -> Path:
    """The briefings the English and Chinese questions are about plus every fourth other one (as the tests)."""
    from tests.test_briefings import subset

    return subset(target)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _labelled(path: Path, collection: str | None = None) -> list[LabelledQuestion]:
    """The set's questions; with collection, only those over it (unanswerable ones go with every collection)."""
    keep = {
        str(row.get("id"))
        for row in _rows(path)
        if collection is None or row.get("collection") in (collection, None) or row.get("kind") != "answerable"
    }
    return [q for q in load_labelled(path) if q.id in keep]


def rank_of_answer(engine: QuoteEngine, question: LabelledQuestion, mode: str) -> tuple[int | None, float, bool]:
    """(rank of the labelled answer in the top 10 or None, best quote score, answered)."""
    answer = engine.ask(question.question, top_k=10, mode=mode)
    rank = None
    if question.answerable:
        rank = next(
            (
                i
                for i, q in enumerate(answer.quotes, 1)
                if q.doc_id.rsplit("/", 1)[-1] == question.doc_id.rsplit("/", 1)[-1] and question.answer in q.text
            ),
            None,
        )
    return rank, max((q.score for q in answer.quotes), default=-1.0), answer.answered


def measure(engine: QuoteEngine, questions: list[LabelledQuestion], mode: str) -> dict:
    """top-1, top-3, declines (answerable and not), and each question's best score, in one pass."""
    rows = [(q, *rank_of_answer(engine, q, mode)) for q in questions]
    answerable = [r for r in rows if r[0].answerable]
    unanswerable = [r for r in rows if not r[0].answerable]
    return {
        "top1": sum(r[1] == 1 for r in answerable),
        "top3": sum(r[1] is not None and r[1] <= 3 for r in answerable),
        "answerable": len(answerable),
        "answerable_declined": sum(not r[3] for r in answerable),
        "unanswerable_declined": sum(not r[3] for r in unanswerable),
        "unanswerable": len(unanswerable),
        "best_answerable": [r[2] for r in answerable],
        "best_unanswerable": [r[2] for r in unanswerable],
    }


def answering_threshold(answerable: list[float], answered: float = 0.9) -> float:
    """The highest cosine that still answers `answered` of the answerable questions (their best passages' cosines).

    For Chinese questions, which the question–passage model cannot read: a Chinese question should not be
    declined for want of a model that reads it. Balanced accuracy (search.calibrate_threshold), used for the
    English cosine threshold, declined 18 of the 47 answerable Chinese-over-Chinese questions to decline 6 of
    7 unanswerable ones: multilingual-e5's cosines barely tell them apart in one language.
    """
    ranked = sorted(answerable)
    declined = int(len(ranked) * (1 - answered))
    return round((ranked[declined - 1] + ranked[declined]) / 2, 4) if declined else round(ranked[0] - 1e-4, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="e5")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dense-weights", type=float, nargs="+", default=list(DENSE_WEIGHTS))
    parser.add_argument("--hybrid-weights", type=float, nargs="+", default=list(HYBRID_WEIGHTS))
    parser.add_argument("--work", type=Path, default=None, help="where the indexes go (default: a temporary folder)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="fit-"))
    model = model_for(args.model)
    started = time.perf_counter()

    def engine(name: str, corpus: Path, **kw) -> QuoteEngine:
        settings = Settings(corpus_dir=corpus, index_dir=work / name / "index", model=model)
        return QuoteEngine.open(settings, build=True, **kw)

    seed = engine("seed", REPO / "corpus")
    corpus = work / "briefings" / "corpus"
    if not corpus.is_dir():
        briefings_subset(corpus)
    briefings = engine("briefings", corpus, embedder=seed.embedder, reranker=seed.reranker)
    zh = engine("zh", ZH / "corpus", embedder=seed.embedder, reranker=seed.reranker)
    print(f"indexes ready in {time.perf_counter() - started:.0f} s", flush=True)
    english = {
        "seed": (seed, load_labelled(REPO / "tests" / "data" / "seed_questions.jsonl")),
        "briefings": (briefings, load_labelled(REPO / "tests" / "data" / "briefings" / "questions.jsonl")),
    }
    chinese = {
        "zh-seed": (seed, _labelled(ZH / "questions-en-docs.jsonl", "seeds")),
        "zh-briefings": (briefings, _labelled(ZH / "questions-en-docs.jsonl", "briefings")),
        "zh-zh": (zh, load_labelled(ZH / "questions-zh-docs.jsonl")),
    }
    results: dict = {"model": args.model, "dense_weight": {}, "hybrid_weight": {}}
    for dw in args.dense_weights:
        for e in (seed, briefings, zh):
            e.searcher.dense_weight = dw
        row = {name: measure(e, qs, "hybrid") for name, (e, qs) in {**english, **chinese}.items()}
        results["dense_weight"][dw] = row
        summary = " ".join(f"{n}={r['top1']}/{r['top3']}" for n, r in row.items())
        print(f"hybrid dense_weight={dw}: top1/top3 {summary}", flush=True)
        for hw in args.hybrid_weights:
            for e in (seed, briefings, zh):
                e.searcher.hybrid_weight = hw
            row = {name: measure(e, qs, "reranked") for name, (e, qs) in english.items()}
            results["hybrid_weight"][f"{dw}/{hw}"] = row
            summary = " ".join(
                f"{n}={r['top1']}/{r['top3']} declined {r['answerable_declined']}" for n, r in row.items()
            )
            print(f"reranked dense_weight={dw} hybrid_weight={hw}: {summary}", flush=True)
        row = results["dense_weight"][dw]
        cross = [row[n] for n in ("zh-seed", "zh-briefings")]
        results["dense_weight"][dw]["cross_threshold"] = answering_threshold(
            [s for r in cross for s in r["best_answerable"]]
        )
        results["dense_weight"][dw]["cjk_threshold"] = answering_threshold(row["zh-zh"]["best_answerable"])
        english_best = results["dense_weight"][dw]["seed"]
        results["dense_weight"][dw]["threshold"] = calibrate_threshold(
            english_best["best_answerable"], english_best["best_unanswerable"]
        )
        print(
            f"  thresholds at dense_weight={dw}: seed cosine {results['dense_weight'][dw]['threshold']}, "
            f"cjk {row['cjk_threshold']}, cross {row['cross_threshold']}",
            flush=True,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"done in {time.perf_counter() - started:.0f} s; {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
