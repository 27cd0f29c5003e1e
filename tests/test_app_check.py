"""The app's "Check a quote" mode through AppTest: verdicts, differences, misattribution, escaping, export.

Most tests use the bag-of-words embedder on a copy of the seed corpus; the ones marked
`integration` run the issue's three "done when" checks with the real model.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from app import CHECK_MODE, COPY_ON_CLICK, SCROLL_TO_CITED
from tests.apphelpers import (
    APP,
    NOTE,
    shown_passages,
    source_text,
)

TEN_YEARS = "There has been no violent terrorist incident in Xinjiang for over ten consecutive years."
NOTE_SENTENCE = "It's clear to all that the co-sponsors are notorious anti-China organizations."
MADE_UP = "The Ministry of Agriculture announced new subsidies for cotton farmers in Kashgar last spring."
NOTE_CITATION = (
    "Permanent Mission of the People&#x27;s Republic of China to the United Nations, "
    "note verbale CMS (2023), 14 September 2023, ¶6"
)


def check_mode() -> AppTest:
    """The app, switched to the check mode."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.sidebar.radio(key="mode").set_value(CHECK_MODE).run()
    assert not at.exception, at.exception
    return at


def check(at: AppTest, quotation: str, speaker: str = "", date=None) -> AppTest:
    at.text_area(key="check_text").set_value(quotation)
    at.text_input(key="check_speaker").set_value(speaker)
    at.date_input(key="check_date").set_value(date)
    at.button(key="check_button").click().run()
    assert not at.exception, at.exception
    return at


def results(at: AppTest) -> list[str]:
    """The HTML of each checked quotation on the page, latest first."""
    return [e.value for e in at.html if e.value.startswith('<div class="qa-check">')]


def verdict_of(result_html: str) -> str:
    (label,) = re.findall(r'<span class="qa-verdict-badge qa-(?:verbatim|altered|not_found)">([^<]+)<', result_html)
    return label


def assert_passages_verbatim(result_html: str, corpus: Path) -> list:
    passages = shown_passages(result_html)
    for passage in passages:
        assert passage.text == source_text(corpus, passage.doc_id)[passage.start : passage.end]
        assert passage.tags <= {"mark"}
    return passages


def test_the_check_mode_sits_beside_the_chat_and_keeps_it(corpus: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert at.sidebar.radio(key="mode").options == ["Ask the documents", "Check a quote"]
    at.chat_input(key="question").set_value("human rights").run()

    at.sidebar.radio(key="mode").set_value(CHECK_MODE).run()
    assert [t.value for t in at.title] == ["Check a quote"] and len(at.chat_input) == 0
    at.sidebar.radio(key="mode").set_value("Ask the documents").run()

    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


def test_altered_quotation_shows_the_note_with_six_against_ten(corpus: Path) -> None:
    at = check(check_mode(), TEN_YEARS)

    (result,) = results(at)
    assert verdict_of(result) == "Altered"
    assert f"[1] {NOTE_CITATION}" in result
    assert '<del class="qa-del">six</del> <ins class="qa-ins">ten</ins>' in result
    (passage,) = assert_passages_verbatim(result, corpus)
    assert passage.doc_id == NOTE and passage.marked == "six"
    assert passage.text == "there has been no violent terrorist incident in Xinjiang for over six consecutive years."
    (href,) = re.findall(r'<a href="\?([^"]+)" target="_blank">Open in the document', result)
    assert dict(parse_qsl(html.unescape(href))) == {"doc": NOTE, "start": str(passage.start), "end": str(passage.end)}


def test_verbatim_and_not_found(corpus: Path) -> None:
    at = check(check(check_mode(), NOTE_SENTENCE), MADE_UP)

    not_found, verbatim = results(at)  # latest first
    assert verdict_of(verbatim) == "Verbatim" and "qa-diff" not in verbatim
    ((passage,),) = [assert_passages_verbatim(verbatim, corpus)]
    assert passage.text == NOTE_SENTENCE and passage.marked == ""
    assert verdict_of(not_found) == "Not found"
    assert "Closest passages (not a match):" in not_found
    assert not_found.count('<span class="qa-badge">Not a match</span>') == len(shown_passages(not_found)) >= 1
    assert_passages_verbatim(not_found, corpus)


def test_a_speaker_and_date_that_disagree_with_the_record_are_flagged(corpus: Path) -> None:
    import datetime as dt

    at = check(check_mode(), "What is China’s comment?", speaker="Zhao Lijian", date=dt.date(2022, 7, 28))

    (result,) = results(at)
    assert verdict_of(result) == "Verbatim"
    assert '<span class="qa-verdict-badge qa-misattributed">Misattributed</span>' in result
    assert "Attributed to Zhao Lijian on 28 July 2022, but said by China Daily on 28 July 2022." in result


def test_an_empty_quotation_is_a_message(corpus: Path) -> None:
    at = check(check_mode(), "   ")
    assert [e.value for e in at.error] == ["The quotation is empty. Paste the words you want to check."]
    assert results(at) == []


def test_quotation_and_corpus_markup_are_shown_literally(corpus: Path) -> None:
    body = "The *budget* is <script>alert(1)</script> and [x](javascript:alert(2))."
    (corpus / "tricky.md").write_text(f"---\ntitle: Tricky <b>notes</b>\n---\n\n{body}\n", encoding="utf-8")
    at = check(check_mode(), "The *budget* is <script>alert(1)</script> and [y](javascript:alert(2)).")

    (result,) = results(at)
    assert verdict_of(result) == "Altered"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result and '<ins class="qa-ins">y</ins>' in result
    (passage,) = assert_passages_verbatim(result, corpus)
    assert (passage.text, passage.marked) == (body, "x")
    own = {COPY_ON_CLICK, SCROLL_TO_CITED}
    everything = "".join(e.value for e in [*at.html, *at.markdown, *at.caption] if e.value not in own)
    assert "<script" not in everything and 'href="javascript' not in everything


def test_checks_are_kept_cleared_and_exported(corpus: Path) -> None:
    at = check(check_mode(), TEN_YEARS)
    assert not at.download_button(key="download_checks").disabled

    at.button(key="clear_checks").click().run()

    assert results(at) == []
    assert at.download_button(key="download_checks").disabled


# --- With the real model: the "done when" in the browser ------------------------------------------


@pytest.mark.integration
def test_done_when_the_three_checks_give_the_same_verdicts_in_the_app(real_corpus: Path) -> None:
    at = check(check(check(check_mode(), TEN_YEARS), NOTE_SENTENCE), MADE_UP)

    not_found, verbatim, altered = results(at)
    assert verdict_of(altered) == "Altered"
    assert NOTE_CITATION in altered and '<del class="qa-del">six</del> <ins class="qa-ins">ten</ins>' in altered
    assert verdict_of(verbatim) == "Verbatim" and NOTE_SENTENCE.replace("'", "&#x27;") in verbatim
    assert verdict_of(not_found) == "Not found"
    for result in (altered, verbatim, not_found):
        assert_passages_verbatim(result, real_corpus)


def test_a_claimed_speaker_is_not_confirmed_by_a_document_that_names_no_one(corpus: Path) -> None:
    """Issue 22: words in a file with no author or speaker are not green Verbatim when a speaker is claimed."""
    camps = "We will open all camps to inspection tomorrow."
    (corpus / "press-notes.txt").write_text(f"Press notes\nZhao Lijian: {camps}\n", encoding="utf-8")
    at = check_mode()

    (result,) = results(check(at, camps, speaker="Zhao Lijian"))

    assert 'qa-verdict-badge qa-unattributed">Unattributed<' in result
    assert "qa-verdict-badge qa-verbatim" not in result
    assert "the source does not say who said this" in html.unescape(result)
    (latest, _) = results(check(at, camps))  # the same words, no speaker claimed: they are in the corpus
    assert 'qa-verdict-badge qa-verbatim">Verbatim<' in latest


# --- A long paste, sentence by sentence; markup removed (issue 22, point 7) ----------------------------------


def pastes(at: AppTest) -> list[str]:
    """The HTML of each paste checked sentence by sentence, latest first."""
    return [e.value for e in at.html if e.value.startswith('<div class="qa-check qa-paste">')]


def test_a_long_paste_is_checked_sentence_by_sentence_and_shown_literally(corpus: Path) -> None:
    note = (corpus / f"{NOTE}.txt").read_text(encoding="utf-8").strip()
    script = "&lt;script&gt;alert(1)&lt;/script&gt; is what the page said."  # decoded, it is text to show
    at = check(check_mode(), f"{note}\n\n{script}\n\n{MADE_UP}\n\n{note}")

    (result,) = pastes(at)
    assert results(at) == []
    assert '<span class="qa-verdict-badge qa-mixed">Mixed</span>' in result
    assert "36 sentences, checked one by one: 34 verbatim (as 2 passages), 2 not found." in result
    assert '<p class="qa-muted qa-note">Markup removed before matching: HTML entities decoded.</p>' in result
    labels = re.findall(r'<p class="qa-part-label">([^<]+)</p>', result)
    assert labels == ["Sentences 1–17", "Sentence 18", "Sentence 19", "Sentences 20–36"]
    passages = assert_passages_verbatim(result, corpus)
    assert [(p.doc_id, p.text) for p in passages] == [(NOTE, note), (NOTE, note)]  # none for a sentence not found
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is what the page said." in result
    own = {COPY_ON_CLICK, SCROLL_TO_CITED}
    everything = "".join(e.value for e in [*at.html, *at.markdown, *at.caption] if e.value not in own)
    assert "<script" not in everything


def test_a_sentence_wrapped_in_html_is_verbatim_with_markup_removed(corpus: Path) -> None:
    sentence = "They are about countering violent terrorism, radicalization and separatism."
    at = check(check_mode(), f"<p><b>{sentence}</b></p>")

    (result,) = results(at)
    assert verdict_of(result) == "Verbatim"
    assert '<p class="qa-muted qa-note">Markup removed before matching: HTML tags.</p>' in result
    (passage,) = assert_passages_verbatim(result, corpus)
    assert (passage.doc_id, passage.text) == (NOTE, sentence)


def test_a_paste_over_the_limit_says_what_was_left_out(corpus: Path) -> None:
    pasted = "The harbour office counted the boats again this year. " * 400

    (result,) = pastes(check(check_mode(), pasted))

    assert "The text is 21,599 characters long and the limit is 20,000: only its first 19,979 characters" in result
    assert "the rest (1,620 characters) was not." in result
