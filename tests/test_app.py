"""The Streamlit app through AppTest: chat, not found, filters, follow-ups, document view, uploads, escaping.

Most tests swap the real model for a bag-of-words embedder (fast, deterministic); the
ones marked `integration` run the real model on a copy of the seed corpus.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from app import COPY_ON_CLICK, SCROLL_TO_CITED
from assistant.corpus import upload_label
from assistant.engine import QuoteEngine
from assistant.errors import QuestionError
from assistant.export import conversation_markdown, markdown_escape
from assistant.uploads import list_uploads
from tests.apphelpers import (
    APP,
    FAKE_THRESHOLD,
    NOTE,
    PRESS,
    REPO,
    SEED_CORPUS,
    point_app_at,
    shown_passages,
    source_text,
    use_fake_embedder,
)

TERRORISM = "What do the documents say about terrorism?"
BEST_SENTENCE = "They are about countering violent terrorism, radicalization and separatism."
NOTE_ATTRIBUTION = (
    "According to Permanent Mission of the People's Republic of China to the United Nations, "
    "note verbale CMS (2023), 14 September 2023, ¶6:"
)
NOT_FOUND = "No passage in the corpus answers this question."
DOCUMENT_HTML = '<div class="qa-document">'
IN_CONTEXT = '<details class="qa-in-context"><summary>In context</summary>'
TRICKY_MD = """---
title: "Tricky *notes* <b>bold</b>"
author: "Team _underscore_"
date: 2024-05-01
---

# Heading that must stay a hash

The *budget* of __project__ is <script>alert("pwned")</script> and [click here](javascript:alert(1)) & $5.
"""


# --- Fixtures and small helpers ---------------------------------------------------------------------------


def start_app(query: dict[str, str] | None = None) -> AppTest:
    """Run the app once, as a browser opening it (with these query parameters)."""
    for variable in ("ASSISTANT_CORPUS", "ASSISTANT_INDEX"):  # never the repository's corpus/ or embeddings/
        assert not Path(os.environ[variable]).resolve().is_relative_to(REPO), variable
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception
    return at


def page_html(at: AppTest) -> str:
    return "\n".join(element.value for element in at.html)


def quote_cards(at: AppTest) -> list[str]:
    """The HTML of each quote's box shown in the chat (the quote, then its context), in order."""
    return [element.value for element in at.html if element.value.startswith('<div class="qa-card">')]


def quotes_html(at: AppTest) -> list[str]:
    """The HTML of each quote shown in the chat, without its context, in order."""
    return [card.split(IN_CONTEXT)[0] for card in quote_cards(at)]


def context_of(card: str) -> str:
    """The HTML folded under a quote's "In context"."""
    return card.split(IN_CONTEXT)[1]


def chat_quotes(at: AppTest) -> list:
    """The quoted passages (not their context) shown in the chat, in order."""
    return [p for body in quotes_html(at) for p in shown_passages(body)]


def bold_lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def copied_text(quote_card: str) -> str:
    """What the quote card's copy button puts on the clipboard."""
    (value,) = re.findall(r'<button type="button" class="qa-copy" data-copy="([^"]*)">', quote_card)
    return html.unescape(value)


def link_of(quote_card: str) -> dict[str, str]:
    """The query parameters of the 'Open in the document' link of a quote card."""
    (href,) = re.findall(r'<a href="\?([^"]+)" target="_blank">Open in the document', quote_card)
    return dict(parse_qsl(html.unescape(href)))


def assert_verbatim(at: AppTest, corpus: Path) -> int:
    """Every passage on the page shows exactly its source text at its offsets; return how many were checked."""
    passages = shown_passages(page_html(at))
    for passage in passages:
        assert passage.text == source_text(corpus, passage.doc_id)[passage.start : passage.end]
        assert passage.tags <= {"mark"}, f"only <mark> may be inside a passage, found {passage.tags}"
        assert passage.marked in passage.text
    return len(passages)


# --- Start ------------------------------------------------------------------------------------------------


def test_first_start_builds_the_missing_index_and_lists_the_corpus(corpus: Path, tmp_path: Path) -> None:
    assert not (tmp_path / "index").exists()

    at = start_app()

    assert (tmp_path / "index" / "CURRENT").is_file()
    assert [toast.value for toast in at.toast] == ["Index built: 2 documents, 16 passages."]
    assert [e.label for e in at.sidebar.expander] == ["Corpus: 2 documents, 16 passages"]
    corpus_list = at.sidebar.html[0].value
    assert f'href="?doc={PRESS}"' in corpus_list and f'href="?doc={NOTE}"' in corpus_list
    assert "Zhao Lijian · 28 July 2022 · 5 passages" in corpus_list
    assert "Permanent Mission of the People&#x27;s Republic of China to the United Nations · 14 September 2023" in (
        corpus_list
    )
    assert at.chat_input(key="question")
    assert sorted(p.name for p in corpus.iterdir()) == sorted(p.name for p in SEED_CORPUS.iterdir())


def test_the_sidebar_reads_the_corpus_once_not_on_every_run(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    documents, people = QuoteEngine.documents, QuoteEngine.people
    monkeypatch.setattr(QuoteEngine, "documents", lambda engine: calls.append("documents") or documents(engine))
    monkeypatch.setattr(QuoteEngine, "people", lambda engine: calls.append("people") or people(engine))

    at = start_app()
    assert "people" in calls  # read when the engine is opened
    calls.clear()
    ask(ask(at, TERRORISM), "human rights")
    at.toggle(key="strict").set_value(True).run()
    other_session = start_app()

    assert calls == []
    assert [e.label for e in other_session.sidebar.expander] == ["Corpus: 2 documents, 16 passages"]
    assert other_session.sidebar.multiselect(key="filter_people").options == [
        "China Daily",
        "Ministry of Foreign Affairs of the People's Republic of China",
        "Permanent Mission of the People's Republic of China to the United Nations",
        "Zhao Lijian",
    ]


def test_engine_is_opened_once_and_shared_by_sessions(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    original = QuoteEngine.open.__func__

    def counting_open(cls, *args, **kwargs):  # engines made (a first try on a missing index makes none)
        engine = original(cls, *args, **kwargs)
        opened.append(engine)
        return engine

    monkeypatch.setattr(QuoteEngine, "open", classmethod(counting_open))
    first, second = start_app(), start_app()
    ask(first, TERRORISM)
    ask(second, "human rights")

    assert len(opened) == 1
    assert [m.text[0].value for m in second.chat_message if m.name == "user"] == ["human rights"]  # own history


def test_a_broken_corpus_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point_app_at(monkeypatch, tmp_path / "missing-corpus", tmp_path / "index", threshold=FAKE_THRESHOLD)
    use_fake_embedder(monkeypatch)

    at = start_app()

    assert [e.value for e in at.error] == [
        markdown_escape(f"The corpus folder {tmp_path / 'missing-corpus'} does not exist.")
    ]


# --- The chat ---------------------------------------------------------------------------------------------


def test_question_shows_summary_quote_highlight_attribution_link_context_and_copy(corpus: Path) -> None:
    at = ask(start_app(), TERRORISM)

    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert at.chat_message[0].text[0].value == TERRORISM
    assert bold_lines(at) == ["**1 passage from 1 document**"]
    card = quotes_html(at)[0]
    assert f"[1] {html.escape(NOTE_ATTRIBUTION)}" in card
    (quote,) = shown_passages(card)
    note = source_text(corpus, NOTE)
    assert (quote.doc_id, quote.text) == (NOTE, note[quote.start : quote.end])
    assert quote.text.startswith("The issues related to Xinjiang are not about human rights.")
    assert quote.marked == BEST_SENTENCE
    assert link_of(card) == {"doc": NOTE, "start": str(quote.start), "end": str(quote.end)}
    context = shown_passages(context_of(quote_cards(at)[0]))  # "In context": before, the quote, after
    assert [p.text for p in context] == [
        note[context[0].start : context[0].end],
        quote.text,
        note[context[2].start : context[2].end],
    ]
    assert context[0].text.startswith("It's clear to all") and context[2].text.startswith("In recent years")
    assert copied_text(card) == f"“{quote.text}”\n— {NOTE_ATTRIBUTION[len('According to ') : -1]}"


def test_conversation_is_kept_replayed_and_cleared(corpus: Path) -> None:
    at = ask(ask(start_app(), TERRORISM), "What did Zhao Lijian say about the assessment?")
    at.toggle(key="strict").set_value(True).run()  # any rerun replays the conversation

    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "assistant"]
    assert [m.text[0].value for m in at.chat_message if m.name == "user"] == [
        TERRORISM,
        "What did Zhao Lijian say about the assessment?",
    ]
    assert not at.download_button(key="download_chat").disabled

    at.button(key="clear_chat").click().run()

    assert not at.exception
    assert len(at.chat_message) == 0
    assert at.download_button(key="download_chat").disabled


def test_not_found_says_so_and_shows_closest_passages_collapsed_and_marked(corpus: Path) -> None:
    at = ask(start_app(), "chocolate cake recipe")

    assert NOT_FOUND in [m.value for m in at.markdown]
    assert bold_lines(at) == []
    (closest,) = [e for e in at.expander if e.label.startswith("Closest passages")]
    assert closest.label == "Closest passages (5), not a match"
    assert closest.proto.expanded is False
    cards = quotes_html(at)
    assert len(cards) == 5
    assert all('<span class="qa-badge">Not a match</span>' in card for card in cards)


def test_strict_hides_weak_matches(corpus: Path) -> None:
    at = start_app()
    at.toggle(key="strict").set_value(True).run()
    ask(at, "chocolate cake recipe")

    assert NOT_FOUND in [m.value for m in at.markdown]
    assert quotes_html(at) == []

    ask(at, TERRORISM)
    assert len(quotes_html(at)) == 1 and "Not a match" not in quotes_html(at)[0]


def test_question_error_is_shown_in_the_chat(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise QuestionError("The question is 2,001 characters long; the limit is 2,000. Ask about one thing at a time.")

    monkeypatch.setattr(QuoteEngine, "ask", refuse)
    at = ask(start_app(), "why")

    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert [e.value for e in at.error] == [
        markdown_escape("The question is 2,001 characters long; the limit is 2,000. Ask about one thing at a time.")
    ]


def test_a_huge_paste_is_cut_to_the_limit_with_a_message_and_echoed_short(corpus: Path) -> None:
    # The browser drops a paste longer than the box's limit whole, so the limit is far above the question's.
    assert start_app().chat_input(key="question").proto.max_chars == 100_000
    at = ask(start_app(), "why terrorism " * 5_000)  # 70,000 characters: the box takes it, the app cuts it
    (echoed,) = [m.text[0].value for m in at.chat_message if m.name == "user"]
    assert echoed == ("why terrorism " * 50)[:500] + "… (2,000 characters in all, the most a question may have)"
    (user,) = [m for m in at.chat_message if m.name == "user"]
    assert [c.value for c in user.caption] == [
        "You pasted 70,000 characters; only the first 2,000 were searched, the most a question may have."
    ]
    assert not at.error and quote_cards(at), "the cut question is answered"


@pytest.mark.parametrize("blank", ["   ", "\n\t \n", "\x00\x07"])
def test_a_blank_question_is_refused_without_a_bubble(corpus: Path, blank: str) -> None:
    at = ask(start_app(), blank)

    assert len(at.chat_message) == 0
    assert [w.value for w in at.warning] == [
        markdown_escape("The question is empty. Type a question, for example: What was said about terrorism?")
    ]
    ask(at, TERRORISM)
    assert [m.name for m in at.chat_message] == ["user", "assistant"] and not at.warning


def test_an_unexpected_failure_shows_no_details_and_is_logged(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(*args, **kwargs):
        raise RuntimeError("secret detail: /srv/private/path")

    monkeypatch.setattr(QuoteEngine, "ask", fail)
    at = ask(start_app(), TERRORISM)

    assert [e.value for e in at.error] == ["Something went wrong on the server. The details are in its log."]
    assert "secret detail" not in str(at)
    (record,) = [r for r in caplog.records if r.name == "quotefirst.app"]
    assert record.exc_info[0] is RuntimeError and "secret detail" in str(record.exc_info[1])


# --- Filters, number of quotes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "value", "expected_docs", "scope"),
    [
        ("multiselect", "filter_documents", [PRESS], {PRESS}, "Filtered: 1 document"),
        ("multiselect", "filter_people", ["Zhao Lijian"], {PRESS}, "Filtered: Zhao Lijian"),
        ("date_input", "filter_from", dt.date(2023, 1, 1), {NOTE}, "Filtered: from 2023-01-01"),
        ("date_input", "filter_to", dt.date(2022, 12, 31), {PRESS}, "Filtered: until 2022-12-31"),
    ],
)
def test_filters_restrict_the_quotes(corpus: Path, kind: str, key: str, value, expected_docs: set, scope: str) -> None:
    at = start_app()
    widget = getattr(at, kind)(key=key)
    widget.set_value(value).run()
    ask(at, "human rights")

    quotes = chat_quotes(at)
    assert quotes and {q.doc_id for q in quotes} == expected_docs
    assert scope in [c.value for c in at.caption]
    if key == "filter_people":
        assert all("According to Zhao Lijian," in card for card in quotes_html(at))


def test_filters_that_exclude_everything_say_so(corpus: Path) -> None:
    at = start_app()
    at.date_input(key="filter_from").set_value(dt.date(2025, 1, 1)).run()
    ask(at, "human rights")

    assert "No document matches the filters." in [m.value for m in at.markdown]
    assert quotes_html(at) == []


def test_number_of_quotes(corpus: Path) -> None:
    at = start_app()
    at.slider(key="top_k").set_value(2).run()
    ask(at, "human rights")

    assert len(quotes_html(at)) == 2


# --- Follow-ups and phrases -------------------------------------------------------------------------------


def test_follow_up_is_searched_with_the_previous_question(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = QuoteEngine.ask

    def recording_ask(self, question, *args, **kwargs):
        calls.append((question, kwargs.get("previous")))
        return original(self, question, *args, **kwargs)

    monkeypatch.setattr(QuoteEngine, "ask", recording_ask)
    first = "What did Zhao Lijian say about the assessment?"
    at = ask(ask(start_app(), first), "And what did they ask for?")

    assert calls == [(first, None), ("And what did they ask for?", first)]
    assert f"Read as a follow-up; searched for: {first} And what did they ask for?" in [c.value for c in at.caption]


def test_a_question_with_its_own_subject_is_not_read_as_a_follow_up(corpus: Path) -> None:
    """Issue 22: the first question, steered, shows no "searched for"; a "Why did X ..." is not glued to it."""
    at = ask(start_app(), "What did Zhao Lijian say about the NGOs in July 2022?")
    assert not [c.value for c in at.caption if "follow-up" in c.value]

    ask(at, "Why did the High Commissioner visit China?")
    assert not [c.value for c in at.caption if "follow-up" in c.value]

    ask(at, "Why?")
    follow_ups = [c.value for c in at.caption if "follow-up" in c.value]
    assert follow_ups == ["Read as a follow-up; searched for: Why did the High Commissioner visit China? Why?"]


def test_quoted_phrase_shows_only_passages_containing_it(corpus: Path) -> None:
    at = ask(start_app(), 'Who asked for "unfettered access"?')

    quotes = chat_quotes(at)
    assert bold_lines(at) == ["**1 passage from 1 document**"]
    assert len(quotes) == 1 and "“unfettered access”" in quotes[0].text
    assert quotes[0].marked.startswith("After the decision to visit China was made")


# --- Verbatim and literal display -------------------------------------------------------------------------


def test_every_passage_shown_is_exactly_the_source_text(corpus: Path) -> None:
    at = start_app()
    for question in [TERRORISM, "human rights", "What did the NGOs write in the letter?", "chocolate cake"]:
        ask(at, question)

    quotes = chat_quotes(at)
    assert len(quotes) == 4 * 5
    assert assert_verbatim(at, corpus) >= 2 * len(quotes)  # each quote is shown again in its context


def test_markdown_and_script_in_a_document_show_literally(corpus: Path) -> None:
    (corpus / "tricky.md").write_text(TRICKY_MD, encoding="utf-8")
    at = ask(start_app(), 'What about "click here"?')

    (card,) = quotes_html(at)
    (quote,) = shown_passages(card)
    body = TRICKY_MD[TRICKY_MD.index("The *budget*") :].rstrip("\n")
    assert quote.text == body
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in card
    assert "Team _underscore_, Tricky *notes* &lt;b&gt;bold&lt;/b&gt;, 1 May 2024, ¶2" in card
    own_scripts = {COPY_ON_CLICK, SCROLL_TO_CITED}
    everything = "".join(e.value for e in [*at.html, *at.markdown, *at.caption] if e.value not in own_scripts)
    assert "<script" not in everything
    assert 'href="javascript' not in everything
    assert copied_text(card).startswith('“The *budget* of __project__ is <script>alert("pwned")</script> and [click')
    assert_verbatim(at, corpus)

    document = start_app({"doc": "tricky"})
    page = page_html(document)
    assert '<div class="qa-text" data-doc="tricky"' in page
    assert "># Heading that must stay a hash</div>" in page
    assert '<h2 class="qa-title">Tricky *notes* &lt;b&gt;bold&lt;/b&gt;</h2>' in page
    assert "<script" not in "".join(e.value for e in document.html if e.value not in own_scripts)
    assert_verbatim(document, corpus)


# --- The document view ------------------------------------------------------------------------------------


def test_link_from_the_chat_opens_the_document_at_the_passage(corpus: Path) -> None:
    chat = ask(start_app(), TERRORISM)
    params = link_of(quotes_html(chat)[0])

    at = start_app(params)  # a new session, as a new tab or a reload would be

    assert len(at.chat_input) == 0
    page = page_html(at)
    assert '<h2 class="qa-title">Note verbale CMS (2023) to all Permanent Missions' in page
    assert "<dt>Date</dt><dd>14 September 2023</dd>" in page and "<dt>Place</dt><dd>New York</dd>" in page
    assert [f"¶{n}" for n in range(1, 12)] == re.findall(r'<span class="qa-pnum">(¶\d+)</span>', page)
    start, end = int(params["start"]), int(params["end"])
    (cited,) = re.findall(r'<mark class="qa-cited-text" id="cited-passage">(.*?)</mark>', page, re.DOTALL)
    assert html.unescape(cited) == source_text(corpus, NOTE)[start:end]
    assert BEST_SENTENCE in html.unescape(cited)
    assert [c.value for c in at.caption] == [f"Cited passage: ¶6, characters {start:,}–{end:,}, highlighted below."]
    assert any("scrollIntoView" in element.value for element in at.html)
    assert assert_verbatim(at, corpus) == 11  # the whole document, paragraph by paragraph


def test_document_without_a_range_shows_everything_unmarked(corpus: Path) -> None:
    at = start_app({"doc": PRESS})

    page = page_html(at)
    assert "<mark" not in page
    assert assert_verbatim(at, corpus) == 5
    assert not at.warning and not at.error


def test_the_seed_notes_chinese_letterhead_shows_as_its_first_paragraph(corpus: Path) -> None:
    page = page_html(start_app({"doc": NOTE}))
    first = re.search(r'<span class="qa-pnum">¶1</span><div class="qa-text"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert first is not None and first.group(1) == "中华人民共和国常驻联合国代表团"


@pytest.mark.parametrize(
    "doc",
    [
        "no-such-document",
        "../../../../etc/passwd",
        "/etc/passwd",
        f"{NOTE}.txt",
        "catalog",
        f"../corpus/{NOTE}",
        "",
    ],
)
def test_unknown_document_is_a_clear_message_and_reads_nothing(corpus: Path, doc: str) -> None:
    at = start_app({"doc": doc})

    assert [e.value for e in at.error] == [
        markdown_escape(f"There is no document “{doc}” in the corpus. Choose one from the sidebar.")
    ]
    assert DOCUMENT_HTML not in page_html(at)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("0", "99999", "The range 0–99,999 is outside this document, which has 2,488 characters"),
        ("500", "400", "The range 500–400 is outside this document"),
        ("abc", "10", "not two whole numbers"),
        ("-5", "10", "not two whole numbers"),
        ("10", None, "only one end of the passage"),
    ],
)
def test_bad_range_is_a_clear_message_and_the_document_still_shows(
    corpus: Path, start: str, end: str | None, message: str
) -> None:
    query = {"doc": NOTE, "start": start} | ({"end": end} if end is not None else {})
    at = start_app(query)

    assert len(at.warning) == 1 and message in at.warning[0].value.replace("\\", "")
    assert "<mark" not in page_html(at)
    assert assert_verbatim(at, corpus) == 11


def test_back_to_the_chat_keeps_the_conversation(corpus: Path) -> None:
    at = ask(start_app(), TERRORISM)
    at.query_params.update(link_of(quotes_html(at)[0]))
    at.run()
    assert DOCUMENT_HTML in page_html(at)

    at.button(key="back_to_chat").click().run()

    assert not at.exception
    assert at.query_params == {}
    assert [m.name for m in at.chat_message] == ["user", "assistant"]


# --- Uploads ----------------------------------------------------------------------------------------------


def corpus_snapshot(corpus: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in corpus.iterdir()}


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/plain") -> AppTest:
    at.sidebar.file_uploader[0].set_value((name, data, mime)).run()
    at.button(key="add_documents").click().run()
    assert not at.exception, at.exception
    return at


def test_upload_of_a_good_file_adds_it_to_corpus_index_and_answers(corpus: Path, tmp_path: Path) -> None:
    data = b"---\ntitle: Budget notes\nauthor: Treasury\ndate: 2024-03-01\n---\n\nIrrigation canals got more money.\n"
    at = upload(start_app(), "Budget notes.md", data, "text/markdown")

    success = "Added Budget-notes.md, marked as uploaded. The corpus now has 3 documents."
    assert [s.value for s in at.main.success] == [success]  # at the top of the page, not under the sidebar
    assert (corpus / "Budget-notes.md").read_bytes() == data
    assert [e.label for e in at.sidebar.expander] == ["Corpus: 3 documents, 17 passages"]
    assert at.sidebar.file_uploader[0].value == []  # a fresh uploader for the next file

    ask(at, "irrigation canals")
    card = quotes_html(at)[0]
    (record,) = list_uploads(corpus)
    uploaded = f"Budget notes ({upload_label(record.uploaded)})"
    assert f"According to Treasury, {uploaded}, 1 March 2024, ¶1:" in card
    assert copied_text(card).endswith(f"— Treasury, {uploaded}, 1 March 2024, ¶1")
    exported = conversation_markdown([at.session_state.history[-1].answer])  # what "Download .md" holds
    assert f"— Treasury, {markdown_escape(uploaded)}, 1 March 2024, ¶1" in exported
    assert link_of(card)["doc"] == "Budget-notes"
    assert_verbatim(at, corpus)

    other_session = start_app()  # every session sees the updated engine
    assert [e.label for e in other_session.sidebar.expander] == ["Corpus: 3 documents, 17 passages"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("scan.pdf", b"%PDF-1.4 not really a PDF", "scan.pdf cannot be added: unreadable PDF"),
        ("latin1.txt", "café crème".encode("latin-1"), "latin1.txt cannot be added: not UTF-8 text"),
        ("copy.txt", None, f"copy.txt is already in the corpus as {NOTE}.txt (same content); not added."),
        (
            "zhao.md",
            b"---\ntitle: Remarks\nspeaker: Zhao Lijian\n---\n\nWords he never said.\n",
            "zhao.md cannot be added: it names Zhao Lijian as its speaker, who is the speaker of a catalogued",
        ),
        ("broken.md", b"---\ntitle: T\n  author: x\n---\n\nText.\n", "broken.md cannot be added: front matter is"),
    ],
)
def test_upload_of_a_bad_file_is_refused_and_changes_nothing(
    corpus: Path, tmp_path: Path, name: str, data: bytes | None, message: str
) -> None:
    data = data if data is not None else (corpus / f"{NOTE}.txt").read_bytes()
    at = start_app()
    before, current = corpus_snapshot(corpus), (tmp_path / "index" / "CURRENT").read_text()

    upload(at, name, data)

    assert len(at.main.error) == 1 and at.main.error[0].value.replace("\\", "").startswith(message)
    assert not at.success
    assert corpus_snapshot(corpus) == before
    assert (tmp_path / "index" / "CURRENT").read_text() == current
    assert [e.label for e in at.sidebar.expander] == ["Corpus: 2 documents, 16 passages"]


def test_a_30_mb_upload_gets_a_message_saying_the_limit(corpus: Path) -> None:
    at = start_app()
    assert at.sidebar.file_uploader[0].proto.max_upload_size_mb == 100  # Streamlit lets it through to the app
    before = corpus_snapshot(corpus)
    upload(at, "big.txt", b"Irrigation canals. " * (30 * 1024 * 1024 // 19))

    assert [e.value for e in at.main.error] == [
        markdown_escape("big.txt cannot be added: it is 30.0 MB; the limit is 10.0 MB.")
    ]
    assert corpus_snapshot(corpus) == before


def test_upload_of_good_and_bad_files_together_adds_only_the_good(corpus: Path) -> None:
    at = start_app()
    at.sidebar.file_uploader[0].set_value(
        [("good.txt", b"Fisheries quotas were discussed.", "text/plain"), ("bad.pdf", b"junk", "application/pdf")]
    ).run()
    at.button(key="add_documents").click().run()

    assert not at.exception
    assert [s.value for s in at.success] == ["Added good.txt, marked as uploaded. The corpus now has 3 documents."]
    assert len(at.error) == 1 and "bad.pdf cannot be added" in at.error[0].value
    assert (corpus / "good.txt").is_file() and not (corpus / "bad.pdf").exists()


def test_an_uploaded_document_says_so_in_its_view_and_can_be_removed(corpus: Path, tmp_path: Path) -> None:
    data = b"---\ntitle: Budget notes\nauthor: Treasury\n---\n\nIrrigation canals got more money.\n"
    at = upload(start_app(), "Budget notes.md", data, "text/markdown")
    (record,) = list_uploads(corpus)

    view = start_app({"doc": "Budget-notes"})
    assert [i.value for i in view.info] == [
        markdown_escape(
            f"Uploaded through the app ({upload_label(record.uploaded)}, as “Budget notes.md”). "
            "Its title, author and date are as the uploader gave them; they are not verified."
        )
    ]
    assert f'<h2 class="qa-title">Budget notes ({upload_label(record.uploaded)})</h2>' in page_html(view)
    assert not start_app({"doc": NOTE}).info  # a catalogued document is not an upload

    at.button(key="remove_upload_Budget-notes.md").click().run()

    assert not at.exception, at.exception
    assert [s.value for s in at.main.success] == ["Removed Budget-notes.md. The corpus now has 2 documents."]
    assert not (corpus / "Budget-notes.md").exists() and list_uploads(corpus) == []
    assert [e.label for e in at.sidebar.expander] == ["Corpus: 2 documents, 16 passages"]
    assert not [b for b in at.button if b.key and b.key.startswith("remove_upload_")]


@pytest.mark.parametrize(
    ("address", "setting", "allowed"),
    [
        ("localhost", None, True),
        ("0.0.0.0", None, False),  # served on the network: off unless asked for
        ("0.0.0.0", "on", True),
        ("localhost", "off", False),
    ],
)
def test_uploads_are_off_on_a_network_unless_turned_on(
    corpus: Path, monkeypatch: pytest.MonkeyPatch, address: str, setting: str | None, allowed: bool
) -> None:
    from streamlit import config

    if setting is None:
        monkeypatch.delenv("ASSISTANT_UPLOADS", raising=False)
    else:
        monkeypatch.setenv("ASSISTANT_UPLOADS", setting)
    previous = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        at = start_app()
    finally:
        config.set_option("server.address", previous)

    assert bool(at.sidebar.file_uploader) is allowed
    if not allowed:
        assert "Adding documents is turned off on this server." in [c.value for c in at.sidebar.caption]


def test_the_sidebar_date_fields_are_one_above_the_other(corpus: Path) -> None:
    at = start_app()

    assert [d.label for d in at.sidebar.date_input] == ["From", "Until"]
    assert not [column for column in at.sidebar.columns if column.date_input]  # side by side, they were cut off


# --- With the real model (the "done when") --------------------------------------------------------


@pytest.mark.integration
def test_done_when_terrorism_question_quotes_the_note_and_links_to_it(real_corpus: Path) -> None:
    at = ask(start_app(), TERRORISM)

    assert re.fullmatch(r"\*\*\d+ passages? from \d+ documents?\*\*", bold_lines(at)[0])
    card = next(card for card in quotes_html(at) if "countering violent terrorism" in card)
    assert "Not a match" not in card
    assert html.escape(NOTE_ATTRIBUTION) in card
    (quote,) = shown_passages(card)
    assert quote.marked == BEST_SENTENCE
    assert quote.text == source_text(real_corpus, NOTE)[quote.start : quote.end]

    document = start_app(link_of(card))
    (cited,) = re.findall(r'<mark class="qa-cited-text" id="cited-passage">(.*?)</mark>', page_html(document), re.S)
    assert html.unescape(cited) == quote.text


@pytest.mark.integration
def test_quotes_are_shown_in_the_engines_order_down_to_the_last_match(real_corpus: Path, real_engine) -> None:
    # The model ranks the passage on "harmony among ethnic groups" first but doubts it (19%, cosine under the
    # threshold), and the one after it is a match by meaning. The chat keeps the engine's order, as the CLI,
    # the JSON and the export do: the best-ranked passage first, marked as not a match.
    question = "What does the note say about relations between ethnic groups?"
    at = ask(start_app(), question)
    engine_order = real_engine.ask(question, top_k=5).quotes  # the seed corpus too: the same offsets
    last = max(i for i, q in enumerate(engine_order) if q.is_match)
    assert not engine_order[0].is_match and last >= 1
    cards = quotes_html(at)
    shown = [passage for card in cards[: last + 1] for passage in shown_passages(card)]
    assert [(p.start, p.end) for p in shown] == [(q.start, q.end) for q in engine_order[: last + 1]]
    assert "Not a match" in cards[0] and "Not a match" not in cards[last]


@pytest.mark.integration
def test_real_follow_up_not_found_and_verbatim(real_corpus: Path) -> None:
    at = ask(start_app(), "What did Zhao Lijian say about the assessment?")
    ask(at, "And what did the NGOs ask for?")
    ask(at, "What is the recipe for chocolate cake?")

    captions = [c.value for c in at.caption]
    assert (
        "Read as a follow-up; searched for: What did Zhao Lijian say about the assessment? "
        "And what did the NGOs ask for?" in captions
    )
    assert NOT_FOUND in [m.value for m in at.markdown]
    assert assert_verbatim(at, real_corpus) > 10


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://bidenwhitehouse.archives.gov/briefing-room/x/",
            '<a class="qa-source" href="https://bidenwhitehouse.archives.gov/briefing-room/x/" target="_blank" '
            'rel="noopener">Source: bidenwhitehouse.archives.gov ↗</a>',
        ),
        ("javascript:alert(1)", '<span class="qa-source">Source: javascript:alert(1)</span>'),  # never a link
        (None, None),
    ],
)
def test_a_quote_card_links_the_source_when_the_document_has_one(url, shown):
    from assistant.answer import Quote
    from ui.render import quote_html

    text = "MS. PSAKI:\xa0 Well, it’s up to Congress."
    quote = Quote(
        "d",
        "/c/d.md",
        "Briefing",
        None,
        "Jen Psaki",
        "2021-04-08",
        3,
        0,
        len(text),
        text,
        0,
        len(text),
        0.5,
        "Jen Psaki (MS. PSAKI), Briefing, 8 April 2021, ¶3",
        speaker_label="MS. PSAKI",
        url=url,
        matched_by="model",
    )
    card = quote_html(quote)
    assert "According to Jen Psaki (MS. PSAKI), Briefing, 8 April 2021, ¶3:" in card
    if shown is None:
        assert "qa-source" not in card
    else:
        assert shown in card


# --- Steering ---------------------------------------------------------------------------------------------


def test_a_named_speaker_restricts_the_answer_visibly_and_one_click_removes_it(corpus: Path) -> None:
    at = ask(start_app(), "What did Zhao Lijian say about the assessment?")
    assert "Searched only: Zhao Lijian (named in the question)" in [c.value for c in at.caption]
    assert all("According to Zhao Lijian" in card for card in quotes_html(at))
    (button,) = [b for b in at.button if b.label == "Search the whole collection instead"]
    button.click().run()
    assert not at.exception, at.exception
    assert not [c.value for c in at.caption if c.value.startswith("Searched only")]
    assert not [b for b in at.button if b.label == "Search the whole collection instead"]
    assert len(at.chat_message) == 2  # the same turn, answered again: nothing added, nothing lost


def test_what_the_journalist_asked_is_the_reporters_turn_with_its_question_marked(corpus: Path) -> None:
    at = ask(start_app(), "What did the journalist ask the spokesperson?")
    assert "Searched only: reporters, in documents where Zhao Lijian speaks (named in the question)" in [
        c.value for c in at.caption
    ]
    (card,) = quotes_html(at)  # the seed press conference has one reporter's turn
    assert "According to China Daily" in card
    assert re.search(r"<mark[^>]*>What is China’s comment\?</mark>", card)


def test_when_nothing_from_the_named_speaker_answers_the_app_says_so(corpus: Path) -> None:
    at = ask(start_app(), "What did China Daily say about the note verbale in September 2023?")
    (note,) = [i.value for i in at.info if i.value.startswith("Nothing from")]
    assert "China Daily, September 2023" in note and "the whole collection was searched" in note
    assert quotes_html(at)


# --- Issue 22: the sidebar on a large collection, the lead line ---------------------------------------------


def test_the_sidebar_shows_the_filters_first_and_the_corpus_folded(corpus: Path) -> None:
    at = start_app()

    (listing,) = at.sidebar.expander
    assert listing.label == "Corpus: 2 documents, 16 passages" and listing.proto.expanded is False
    headers = [h.value for h in at.sidebar.header]
    assert headers[0] == "Search"
    order = [child.type for child in at.sidebar.children.values()]  # the filters come before the list
    assert order[:3] == ["radio", "header", "multiselect"] and order.index("expander") == order.index("toggle") + 1


def test_a_large_corpus_list_has_a_search_box(corpus: Path) -> None:
    for number in range(12):
        (corpus / f"memo-{number:02}.md").write_text(
            f"---\ntitle: Memo {number:02} on fisheries\nauthor: Office {'ABCDEFGHIJKL'[number]}\n"
            f"date: 2024-05-{number + 1:02}\n---\n\n"
            f"Memo number {number} is about fisheries.\n",
            encoding="utf-8",
        )
    at = start_app()
    assert at.sidebar.expander[0].label == "Corpus: 14 documents, 28 passages"
    find = at.sidebar.text_input(key="corpus_find")
    find.set_value("memo office h").run()  # every word: in the title or the author
    assert [c.value for c in at.sidebar.caption if "of 14" in c.value] == ["1 document of 14"]
    (listing,) = [h.value for h in at.sidebar.html if "qa-corpus" in h.value]
    assert "Memo 07 on fisheries" in listing and "Memo 08" not in listing and "Memo 06" not in listing
    at.sidebar.text_input(key="corpus_find").set_value("").run()
    (listing,) = [h.value for h in at.sidebar.html if "qa-corpus" in h.value]
    assert listing.count("<li>") == 14


def test_an_answer_leads_with_the_best_sentence_and_its_citation(corpus: Path) -> None:
    at = ask(start_app(), TERRORISM)

    (lead,) = [h.value for h in at.main.html if 'class="qa-lead"' in h.value]
    first_card = quote_cards(at)[0]
    (sentence,) = shown_passages(lead)
    (marked,) = [p.marked for p in shown_passages(first_card)[:1]]
    assert sentence.text == marked  # the top quote's highlight, exactly
    assert sentence.text == source_text(corpus, sentence.doc_id)[sentence.start : sentence.end]
    assert html.unescape(re.sub(r"<[^>]+>", "", lead)).endswith(copied_text(first_card).split("\n— ")[1])
