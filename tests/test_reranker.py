"""The shipped question–sentence model: it loads, scores as recorded, reranks, highlights, declines; damage is named."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from assistant.config import DEFAULT_RERANKER, Settings
from assistant.engine import QuoteEngine
from assistant.errors import RerankerError
from assistant.pairs import with_context
from assistant.reranker import MODEL_FILE, SETTINGS_FILE, Reranker, load_reranker

TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "transcripts"


@pytest.fixture(scope="module")
def shipped() -> Reranker:
    return Reranker(DEFAULT_RERANKER)


def _recorded() -> list[tuple[str, str, float]]:
    """(question, sentence, logit) triples written by training/export.py from the shipped file."""
    return json.loads((DEFAULT_RERANKER / "recorded_scores.json").read_text())


def test_the_shipped_model_is_small_and_recorded():
    size = (DEFAULT_RERANKER / MODEL_FILE).stat().st_size
    assert size <= 40_000_000
    settings = json.loads((DEFAULT_RERANKER / SETTINGS_FILE).read_text())
    assert 0 < settings["threshold"] < 1
    assert (DEFAULT_RERANKER / "MODEL_CARD.md").is_file()


def test_shipped_model_scores_fixed_pairs_as_recorded(shipped):
    recorded = _recorded()
    assert len(recorded) >= 3
    logits = [float(shipped.score(q, [s])[0]) for q, s, _ in recorded]
    # Recorded on an AVX-512 VNNI CPU; an AVX2-only CPU runs the same int8 file with another integer kernel
    # (u8s8 via VPMADDUBSW, which saturates) and gave logits up to 0.05 away. Another model file is further off.
    assert logits == pytest.approx([logit for _, _, logit in recorded], abs=0.1)


def test_an_answering_sentence_outscores_an_on_topic_one(shipped):
    question = "How long has Xinjiang gone without a terror attack?"
    logits = shipped.score(
        question,
        [
            "There has been no violent terrorist incident in Xinjiang for over six consecutive years.",
            "Xinjiang enjoys social stability and sound economic growth.",
        ],
    )
    assert logits[0] > logits[1]


def test_scores_are_repeatable_and_move_little_with_their_batch(shipped):
    """Dynamic int8 quantises activations per batch, so batchmates move a logit a little (MODEL_CARD: limits)."""
    question = "Which organizations launched the event?"
    sentences = [f"Sentence number {i} about an event launched by a council." for i in range(70)]
    together = shipped.score(question, sentences)
    assert shipped.score(question, sentences) == pytest.approx(together, abs=0)
    alone = np.array([shipped.score(question, [s])[0] for s in sentences[:5]])
    assert together[:5] == pytest.approx(alone, abs=0.5)
    assert shipped.score(question, []).shape == (0,)


def test_probabilities_are_calibrated_monotone(shipped):
    probabilities = shipped.probability(np.array([-8.0, 0.0, 8.0]))
    assert 0 < probabilities[0] < probabilities[1] < probabilities[2] < 1


@pytest.mark.parametrize("value", ["none", "None", "off", ""])
def test_none_turns_the_reranker_off(value):
    assert load_reranker(value) is None


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_RERANKER", "none")
    monkeypatch.setenv("ASSISTANT_RERANKER_THRESHOLD", "0.7")
    settings = Settings()
    assert settings.reranker == "none" and settings.reranker_threshold == 0.7
    assert settings.load_reranker() is None


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_RERANKER, folder)
    return folder


def test_a_missing_model_file_is_named(tmp_path):
    folder = _copy(tmp_path)
    (folder / MODEL_FILE).unlink()
    with pytest.raises(RerankerError, match=f"{folder / MODEL_FILE}.*missing"):
        Reranker(folder)


def test_a_damaged_model_file_is_named(tmp_path):
    folder = _copy(tmp_path)
    data = (folder / MODEL_FILE).read_bytes()
    (folder / MODEL_FILE).write_bytes(data[: len(data) // 3])
    with pytest.raises(RerankerError, match=f"{folder / MODEL_FILE}.*damaged"):
        Reranker(folder)


def test_a_missing_or_broken_settings_file_is_named(tmp_path):
    folder = _copy(tmp_path)
    (folder / SETTINGS_FILE).write_text("{not json")
    with pytest.raises(RerankerError, match=f"{folder / SETTINGS_FILE}.*damaged"):
        Reranker(folder)
    (folder / SETTINGS_FILE).unlink()
    with pytest.raises(RerankerError, match="reranker.json is missing.*ASSISTANT_RERANKER"):
        Reranker(folder)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(RerankerError, match=str(tmp_path / "nowhere")):
        Reranker(tmp_path / "nowhere")


def test_the_strict_threshold_is_the_collection_threshold_fitted_on_held_out_training_data(tmp_path):
    shipped = Reranker(DEFAULT_RERANKER)
    recorded = json.loads((DEFAULT_RERANKER / SETTINGS_FILE).read_text())["fitted_on"]["collection_threshold"]
    assert shipped.strict_threshold == recorded > shipped.threshold
    folder = _copy(tmp_path)  # another model folder without one: the plain threshold
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    del settings["fitted_on"]
    (folder / SETTINGS_FILE).write_text(json.dumps(settings))
    assert Reranker(folder).strict_threshold == Reranker(folder).threshold


def test_a_model_trained_with_context_reads_the_previous_sentence_and_the_shipped_one_does_not(tmp_path, shipped):
    question, sentence, previous = (
        "What are the Xinjiang issues really about?",
        "They are about countering violent terrorism, radicalization and separatism.",
        "The issues related to Xinjiang are not about human rights.",
    )
    assert not shipped.reads_context  # reranker.json without "context": the sentence alone
    assert shipped.score(question, [sentence], [previous]) == pytest.approx(shipped.score(question, [sentence]), abs=0)
    folder = _copy(tmp_path)
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    (folder / SETTINGS_FILE).write_text(json.dumps(settings | {"context": "previous"}))
    reading = Reranker(folder)
    assert reading.reads_context
    # Its input is exactly the sentence, [SEP], the previous one (assistant/pairs.py), and none without one.
    read = reading.score(question, [sentence], [previous])[0]
    assert read == pytest.approx(shipped.score(question, [with_context(sentence, previous)])[0], abs=0)
    assert reading.score(question, [sentence], [""])[0] == pytest.approx(shipped.score(question, [sentence])[0], abs=0)
    assert read != pytest.approx(shipped.score(question, [sentence])[0], abs=1e-3)


def test_an_unknown_context_setting_is_named(tmp_path):
    folder = _copy(tmp_path)
    settings = json.loads((folder / SETTINGS_FILE).read_text())
    (folder / SETTINGS_FILE).write_text(json.dumps(settings | {"context": "paragraph"}))
    with pytest.raises(RerankerError, match=f"{folder / SETTINGS_FILE}.*context must be 'none' or 'previous'"):
        Reranker(folder)


def test_a_bad_threshold_override_is_refused():
    with pytest.raises(RerankerError, match="between 0 and 1"):
        Reranker(DEFAULT_RERANKER, threshold=1.5)


# --- in the engine, with the real embedding model --------------------------------------------------------


@pytest.fixture(scope="module")
def plain_engine(seed_engine) -> QuoteEngine:
    """The same index with the reranker turned off: today's behaviour."""
    settings = Settings(
        corpus_dir=seed_engine.settings.corpus_dir,
        index_dir=seed_engine.settings.index_dir,
        reranker="none",
        store=seed_engine.settings.store,
    )
    return QuoteEngine.open(settings, embedder=seed_engine.embedder)


@pytest.mark.integration
def test_reranker_none_reproduces_the_hybrid_ranking(seed_engine, plain_engine):
    assert seed_engine.reranker is not None and plain_engine.reranker is None
    for question in ("Which organizations launched the event?", "What did the journalist ask?", "capital of Australia"):
        without = plain_engine.ask(question, top_k=5).to_json()
        hybrid = seed_engine.ask(question, top_k=5, mode="hybrid").to_json()
        assert without == hybrid


@pytest.mark.integration
def test_reranked_relevance_is_the_probability_and_a_probable_answer_is_a_match(seed_engine):
    answer = seed_engine.ask("How long has Xinjiang gone without a terror attack?", top_k=5)
    threshold = seed_engine.reranker.threshold
    assert answer.answered and answer.quotes[0].score >= threshold
    assert all(0.0 <= q.score <= 1.0 for q in answer.quotes)
    assert all(q.is_match for q in answer.quotes if q.score >= threshold)
    assert {q.score_kind for q in answer.quotes} == {"probability"}


@pytest.mark.integration
def test_a_passage_below_the_model_threshold_is_a_match_only_by_its_cosine(seed_engine):
    """The decision is the model's probability or, for the best-ranked passage only, the cosine (README)."""
    from assistant.search import parse_question

    searcher = seed_engine.searcher
    for question in ("What did the High Commissioner supposedly witness firsthand in Xinjiang?", "Xinjiang poverty"):
        result = searcher.search(parse_question(question), top_k=5)
        query = searcher.embedder.encode_queries([question])[0]
        below = [hit for hit in result.hits if hit.relevance < seed_engine.reranker.threshold]
        assert below
        close = [
            h
            for h in below
            if float(searcher.store.vectors([h.passage_id])[0] @ query) >= seed_engine.settings.threshold
        ]
        by_model = [h for h in result.hits if h.relevance >= seed_engine.reranker.threshold]
        # At most one match by its cosine alone, the best-ranked close one, and none beside a model's match.
        expected = [] if by_model or not close else [close[0].passage_id]
        assert [h.passage_id for h in below if h.is_match] == expected
        assert all(h.matched_by == ("meaning" if h.is_match else None) for h in below)
        assert all(h.is_match and h.matched_by == "model" for h in by_model)


@pytest.mark.integration
def test_the_officials_words_rank_above_a_reporters_unless_the_question_asks_what_was_asked(seed_engine):
    # China Daily's question and Zhao Lijian's answer both say "nearly 1,000 Chinese and foreign NGOs"; the
    # model gives both 0.95. Asked for the fact, the official's turn comes first and the reporter's after it;
    # asked what the reporter said, the reporter's turn comes first.
    fact = seed_engine.ask("How many NGOs sent a co-signed letter to Bachelet?", top_k=3)
    assert [q.speaker for q in fact.quotes[:2]] == ["Zhao Lijian", "China Daily"]
    assert fact.quotes[0].matched_by == "model"
    asked = seed_engine.ask("How many NGOs did the reporter say sent a co-signed letter to Bachelet?", top_k=3)
    assert asked.quotes[0].speaker == "China Daily" and asked.quotes[0].matched_by == "model"
    unranked = seed_engine.ask("How many NGOs sent a co-signed letter to Bachelet?", top_k=3, mode="hybrid")
    assert unranked.quotes[0].speaker == "China Daily"  # without the model the order is today's


@pytest.mark.integration
def test_a_fact_only_a_reporter_states_is_still_quoted_and_cited_to_the_reporter(tmp_path, seed_engine):
    # A real transcript (tests/data/transcripts): only the reporter says "$80 billion for rail". The turn
    # ranks lower than an official's would, but nothing else answers, so it is the answer, cited to a reporter.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(TRANSCRIPTS / "2021-04-09-psaki-buttigieg.md", corpus)
    engine = QuoteEngine.open(
        Settings(corpus_dir=corpus, index_dir=tmp_path / "index"),
        embedder=seed_engine.embedder,
        reranker=seed_engine.reranker,
        build=True,
    )
    answer = engine.ask("How much does President Biden want for rail?", top_k=3)
    top = answer.quotes[0]
    assert answer.answered and top.matched_by == "model"
    assert (top.speaker, top.speaker_label) == ("a reporter", "Q")
    assert top.highlight == "President Biden says he wants $80 billion for rail."
    assert top.citation.startswith("a reporter (Q), Press Briefing by Press Secretary Jen Psaki")


@pytest.mark.integration
def test_done_when_the_journalist_question_quotes_the_china_daily_turn(seed_engine):
    # Reached by steering, not by the model (which gives the turn 6%): "the journalist" restricts the
    # search to the reporters' turns, a question about nothing else is answered by whatever they said,
    # and "ask" highlights the question they asked (tests/test_steering.py).
    answer = seed_engine.ask("What did the journalist ask the spokesperson?", top_k=3)
    top = answer.quotes[0]
    assert answer.answered and answer.restricted_to == "reporters, in documents where Zhao Lijian speaks"
    assert top.speaker == "China Daily"
    assert top.highlight == "What is China’s comment?"


@pytest.mark.integration
def test_done_when_the_xinjiang_issues_sentence_is_first_and_highlighted(seed_engine):
    # The model alone prefers the sentence before (0.75 against -0.32 logits): it reads "They are about
    # ..." without knowing what "They" is. A sentence that points back and scores within
    # CONTINUATION_MARGIN of the best is highlighted with it (assistant/search.py).
    answer = seed_engine.ask("According to the note, what are the Xinjiang issues really about?", top_k=3)
    assert answer.answered
    assert answer.quotes[0].highlight == (
        "The issues related to Xinjiang are not about human rights. "
        "They are about countering violent terrorism, radicalization and separatism."
    )


@pytest.mark.integration
def test_done_when_the_capital_of_australia_is_declined(seed_engine):
    answer = seed_engine.ask("What is the capital of Australia?", top_k=3)
    assert not answer.answered
    assert answer.message == "No passage in the corpus answers this question."


WORDS = ["Xinjiang", "terrorism", "event", "note", "mission", "human", "rights", "NGOs", "China", "Bachelet", "what"]


@pytest.mark.integration
@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_every_reranked_highlight_is_verbatim_inside_its_quote(seed_engine, words):
    answer = seed_engine.ask(" ".join(words) + "?", top_k=5)
    for quote in answer.quotes:
        text = seed_engine.store.document_text(quote.doc_id)
        assert text[quote.start : quote.end] == quote.text
        assert quote.start <= quote.highlight_start < quote.highlight_end <= quote.end
        assert text[quote.highlight_start : quote.highlight_end] == quote.highlight


def test_the_command_line_names_a_missing_model_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "ASSISTANT_RERANKER": str(tmp_path / "gone"), "ASSISTANT_INDEX": str(tmp_path / "index")}
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "What is the capital of Australia?"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert str(tmp_path / "gone") in line and "reranker.json is missing" in line
