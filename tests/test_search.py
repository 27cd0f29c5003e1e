"""Search: question validation, phrases, filters, follow-ups, diversity, abstention, calibration."""

from __future__ import annotations

import pytest

from assistant.errors import QuestionError
from assistant.passages import Passage, Span
from assistant.search import (
    STATEMENT_WEIGHT,
    Filters,
    best_sentences,
    calibrate_threshold,
    contextualize,
    is_follow_up,
    is_quotation,
    is_statement,
    parse_question,
)

NOTE = "2023-09-14-china-un-mission-note-verbale"
PRESS = "2022-07-28-mfa-press-conference-zhao-lijian"


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x07"])
def test_empty_questions_are_refused_with_a_clear_message(question):
    with pytest.raises(QuestionError, match="The question is empty"):
        parse_question(question)


def test_a_huge_question_is_refused_with_its_length():
    with pytest.raises(QuestionError, match=r"100,000 characters long; the limit is 2,000"):
        parse_question("x" * 100_000)


def test_control_characters_become_spaces_and_phrases_are_extracted():
    parsed = parse_question('Did they\x00 say "unfettered\taccess" or “anti-China event”?')
    assert parsed.text == 'Did they say "unfettered access" or “anti-China event”?'
    assert parsed.phrases == ("unfettered access", "anti-China event")
    assert parsed.terms[:3] == ["unfettered", "access", "anti"]


def test_follow_ups_carry_the_previous_question():
    previous = "What did the NGOs write to Bachelet?"
    assert contextualize("And what did they ask for?", previous) == f"{previous} And what did they ask for?"
    assert contextualize("Which countries supported China's Xinjiang policy at the UN?", previous).startswith("Which")
    assert contextualize("And what about it?", None) == "And what about it?"


@pytest.mark.parametrize(
    ("question", "follows"),
    [
        ("And what did they ask for?", True),
        ("What about Bachelet?", True),
        ("Why?", True),
        ("Why did he do that?", True),
        ("What did they say?", True),
        # issue 22: a question with its own subject is not a follow-up, however it opens
        ("Why did President Biden decide to withdraw from Afghanistan?", False),
        ("What did Psaki say about the Child Tax Credit in May 2021?", False),
        ("How many countries supported China's Xinjiang policy?", False),
        ("Why do the co-sponsors of the event oppose China's policy in Xinjiang at the United Nations?", False),
    ],
)
def test_only_a_question_that_needs_the_previous_one_is_a_follow_up(question: str, follows: bool) -> None:
    assert is_follow_up(question) is follows


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ("China said the Xinjiang issues are about counter-terrorism", True),
        ('"Any rumour or disinformation about Xinjiang will quickly fall apart."', True),
        ("Long-term unemployment fell by 431,000 in May.", True),
        ("Nearly 100 countries backing China's Xinjiang policy", True),
        ("What did Psaki say about the Child Tax Credit in May 2021?", False),
        ("Did the mission call the event anti-China", False),  # a question without its question mark
        ("Tell me what the note says about terrorism", False),
        ("Xinjiang terrorism", False),  # too short to be a claim: a keyword search
        ("新疆问题的实质是什么？", False),
    ],
)
def test_a_statement_is_told_from_a_question(text: str, stated: bool) -> None:
    assert is_statement(text) is stated


def test_a_sequence_of_questions_is_read_as_follow_ups_only_where_one_needs_the_last(fake_engine):
    """The issue's sequence: the first question is never a follow-up, 'Why did X ...' stands alone, 'Why?' does not."""
    first = fake_engine.ask("What did Zhao Lijian say about the NGOs in July 2022?")
    why = fake_engine.ask("Why did the High Commissioner visit China?", previous=first.question)
    bare = fake_engine.ask("Why?", previous=why.question)

    assert fake_engine.steerer.read(first.question).rest != first.question  # steered: its names and dates are taken out
    assert first.searched_for is None  # ... and what was searched within them is never shown
    assert why.searched_for is None
    assert bare.searched_for == "Why did the High Commissioner visit China? Why?"


def test_phrase_restricts_results_to_passages_containing_it(fake_engine):
    answer = fake_engine.ask('Did they ever say "UNFETTERED access"?', top_k=5)
    assert answer.answered
    assert len(answer.quotes) == 1
    quote = answer.quotes[0]
    assert "“unfettered access”" in quote.text and quote.doc_id == PRESS
    assert "unfettered access" in quote.highlight


def test_a_phrase_that_occurs_nowhere_is_not_answered(fake_engine):
    answer = fake_engine.ask('Did they say "genocide convention"?')
    assert not answer.answered and answer.quotes == []
    assert answer.message == 'No passage contains the exact phrase "genocide convention".'


def test_a_quotation_remembered_with_a_word_wrong_finds_its_closest_passage_and_says_it_is_not_exact(fake_engine):
    # The press conference says: "these countries made a series of demands asking for “unfettered access” of the visit"
    misquoted = '"These countries made many demands asking for unfettered access during the visit."'
    answer = fake_engine.ask(misquoted, top_k=3)
    assert answer.quotes and answer.quotes[0].doc_id == PRESS and "“unfettered access”" in answer.quotes[0].text
    assert answer.restriction_note.startswith('No passage holds the exact words "These countries made many demands')
    assert "check a quotation" in answer.restriction_note


def test_a_short_quoted_phrase_stays_a_constraint_and_a_long_one_is_a_quotation():
    assert not is_quotation("genocide convention") and not is_quotation("unfettered access")
    assert is_quotation("any rumour or disinformation about Xinjiang")


@pytest.mark.integration
def test_a_statement_weighs_the_hybrid_score_more_beside_the_model(real_engine, monkeypatch):
    """A claim is reranked with STATEMENT_WEIGHT times the hybrid weight; a question with the plain weight."""
    searcher, weights = real_engine.searcher, []
    monkeypatch.setattr(searcher, "_rerank", lambda *args: weights.append(args[-1]) or [])
    real_engine.ask("China said the Xinjiang issues are about counter-terrorism")
    real_engine.ask("What did China say the Xinjiang issues are about?")
    assert weights == [searcher._hybrid_weight * STATEMENT_WEIGHT, searcher._hybrid_weight]


def test_filters_restrict_documents_people_and_dates(fake_engine):
    question = "Xinjiang human rights"
    only_press = fake_engine.ask(question, top_k=10, filters=Filters(doc_ids=(PRESS,)))
    assert {q.doc_id for q in only_press.quotes} == {PRESS}
    zhao = fake_engine.ask(question, top_k=10, filters=Filters(people=("Zhao Lijian",)))
    assert {q.speaker for q in zhao.quotes} == {"Zhao Lijian"} and len(zhao.quotes) == 4
    daily = fake_engine.ask(question, top_k=10, filters=Filters(people=("China Daily",)))
    assert [q.paragraph for q in daily.quotes] == [1]
    in_2023 = fake_engine.ask(question, top_k=10, filters=Filters(date_from="2023-01-01", date_to="2023"))
    assert {q.doc_id for q in in_2023.quotes} == {NOTE}
    none = fake_engine.ask(question, filters=Filters(date_from="2030-01-01"))
    assert not none.answered and none.message == "No document matches the filters."


def test_no_two_quotes_come_from_the_same_paragraph(fake_engine):
    answer = fake_engine.ask("Xinjiang China human rights countries", top_k=16)
    places = [(q.doc_id, q.paragraph) for q in answer.quotes]
    assert len(places) == len(set(places)) == 16


def test_top_k_is_validated(fake_engine):
    with pytest.raises(ValueError, match="top_k must be between 1 and 100"):
        fake_engine.ask("Xinjiang", top_k=0)
    assert len(fake_engine.ask("Xinjiang", top_k=1).quotes) == 1


def test_nothing_relevant_is_not_answered_but_offers_closest_passages(fake_engine):
    answer = fake_engine.ask("zebra quantum pancake", top_k=3)
    assert not answer.answered
    assert answer.message == "No passage in the corpus answers this question."
    assert len(answer.quotes) == 3 and not any(q.is_match for q in answer.quotes)
    assert fake_engine.ask("zebra quantum pancake", strict=True).quotes == []


def test_other_scripts_get_a_normal_answer(fake_engine):
    answer = fake_engine.ask("中华人民共和国常驻联合国代表团")
    assert answer.quotes[0].text == "中华人民共和国常驻联合国代表团"


def test_calibrated_threshold_separates_the_labelled_scores():
    assert calibrate_threshold([0.6, 0.7, 0.5], [0.1, 0.2, 0.3]) == 0.4
    with pytest.raises(ValueError, match="needs both"):
        calibrate_threshold([0.5], [])


def test_a_follow_up_to_a_long_question_stays_within_the_limit(fake_engine):
    previous = "Xinjiang " * 222  # 1,998 characters
    answer = fake_engine.ask("And what did they ask for?", previous=previous)
    assert answer.question == "And what did they ask for?"
    assert len(answer.searched_for) <= 2000


def test_a_follow_up_does_not_inherit_the_previous_phrase(fake_engine):
    answer = fake_engine.ask("And what about Bachelet?", previous='Who asked for "unfettered access"?', top_k=5)
    assert answer.searched_for.startswith('Who asked for "unfettered access"?')
    assert len(answer.quotes) > 1, "not restricted to the one passage holding the phrase"


@pytest.mark.parametrize(
    "question",
    ["Xinjiang terrorism", '"countering violent terrorism" policy', "zorblax quintiferous flumpet Xinjiang"],
)
def test_every_hit_says_why_it_is_a_match_and_only_a_match_does(fake_engine, question):
    """matched_by: "phrase" for a quoted phrase, else "meaning" by the cosine; None exactly when not a match."""
    from assistant.search import CONFIDENT_RELEVANCE

    parsed = parse_question(question)
    result = fake_engine.searcher.search(parsed, top_k=10, mode="hybrid")
    assert result.hits
    unknown = fake_engine.searcher._mostly_unknown_words(parsed)
    floor = CONFIDENT_RELEVANCE if unknown else fake_engine.settings.threshold
    for hit in result.hits:
        assert (hit.matched_by is not None) == hit.is_match
        if parsed.phrases:
            assert hit.matched_by == "phrase"
        else:
            assert hit.matched_by == ("meaning" if hit.relevance >= floor else None)


class _ScoresByText:
    """A stand-in reranker: a fixed logit per sentence text."""

    def __init__(self, logits: dict[str, float]) -> None:
        self.logits = logits

    def score(self, question, sentences, previous=None):
        import numpy as np

        return np.array([self.logits[s] for s in sentences], dtype=np.float32)


def _passage(document: str, start: int, sentences: list[str]) -> Passage:
    spans, offset = [], start
    for sentence in sentences:
        offset = document.index(sentence, offset)
        spans.append(Span(offset, offset + len(sentence)))
        offset += len(sentence)
    end = spans[-1].end
    return Passage("d", start, end, 1, None, document[start:end], sentences=tuple(spans))


@pytest.mark.parametrize(
    ("second_logit", "second", "highlighted"),
    [
        (-0.3, "They are about countering terrorism.", "not about rights. They are about countering terrorism."),
        (-1.5, "They are about countering terrorism.", "not about rights."),  # the model doubts it: 2.25 below
        (0.9, "Terrorism is what they are about.", "Terrorism is what they are about."),  # best on its own
        (-0.3, "Some say they are about terrorism.", "not about rights."),  # does not point back
    ],
)
def test_the_best_sentence_takes_in_the_next_when_that_continues_it(second_logit, second, highlighted):
    document = f"Intro. The issues are not about rights. {second} Last one."
    first = "The issues are not about rights."
    passage = _passage(document, 7, [first, second, "Last one."])
    reranker = _ScoresByText({first: 0.75, second: second_logit, "Last one.": -3.0})
    logits, (span,) = best_sentences(reranker, "What are the issues about?", [passage])
    assert logits[0] == max(0.75, second_logit)  # the passage's score is still its best sentence's
    assert document[span.start : span.end].endswith(highlighted)
    assert passage.start <= span.start < span.end <= passage.end


def test_each_sentence_goes_to_the_model_with_the_one_before_it_in_its_passage():
    document = "Intro. The issues are not about rights. They are about terrorism. Other text. A second passage."
    first = _passage(document, 7, ["The issues are not about rights.", "They are about terrorism."])
    second = _passage(document, document.index("Other"), ["Other text.", "A second passage."])
    seen = []

    class Recording(_ScoresByText):
        def score(self, question, sentences, previous=None):
            seen.append((list(sentences), list(previous)))
            return super().score(question, sentences)

    reranker = Recording(
        {
            s: 0.0
            for s in [
                "The issues are not about rights.",
                "They are about terrorism.",
                "Other text.",
                "A second passage.",
            ]
        }
    )
    best_sentences(reranker, "What are the issues about?", [first, second])
    ((sentences, previous),) = seen
    # A passage's first sentence has no context (as a paragraph's first in training), not the last passage's.
    assert previous == ["", "The issues are not about rights.", "", "Other text."]
    assert sentences == [
        "The issues are not about rights.",
        "They are about terrorism.",
        "Other text.",
        "A second passage.",
    ]


# --- Chinese questions (tests/data/zh/corpus beside the seeds; the fake embedder reads no Chinese) -------------

ZH_DOC = "2023-09-15-zh-statement"


def test_a_chinese_question_finds_the_chinese_passage_by_its_words(mixed_engine):
    """By the keyword index alone: the fake embedder, like the bundled English one, reads no Chinese."""
    answer = mixed_engine.ask("涉疆问题的实质是什么？", top_k=3, mode="keyword")
    assert answer.restricted_to is None and answer.restriction_note is None  # steering read nothing in it
    quote = answer.quotes[0]
    assert quote.doc_id == ZH_DOC and quote.paragraph == 2
    assert quote.highlight == "涉疆问题不是人权问题，而是反暴恐、去极端化和反分裂问题。"  # by the words it shares
    assert mixed_engine.document(ZH_DOC).text[quote.highlight_start : quote.highlight_end] == quote.highlight
    assert mixed_engine.ask("What are the Xinjiang issues about?").quotes[0].doc_id == NOTE  # English as before


@pytest.mark.parametrize("quoted", ['"强迫劳动"', "“强迫劳动”", "「强迫劳动」", "“劳动”"])
def test_a_quoted_chinese_phrase_keeps_only_the_passages_holding_it(mixed_engine, quoted):
    """A part of a word as jieba cuts it ("劳动" of "强迫劳动") is still found: FTS5 reads CJK letter by letter."""
    answer = mixed_engine.ask(f"新疆存在{quoted}吗？", top_k=5)
    assert answer.answered and [q.paragraph for q in answer.quotes] == [4]
    assert answer.quotes[0].matched_by == "phrase" and "强迫劳动" in answer.quotes[0].highlight


def test_a_quoted_chinese_phrase_that_occurs_nowhere_is_not_answered(mixed_engine):
    answer = mixed_engine.ask("中方说过“棉花糖”吗？")
    assert not answer.answered and answer.message == 'No passage contains the exact phrase "棉花糖".'


def test_a_chinese_question_skips_the_english_model_and_uses_the_cjk_threshold(mixed_engine):
    from assistant.config import DEFAULT_RERANKER
    from assistant.reranker import load_reranker
    from assistant.search import CJK_THRESHOLD, Searcher

    assert CJK_THRESHOLD == 0.3334  # the English cosine threshold until one is fitted for Chinese
    reranker = load_reranker(str(DEFAULT_RERANKER))
    index, embedder = mixed_engine.store, mixed_engine.embedder
    question = parse_question("涉疆问题的实质是什么？")
    lenient = Searcher(index, embedder, threshold=1.0, reranker=reranker, cjk_threshold=-1.0).search(question)
    assert lenient.mode == "hybrid" and lenient.answered
    assert all(hit.answer_span is None for hit in lenient.hits), "the model read no sentence"
    assert lenient.hits[0].passage.doc_id == ZH_DOC
    strict = Searcher(index, embedder, threshold=-1.0, reranker=reranker, cjk_threshold=1.0).search(question)
    assert not strict.answered
    english = Searcher(index, embedder, threshold=-1.0, reranker=reranker, cjk_threshold=1.0)
    assert english.search(parse_question("What are the Xinjiang issues about?")).mode == "reranked"


@pytest.mark.parametrize(
    ("text", "mostly"),
    [
        ("涉疆问题的实质是什么？", True),
        ("赵立坚 said what about Xinjiang?", False),
        ("COVID-19疫苗", False),
        ("新冠COVID疫苗问题", True),
        ("", False),
        ("2023？", False),
    ],
)
def test_a_question_is_mostly_cjk_when_half_its_letters_are(text, mostly):
    from assistant.cjk import is_mostly_cjk

    assert is_mostly_cjk(text) is mostly


# --- What counts as an answer (issue 22: only answers are numbered as answers; issue 19: headings) -----------


def _hit(number: int, matched_by: str | None, text: str = "A sentence that says something.", keyword_rank=None):
    from assistant.search import Hit

    passage = Passage("doc", 0, len(text), number, None, text, (Span(0, len(text)),))
    return Hit(number, passage, 1.0 - number / 10, 0.5, matched_by, keyword_rank=keyword_rank)


@pytest.mark.parametrize(
    ("reasons", "kept"),
    [
        (["meaning", "meaning", "meaning"], ["meaning", None, None]),  # the best close-in-meaning passage answers
        ([None, "meaning", "meaning"], [None, "meaning", None]),
        (["meaning", "model", "meaning"], [None, "model", None]),  # beside the model's answer, none by cosine
        (["phrase", "meaning"], ["phrase", None]),
        (["named", "meaning", "meaning"], ["named", "meaning", None]),
        ([None, None], [None, None]),
    ],
)
def test_at_most_one_reranked_match_is_by_its_cosine_alone_and_none_beside_the_models(reasons, kept):
    from assistant.search import meaning_only_for_the_best

    hits = [_hit(i, reason) for i, reason in enumerate(reasons)]
    result = meaning_only_for_the_best(hits)
    assert [h.matched_by for h in result] == kept
    assert [h.passage_id for h in result] == [h.passage_id for h in hits]  # the order is the model's
    assert any(h.is_match for h in result) == any(h.is_match for h in hits)  # answered or not: unchanged


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("中华人民共和国常驻联合国代表团", True),
        ("Press Briefing by Press Secretary Jen Psaki", True),
        ("CMS (2023) No. 59", False),  # "No." ends with a full stop: not told from a sentence, kept
        ("They are about countering violent terrorism, radicalization and separatism.", False),
        ("涉疆问题不是人权问题，而是反暴恐、去极端化和反分裂问题。", False),
        ("Q: What is China's comment?", False),
        ("A long line without any full stop " * 3, False),
    ],
)
def test_a_heading_is_a_short_line_that_ends_no_clause(text, heading):
    from assistant.passages import is_heading

    assert is_heading(text) == heading


def test_headings_that_share_no_word_with_the_question_go_last_and_do_not_answer():
    from assistant.search import headings_last

    letterhead = _hit(0, "meaning", "中华人民共和国常驻联合国代表团")
    named = _hit(1, "meaning", "Permanent Mission of China", keyword_rank=1)
    answer = _hit(2, "meaning")
    result = headings_last([letterhead, named, answer])
    assert [h.passage_id for h in result] == [1, 2, 0]
    assert [h.matched_by for h in result] == ["meaning", "meaning", None]


def test_a_chinese_question_matches_english_passages_from_the_cross_lingual_threshold(mixed_engine):
    from assistant.cjk import is_mostly_cjk
    from assistant.search import Searcher

    index, embedder = mixed_engine.store, mixed_engine.embedder
    question = parse_question("涉疆问题的实质是什么？")
    searcher = Searcher(index, embedder, threshold=1.0, cjk_threshold=1.0, cross_threshold=-1.0)
    hits = searcher.search(question, top_k=10).hits
    assert {is_mostly_cjk(h.passage.text) for h in hits} == {True, False}  # both kinds were found
    assert all(h.is_match != is_mostly_cjk(h.passage.text) for h in hits)
