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
#: The first test that uses the index builds it: 27,056 passages with e5 take about 7 minutes on a 2-core machine
#: without AVX-512 VNNI, and the labelled set 3 more (over pytest's 600 s default).
pytestmark = pytest.mark.timeout(1800)
#: Measured on this subset with the default model, multilingual-e5-small, and its fitted weights (`python -m
#: bench.models`, docs/models.md): 70 of 104 answers first (hybrid 63; MiniLM 74) and 87 in the top 3 (MiniLM 89),
#: every found answer's speaker right. Runs on fresh indexes have differed by up to 3 questions, so the floors
#: leave that much slack. The issue's targets (0.80, 0.90) are not met.
FLOORS = {"top1": 0.64, "top3": 0.80, "speaker": 0.99}  # measured 0.673, 0.837, 1.000


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


#: The Chinese questions over the briefings (tests/data/zh): their files are in the subset too.
ZH_QUESTIONS = REPO / "tests" / "data" / "zh" / "questions-en-docs.jsonl"


def subset(target: Path) -> Path:
    """The English and Chinese questions' files and every fourth other briefing, copied byte for byte into target/."""
    named = {json.loads(line).get("path") for line in QUESTIONS.read_text(encoding="utf-8").splitlines()}
    named |= {
        row.get("path")
        for row in map(json.loads, ZH_QUESTIONS.read_text(encoding="utf-8").splitlines())
        if row.get("collection") == "briefings"
    }
    files = sorted(BRIEFINGS.rglob("*.md"))
    for number, path in enumerate(files):
        relative = path.relative_to(BRIEFINGS).as_posix()
        if relative in named or number % 4 == 0:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / relative)
    return target


@pytest.fixture(scope="module")
def engine(tmp_path_factory, real_engine) -> QuoteEngine:
    root = tmp_path_factory.mktemp("briefings")
    corpus = subset(root / "corpus")
    return QuoteEngine.open(
        Settings(corpus_dir=corpus, index_dir=root / "index"),
        embedder=real_engine.embedder,
        reranker=real_engine.reranker,
        build=True,
    )


@pytest.fixture(scope="module")
def report(engine):
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


@needs_briefings
@pytest.mark.integration
def test_declining_does_not_regress(report):
    # Measured 7 of 19 declined, 1 answerable one declined (docs/models.md): a question word the 27,056-passage
    # collection never uses asks for the model's collection threshold. The target (10 of 12) is not met.
    reranked = report["modes"]["reranked"]
    assert int(reranked["unanswerable_declined"].split(" of ")[0]) >= 5
    assert reranked["answerable_declined"] <= 3


@needs_briefings
@pytest.mark.integration
@pytest.mark.parametrize(
    "question",
    [
        "How do I make a sourdough starter from scratch?",  # the model gives "starting from scratch" 0.49
        "Who won the men's singles title at Wimbledon in 2021?",
    ],
)
def test_a_question_about_what_a_year_of_briefings_never_mentions_is_declined(engine, question):
    assert engine.store.size >= 10_000
    answer = engine.ask(question, top_k=5)
    assert not answer.answered and answer.quotes and not any(q.is_match for q in answer.quotes)


@needs_briefings
@pytest.mark.integration
def test_only_a_word_a_large_collection_never_uses_asks_for_the_stricter_threshold(engine, real_engine):
    from assistant.search import parse_question

    # "scratch" and "starter" occur in the briefings; "sourdough" never does.
    assert engine.searcher._names_the_unknown(parse_question("How do I make a sourdough starter from scratch?"))
    assert not engine.searcher._names_the_unknown(parse_question("How do I make a starter from scratch?"))
    assert not engine.searcher._names_the_unknown(parse_question('Did anyone say "sourdough starter"?'))
    # In the 16-passage seed collection most answerable questions hold such a word: the rule does not apply.
    assert not real_engine.searcher._names_the_unknown(parse_question("What is the capital of Australia?"))
