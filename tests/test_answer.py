"""Answers: quote fields, the JSON shape, citations, attribution wording, highlights."""

from __future__ import annotations

from assistant.answer import format_date

NOTE = "2023-09-14-china-un-mission-note-verbale"
QUOTE_KEYS = [
    "doc_id",
    "path",
    "title",
    "author",
    "speaker",
    "speaker_label",
    "date",
    "paragraph",
    "start",
    "end",
    "text",
    "highlight",
    "score",
    "citation",
    "url",
]


def test_json_has_exactly_the_documented_keys(fake_engine):
    data = fake_engine.ask("countering violent terrorism").to_json()
    assert list(data) == ["question", "answered", "quotes"]
    for quote in data["quotes"]:
        assert list(quote) == QUOTE_KEYS
        assert list(quote["highlight"]) == ["start", "end"]


def test_every_quote_and_highlight_is_the_file_text_at_its_offsets(fake_engine):
    for question in ["countering violent terrorism", "Bachelet visit", "anti-China event", "New York"]:
        for quote in fake_engine.ask(question, top_k=10).quotes:
            with open(quote.path, encoding="utf-8", newline="") as handle:
                source = handle.read()
            assert source[quote.start : quote.end] == quote.text
            assert quote.start <= quote.highlight_start < quote.highlight_end <= quote.end
            assert source[quote.highlight_start : quote.highlight_end] == quote.highlight


def test_citations_name_who_what_when_and_paragraph(fake_engine):
    quotes = {q.paragraph: q for q in fake_engine.ask("Xinjiang", top_k=16).quotes if q.doc_id != NOTE}
    assert quotes[3].citation == "Zhao Lijian, Ministry of Foreign Affairs regular press conference, 28 July 2022, ¶3"
    assert quotes[1].citation.startswith("China Daily, Ministry of Foreign Affairs regular press conference")
    note = fake_engine.ask("countering violent terrorism radicalization separatism").quotes[0]
    assert note.citation == (
        "Permanent Mission of the People's Republic of China to the United Nations, note verbale CMS (2023), "
        "14 September 2023, ¶6"
    )
    assert note.attribution == f"According to {note.citation}:"


def test_highlight_is_the_sentence_sharing_the_question_words(fake_engine):
    quote = fake_engine.ask("countering violent terrorism radicalization separatism").quotes[0]
    assert quote.highlight == "They are about countering violent terrorism, radicalization and separatism."


def test_summary_counts_passages_and_documents(fake_engine):
    answer = fake_engine.ask('"Xinjiang"', top_k=5)
    assert answer.summary == "5 passages from 2 documents"


def test_format_date():
    assert format_date("2023-09-14") == "14 September 2023"
    assert format_date("2023-09") == "September 2023"
    assert format_date("2023") == "2023"
    assert format_date(None) is None
