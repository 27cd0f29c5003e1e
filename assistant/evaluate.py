"""Evaluation: retrieval quality on labelled questions, for the shipped search and simple baselines.

Modes: "reranked" (hybrid candidates reranked by our question–sentence model; shipped when a
reranker is configured), "hybrid" (today's cosine + BM25 fusion, shipped without one), and the two
single-signal baselines "dense" and "keyword".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from assistant.answer import plural
from assistant.errors import QuestionError
from assistant.search import MODES, calibrate_threshold

DEPTH = 10
#: Quotes an answer shows by default (the app's and the CLI's top_k): where non-answers shown as matches are counted.
SHOWN = 5
#: Modes whose answered / not-answered decision is the product's (the baselines only rank).
DECIDING_MODES = ("reranked", "hybrid")


@dataclass(frozen=True)
class LabelledQuestion:
    """A question with the document and exact text that answer it (both None when nothing does).

    `speaker` is the label of the turn the answer lies in, as the transcript writes it ('MS. PSAKI', 'Q'),
    when the set records one.
    """

    id: str
    question: str
    doc_id: str | None
    answer: str | None
    speaker: str | None = None

    @property
    def answerable(self) -> bool:
        return self.answer is not None


def load_labelled(path: Path) -> list[LabelledQuestion]:
    """Read JSON lines with question (or claim: a statement typed in instead), doc_id and answer (null for
    unanswerable). Raises QuestionError."""
    questions = []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                LabelledQuestion(
                    str(row.get("id", number)),
                    row["question"] if "question" in row else row["claim"],
                    row.get("doc_id"),
                    row.get("answer"),
                    row.get("speaker"),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise QuestionError(
                f"{path}, line {number}: needs 'question' (or 'claim'), 'doc_id' and 'answer'"
            ) from error
    return questions


def evaluate_labelled(engine, questions: list[LabelledQuestion], modes=None, calibrate: bool = False) -> dict:
    """Per mode: top-1, top-3, MRR@10, highlight hit rate, abstention precision and recall, and (for the modes that
    decide) `non_answer_matches`: per question, how many of the first SHOWN quotes are matches that do not hold
    the labelled answer (every match of an unanswerable question counts).

    modes defaults to every mode the engine can run ("reranked" only with a reranker). With
    calibrate, the report holds the cosine threshold that best separates the labelled questions.

    Raises QuestionError when there is no question, or when calibrate is asked for
    without both answerable and unanswerable questions.
    """
    if not questions:
        raise QuestionError("The file holds no labelled question.")
    if calibrate and len({q.answerable for q in questions}) < 2:
        raise QuestionError("Calibrating the threshold needs both answerable and unanswerable questions.")
    if modes is None:
        modes = [m for m in MODES if m != "reranked" or engine.reranker is not None]
    shipped = engine.searcher.default_mode
    report = {
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "shipped": shipped,
        "modes": {},
    }
    best_relevance: dict[str, list[float]] = {"answerable": [], "unanswerable": []}
    first: dict[str, set[str]] = {}  # per mode, the questions whose answer is in the top quote
    for mode in modes:
        ranks, highlight_hits, abstained, misses, speakers, padding = [], [], [], [], [], []
        for labelled in questions:
            answer = engine.ask(labelled.question, top_k=DEPTH, mode=mode)
            padding.append(
                sum(
                    q.is_match and not (_same_document(q.doc_id, labelled.doc_id) and labelled.answer in q.text)
                    for q in answer.quotes[:SHOWN]
                )
            )
            if mode == "hybrid":
                top = max((q.score for q in answer.quotes), default=-1.0)
                best_relevance["answerable" if labelled.answerable else "unanswerable"].append(top)
            if not labelled.answerable:
                abstained.append(not answer.answered)
                continue
            rank = next(
                (
                    i
                    for i, q in enumerate(answer.quotes, 1)
                    if _same_document(q.doc_id, labelled.doc_id) and labelled.answer in q.text
                ),
                None,
            )
            ranks.append(rank)
            if rank is not None:
                highlight_hits.append(labelled.answer in answer.quotes[rank - 1].highlight)
                if labelled.speaker:
                    speakers.append(_same_speaker(answer.quotes[rank - 1], labelled.speaker))
            if rank == 1:
                first.setdefault(mode, set()).add(labelled.id)
            else:
                misses.append({"id": labelled.id, "question": labelled.question, "rank": rank})
        report["modes"][mode] = _summary(ranks, highlight_hits, abstained, questions, engine, mode, misses)
        if speakers:
            report["modes"][mode]["speaker"] = _ratio(sum(speakers), len(speakers))
        if mode in DECIDING_MODES:
            report["modes"][mode]["non_answer_matches"] = round(sum(padding) / len(padding), 3)
        report["modes"][mode]["_first"] = first.get(mode, set())
    if {"dense", "keyword"} <= set(modes) and report["answerable"]:
        # Top-1 if each question could use whichever baseline ranks its answer first: a reference
        # for how much fusing the two signals can gain, not a strict bound.
        either = first.get("dense", set()) | first.get("keyword", set())
        report["better_baseline_top1"] = _ratio(len(either), report["answerable"])
    for values in report["modes"].values():
        values.pop("_first", None)
    if calibrate:
        report["calibrated_threshold"] = calibrate_threshold(
            best_relevance["answerable"], best_relevance["unanswerable"]
        )
        report["best_relevance"] = best_relevance
    return report


def _summary(ranks, highlight_hits, abstained, questions, engine, mode, misses) -> dict:
    answerable = len(ranks)
    unanswerable = len(abstained)
    false_abstentions = (
        sum(1 for lq in questions if lq.answerable and not engine.ask(lq.question, top_k=1, mode=mode).answered)
        if mode in DECIDING_MODES
        else None
    )
    true_abstentions = sum(abstained)
    all_abstentions = true_abstentions + (false_abstentions or 0)
    return {
        "top1": _ratio(sum(r == 1 for r in ranks), answerable),
        "top3": _ratio(sum(r is not None and r <= 3 for r in ranks), answerable),
        "mrr": round(sum(1 / r for r in ranks if r) / answerable, 4) if answerable else None,
        "highlight": _ratio(sum(highlight_hits), len(highlight_hits)),
        "abstention_recall": _ratio(true_abstentions, unanswerable),
        "abstention_precision": _ratio(true_abstentions, all_abstentions) if mode in DECIDING_MODES else None,
        "answerable_declined": false_abstentions,
        "unanswerable_declined": f"{true_abstentions} of {unanswerable}" if unanswerable else None,
        "misses": misses,
    }


def _same_document(doc_id: str, labelled: str | None) -> bool:
    """A labelled doc_id names the document by its id or by its file name alone ('2021-03/x' is 'x')."""
    return labelled is not None and (doc_id == labelled or doc_id.rsplit("/", 1)[-1] == labelled)


def _same_speaker(quote, label: str) -> bool:
    """Whether the quote is attributed to the labelled turn: its label as written, else its speaker."""
    shown = quote.speaker_label or quote.speaker or ""
    return " ".join(shown.split()).casefold() == " ".join(label.split()).casefold()


def evaluate_beir(engine, queries_path: Path, qrels_path: Path) -> dict:
    """nDCG@10 and recall@100 over documents, for each mode, BEIR-style (qrels by document id)."""
    queries = {}
    for number, line in enumerate(_read_lines(queries_path), start=1):
        if line.strip():
            try:
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
            except (ValueError, KeyError, TypeError) as error:
                raise QuestionError(f"{queries_path}, line {number}: needs '_id' and 'text'") from error
    relevant: dict[str, dict[str, int]] = {}
    for line in _read_lines(qrels_path):
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip().lstrip("-").isdigit():
            relevant.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    report = {"queries": len(relevant), "shipped": engine.searcher.default_mode, "modes": {}}
    for mode in [m for m in MODES if m != "reranked" or engine.reranker is not None]:
        ndcg, recall = [], []
        for query_id, judged in relevant.items():
            if query_id not in queries:
                continue
            answer = engine.ask(queries[query_id], top_k=100, mode=mode)
            ranked = list(dict.fromkeys(q.doc_id for q in answer.quotes))
            ndcg.append(_ndcg(ranked[:10], judged))
            positives = {d for d, grade in judged.items() if grade > 0}
            recall.append(len(positives & set(ranked[:100])) / len(positives) if positives else 0.0)
        report["modes"][mode] = {"ndcg@10": _mean(ndcg), "recall@100": _mean(recall)}
    return report


def format_report(report: dict) -> str:
    """A table for the terminal."""
    modes = report["modes"]
    columns = {key for values in modes.values() for key in values} - {"misses"}
    order = [
        "top1", "top3", "mrr", "highlight", "speaker", "abstention_precision", "abstention_recall",
        "unanswerable_declined", "answerable_declined", "non_answer_matches", "ndcg@10", "recall@100",
    ]  # fmt: skip
    columns = [c for c in order if c in columns]
    shipped = report.get("shipped", "hybrid")
    lines = [f"{'mode':<20}" + "".join(f"{c:>22}" for c in columns)]
    for mode, values in modes.items():
        label = f"{mode} (shipped)" if mode == shipped else mode if mode in DECIDING_MODES else f"{mode}-only"
        lines.append(f"{label:<20}" + "".join(f"{_cell(values.get(c)):>22}" for c in columns))
    if "better_baseline_top1" in report:
        lines.append(f"\ntop-1 with the better baseline per question (oracle): {report['better_baseline_top1']:.3f}")
    if "calibrated_threshold" in report:
        lines.append(f"\ncalibrated abstention threshold: {report['calibrated_threshold']}")
    misses = modes.get(shipped, {}).get("misses", [])
    if misses:
        lines.append(f"\n{shipped}: {plural(len(misses), 'answerable question')} whose answer is not in the top quote:")
        lines += [f"  {m['id']}: {m['question']} (answer at rank {m['rank'] or '>10'})" for m in misses]
    return "\n".join(lines)


def _read_lines(path: Path) -> list[str]:
    """A UTF-8 text file's lines. Raises QuestionError naming the file when it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise QuestionError(f"Cannot read {path}: {reason}.") from error


def _ndcg(ranked: list[str], judged: dict[str, int]) -> float:
    gains = [judged.get(doc, 0) for doc in ranked]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(judged.values(), reverse=True)[: len(ranked) or 10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _cell(value) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else f"{value:.3f}"
