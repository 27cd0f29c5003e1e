"""Answers: quote fields, the JSON shape, citations, attribution wording, highlights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.answer import citation_for, format_date, names_date
from assistant.config import Settings
from assistant.corpus import Metadata
from assistant.engine import QuoteEngine
from assistant.index import DocumentInfo
from assistant.ingest import ingest
from assistant.passages import Passage
from assistant.search import Filters

PEOPLE = Path(__file__).resolve().parent / "data" / "people"
TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "transcripts"
GRANHOLM_URL = (
    "https://bidenwhitehouse.archives.gov/briefing-room/press-briefings/2021/04/08/"
    "press-briefing-by-press-secretary-jen-psaki-and-secretary-of-energy-jennifer-granholm-april-8-2021/"
)
# Constructed: a gaggle whose title does not name the press secretary, so her label stays as written.
UNNAMED_GAGGLE = """---
title: Press Gaggle Aboard Air Force One
date: 2021-05-05
---
MS. PSAKI:\xa0 Good morning.\xa0 The ATF nominee will be confirmed, we expect.

Q\xa0\xa0\xa0 Thanks.\xa0 Any update on the ATF nominee?

MS. PSAKI:\xa0 Nothing new on the nominee today.
"""

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
    "score_kind",
    "matched_by",
    "citation",
    "url",
]


def test_json_has_exactly_the_documented_keys(fake_engine):
    data = fake_engine.ask("countering violent terrorism").to_json()
    assert list(data) == ["question", "answered", "restricted_to", "restriction_note", "quotes"]
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


@pytest.fixture
def briefings_engine(tmp_path, fake_embedder) -> QuoteEngine:
    """The real transcript excerpts and one constructed gaggle, indexed with the fake embedder."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in TRANSCRIPTS.glob("*.md"):
        if path.name != "README.md":
            shutil.copyfile(path, corpus / path.name)
    (corpus / "2021-05-05-unnamed-gaggle.md").write_text(UNNAMED_GAGGLE, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake-bag-of-words", threshold=0.3)
    ingest(settings, fake_embedder)
    return QuoteEngine.open(settings, fake_embedder)


def test_a_briefing_quote_cites_speaker_label_document_date_paragraph_and_source(briefings_engine):
    answer = briefings_engine.ask('What did the press secretary say about his confirmation: "up to Congress"?')
    quote = next(q for q in answer.quotes if q.text.startswith("MS. PSAKI:\xa0 Well, it’s up to Congress."))
    assert (quote.speaker, quote.speaker_label, quote.date, quote.url) == (
        "Jen Psaki",
        "MS. PSAKI",
        "2021-04-08",
        GRANHOLM_URL,
    )
    assert quote.citation == (
        "Jen Psaki (MS. PSAKI), Press Briefing by Press Secretary Jen Psaki and Secretary of Energy Jennifer Granholm, "
        f"April 8, 2021, ¶27, {GRANHOLM_URL}"
    )
    assert quote.attribution == (
        "According to Jen Psaki (MS. PSAKI), Press Briefing by Press Secretary Jen Psaki and Secretary of Energy "
        "Jennifer Granholm, April 8, 2021, ¶27:"
    )
    data = json.loads(json.dumps(quote.to_json()))
    assert (data["speaker"], data["speaker_label"], data["url"]) == ("Jen Psaki", "MS. PSAKI", GRANHOLM_URL)


def test_a_reporters_question_is_cited_to_a_reporter(briefings_engine):
    answer = briefings_engine.ask('Was the White House worried about "an uphill battle"?')
    quote = next(q for q in answer.quotes if "uphill battle" in q.text and q.text.startswith("Q"))
    assert quote.citation.startswith("a reporter (Q), Press Briefing by Press Secretary Jen Psaki and Secretary")
    assert (quote.speaker, quote.speaker_label) == ("a reporter", "Q")


def test_people_across_briefings_are_listed_once_and_filter_as_one(briefings_engine):
    people = briefings_engine.people()
    assert "Jen Psaki" in people and "MS. PSAKI" not in people  # resolved elsewhere: the same person
    assert {"Karine Jean-Pierre", "Pete Buttigieg", "SENIOR ADMINISTRATION OFFICIAL", "a reporter"} <= set(people)
    assert len(people) == len(set(people))
    answer = briefings_engine.ask("ATF nominee", top_k=20, filters=Filters(people=("Jen Psaki",)))
    # every turn of hers is cited by her name, also where the briefing's title names no one
    assert {q.speaker for q in answer.quotes} == {"Jen Psaki"}
    assert all(q.speaker_label.endswith("PSAKI") for q in answer.quotes)  # MS. PSAKI, S. PSAKI...
    unnamed = next(q for q in answer.quotes if q.doc_id == "2021-05-05-unnamed-gaggle")
    assert unnamed.citation.startswith("Jen Psaki (MS. PSAKI), ")
    assert all(q.speaker_label != "Q" for q in answer.quotes)


def test_the_command_line_prints_the_source_link_under_a_quote(briefings_engine):
    from assistant.cli import _readable

    printed = _readable(briefings_engine.ask('"up to Congress"', top_k=1))
    assert "[1] According to Jen Psaki (MS. PSAKI), Press Briefing by Press Secretary Jen Psaki" in printed
    assert f"\n    Source: {GRANHOLM_URL}" in printed


@pytest.mark.parametrize(
    ("title", "iso", "named"),
    [
        ("Press Briefing by Press Secretary Jen Psaki, August 23, 2021", "2021-08-23", True),
        ("Remarks, Aug. 23rd, 2021", "2021-08-23", True),
        ("Statement of 23 August 2021", "2021-08-23", True),
        ("Notes 2021-08-23", "2021-08-23", True),
        ("Press Briefing, August 23, 2021", "2021-08-24", False),  # another day: the date stays
        ("Press Briefing, August 2, 2021", "2021-08-23", False),
        ("Ministry of Foreign Affairs regular press conference", "2022-07-28", False),
        ("Press Briefing, August 23, 2021", "2021-08", False),  # a month only: said as it is
        ("Press Briefing, August 23, 2021", None, False),
    ],
)
def test_a_citation_gives_the_date_once(title, iso, named):
    assert names_date(title, iso) is named
    meta = Metadata(title=title, author="The White House", date=iso)
    citation = citation_for(DocumentInfo("d", "d.md", "md", meta, 1, 0), Passage("d", 0, 5, 2, None, "Hello", ()))
    assert citation == ", ".join(["The White House", title, *([] if named else [format_date(iso) or "undated"]), "¶2"])


def test_a_label_is_cited_by_the_full_name_the_collection_gives_it(tmp_path, fake_embedder):
    # Real excerpts: the 13 April briefing's title names "Dr. Anthony Fauci"; the COVID-19 response team
    # briefing of 3 March names no one, and its DR. FAUCI is the same person (passages.people_from_speakers).
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in (TRANSCRIPTS / "2021-03-03-covid-response-team.md", PEOPLE / "2021-04-13-psaki-fauci-zients.md"):
        shutil.copyfile(path, corpus / path.name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", model="fake-bag-of-words", threshold=0.3)
    ingest(settings, fake_embedder)
    engine = QuoteEngine.open(settings, fake_embedder)
    people = engine.people()
    assert "Anthony Fauci" in people and "DR. FAUCI" not in people and len(people) == len(set(people))
    answer = engine.ask(
        "SARS-CoV-2 variants multifaceted approach", top_k=20, filters=Filters(people=("Anthony Fauci",))
    )
    quote = next(q for q in answer.quotes if q.doc_id == "2021-03-03-covid-response-team")
    assert (quote.speaker, quote.speaker_label) == ("Anthony Fauci", "DR. FAUCI")
    assert quote.citation.startswith("Anthony Fauci (DR. FAUCI), Press Briefing by White House COVID")
    assert quote.attribution.startswith("According to Anthony Fauci (DR. FAUCI), ")
    # filtering by the person finds the turns of both documents, and only his
    assert {q.doc_id for q in answer.quotes} == {"2021-03-03-covid-response-team", "2021-04-13-psaki-fauci-zients"}
    assert {(q.speaker, q.speaker_label) for q in answer.quotes} == {("Anthony Fauci", "DR. FAUCI")}
    # the document view names him too; the text is as written
    view = engine.document("2021-03-03-covid-response-team")
    fauci = [p for p in view.passages if p.speaker_label == "DR. FAUCI"]
    assert fauci and all(p.speaker == "Anthony Fauci" and view.text[p.start : p.end] == p.text for p in fauci)
