"""The evaluation command's scoring, on the seed corpus with the fake embedder: ranks, misses,
abstention, the better-baseline oracle, BEIR mode, and clear errors for bad files."""

from __future__ import annotations

import json

import pytest

from assistant.errors import QuestionError
from assistant.evaluate import evaluate_beir, evaluate_labelled, format_report, load_labelled

NOTE = "2023-09-14-china-un-mission-note-verbale"
PRESS = "2022-07-28-mfa-press-conference-zhao-lijian"
ORGANISERS = "launched by the Atlantic Council, Human Rights Watch and Amnesty International"
# The fake embedder is a bag of words, so the question repeats the answer's words: every mode finds it first.
ASKED = "event " + ORGANISERS


def write_lines(path, rows) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def labelled(tmp_path):
    path = tmp_path / "labelled.jsonl"
    write_lines(
        path,
        [
            {
                "id": "found",
                "question": ASKED,
                "doc_id": NOTE,
                "answer": ORGANISERS,
            },
            # Answer text from the other document: the top quote cannot hold it.
            {
                "id": "missed",
                "question": ASKED,
                "doc_id": PRESS,
                "answer": "What is China’s comment?",
            },
            {"id": "none", "question": "zxqv qwfp risotto", "doc_id": None, "answer": None},
        ],
    )
    return load_labelled(path)


def test_ranks_misses_and_abstention_are_scored_per_mode(fake_engine, labelled):
    report = evaluate_labelled(fake_engine, labelled)

    assert report["questions"] == 3 and report["answerable"] == 2
    for mode in ("hybrid", "dense", "keyword"):
        scores = report["modes"][mode]
        assert scores["top1"] == 0.5, mode
        assert [miss["id"] for miss in scores["misses"]] == ["missed"]
        assert scores["abstention_recall"] == 1.0
    assert report["better_baseline_top1"] == 0.5
    text = format_report(report)
    assert "top-1 with the better baseline per question (oracle): 0.500" in text
    assert "missed: event launched" in text


def test_the_oracle_needs_both_baselines(fake_engine, labelled):
    report = evaluate_labelled(fake_engine, labelled, modes=("hybrid",))
    assert "better_baseline_top1" not in report
    assert "oracle" not in format_report(report)


def test_calibration_needs_both_kinds_of_question(fake_engine, labelled):
    with pytest.raises(QuestionError, match="both answerable and unanswerable"):
        evaluate_labelled(fake_engine, [q for q in labelled if q.answerable], calibrate=True)
    with pytest.raises(QuestionError, match="no labelled question"):
        evaluate_labelled(fake_engine, [])


def test_unreadable_or_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(QuestionError, match="Cannot read .*missing.jsonl: No such file"):
        load_labelled(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(QuestionError, match="Cannot read .*binary.jsonl"):
        load_labelled(binary)
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text('{"question": "q", "answer": null}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(QuestionError, match="line 2: needs 'question'"):
        load_labelled(malformed)


def test_beir_mode_scores_documents_by_ndcg_and_recall(fake_engine, tmp_path):
    queries, qrels = tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    write_lines(queries, [{"_id": "q1", "text": ASKED}])
    qrels.write_text(f"query-id\tcorpus-id\tscore\nq1\t{NOTE}\t1\n", encoding="utf-8")

    report = evaluate_beir(fake_engine, queries, qrels)

    assert report["queries"] == 1
    for mode in ("hybrid", "dense", "keyword"):
        assert report["modes"][mode] == {"ndcg@10": 1.0, "recall@100": 1.0}, mode


def test_beir_mode_rejects_a_malformed_query_line(fake_engine, tmp_path):
    queries, qrels = tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    queries.write_text('{"text": "no id"}\n', encoding="utf-8")
    qrels.write_text("q1\tdoc\t1\n", encoding="utf-8")
    with pytest.raises(QuestionError, match="line 1: needs '_id' and 'text'"):
        evaluate_beir(fake_engine, queries, qrels)
