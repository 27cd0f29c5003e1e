"""Retrieval quality on the labelled seed questions with the real model: a regression floor.

The floors are the measured values at the time of writing (docs/benchmarks.md), so a
change that makes retrieval worse fails here. The issue's targets (90% answer-in-top-1,
7 of 8 unanswerable abstained) are not met yet; see the README's "Known limits".
"""

from __future__ import annotations

import pytest

from assistant.evaluate import evaluate_labelled, load_labelled
from tests.conftest import SEED_QUESTIONS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report(real_engine):
    return evaluate_labelled(real_engine, load_labelled(SEED_QUESTIONS), calibrate=True)


def test_the_labelled_set_is_big_enough_and_exact():
    questions = load_labelled(SEED_QUESTIONS)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 30 and len(questions) - len(answerable) >= 8
    from tests.conftest import SEED_CORPUS

    for q in answerable:
        text = (SEED_CORPUS / f"{q.doc_id}.txt").open(encoding="utf-8", newline="").read()
        assert text.count(q.answer) == 1, q.id


def test_hybrid_top1_does_not_regress_and_beats_dense_only(report):
    hybrid, dense = report["modes"]["hybrid"], report["modes"]["dense"]
    assert hybrid["top1"] >= 0.65
    assert hybrid["top3"] >= 0.83
    assert hybrid["top1"] > dense["top1"]


def test_abstention_does_not_regress(report):
    assert report["modes"]["hybrid"]["abstention_recall"] >= 0.78


def test_shipped_threshold_is_the_calibrated_one(report, real_engine):
    assert real_engine.settings.threshold == pytest.approx(report["calibrated_threshold"], abs=0.01)
