"""The labelled 2021 briefings set (written blind to the retrieval code): exact answers, quality, attribution.

The transcripts live in ../shared/data/whitehouse-briefings-2021 (CC0); the tests skip when it is absent.
The quality test indexes the files the questions are about plus every fourth other briefing (about a
third of the year), so the index builds in a couple of minutes on 2 cores; the full year is measured
by `make bench` and the README's command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.evaluate import evaluate_labelled, load_labelled
from tests.conftest import REPO

BRIEFINGS = REPO.parent / "shared" / "data" / "whitehouse-briefings-2021"
QUESTIONS = REPO / "tests" / "data" / "briefings" / "questions.jsonl"
needs_briefings = pytest.mark.skipif(not BRIEFINGS.is_dir(), reason=f"no briefings at {BRIEFINGS}")
#: Measured on this subset with the shipped model and weight (README, "Measured quality"): 70 of 104
#: answers first (hybrid 60) and 86 in the top 3, every found answer's speaker right. Runs on fresh
#: indexes have differed by up to 3 questions, so the floors leave that much slack. The issue's targets
#: (0.80, 0.90) are not met.
FLOORS = {"top1": 0.66, "top3": 0.79, "speaker": 0.99}  # measured 0.683, 0.827, 1.000


def test_the_set_is_large_enough():
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerable = [r for r in rows if r["kind"] == "answerable"]
    assert len(answerable) >= 60
    assert sum(r["speaker"] == "Q" for r in answerable) >= 10
    assert sum(r.get("names") is not None for r in answerable) >= 15
    assert sum(r["kind"] == "unanswerable" and r.get("near_topic") for r in rows) >= 12


@needs_briefings
def test_every_answer_occurs_exactly_once_in_its_file_and_turn():
    checker = REPO / "tests" / "data" / "briefings" / "check_questions.py"
    result = subprocess.run([sys.executable, str(checker), str(BRIEFINGS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def subset(target: Path) -> Path:
    """The questions' files and every fourth other briefing, copied byte for byte into target/."""
    named = {json.loads(line).get("path") for line in QUESTIONS.read_text(encoding="utf-8").splitlines()}
    files = sorted(BRIEFINGS.rglob("*.md"))
    for number, path in enumerate(files):
        relative = path.relative_to(BRIEFINGS).as_posix()
        if relative in named or number % 4 == 0:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)
    return target


@pytest.fixture(scope="module")
def report(tmp_path_factory, real_engine):
    root = tmp_path_factory.mktemp("briefings")
    corpus = subset(root / "corpus")
    engine = QuoteEngine.open(
        Settings(corpus_dir=corpus, index_dir=root / "index"),
        embedder=real_engine.embedder,
        reranker=real_engine.reranker,
        build=True,
    )
    return evaluate_labelled(engine, load_labelled(QUESTIONS), modes=["reranked", "hybrid"])


@needs_briefings
@pytest.mark.integration
def test_briefings_quality_and_attribution_do_not_regress(report):
    reranked, hybrid = report["modes"]["reranked"], report["modes"]["hybrid"]
    assert reranked["top1"] >= FLOORS["top1"]
    assert reranked["top3"] >= FLOORS["top3"]
    assert reranked["speaker"] >= FLOORS["speaker"]
    assert hybrid["speaker"] >= FLOORS["speaker"]
    assert reranked["top1"] >= hybrid["top1"] and reranked["top3"] >= hybrid["top3"]
