"""Passages, sentences and offsets: the verbatim invariant, paragraphs, speakers, long lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.config import PassageSettings
from assistant.corpus import Document, Metadata, SourceFile, read_document
from assistant.passages import passages_for, sentence_spans

SEEDS = Path(__file__).resolve().parent.parent / "corpus"


def make_document(text: str, speaker: str | None = None, body_start: int = 0) -> Document:
    return Document("doc", Path("doc.txt"), "txt", text, Metadata("Doc", speaker=speaker), "h", "f", body_start)


def assert_verbatim(document: Document, max_chars: int = 1000) -> list:
    passages = passages_for(document, PassageSettings(max_chars=max_chars))
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.text.strip() == passage.text and passage.text
        assert passage.end - passage.start <= max_chars
        for sentence in passage.sentences:
            assert passage.start <= sentence.start < sentence.end <= passage.end
            assert document.text[sentence.start : sentence.end].strip()
    starts = [p.start for p in passages]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(passages, passages[1:])), "passages overlap"
    return passages


text_pieces = st.lists(
    st.one_of(
        st.text(min_size=0, max_size=80),
        st.sampled_from(["\n", "\r\n", "\n\n", "\r\n\r\n", "\t", ". ", "。", "Mr. ", "Zhao Lijian: ", "“", "🙂", " "]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text_pieces, st.integers(min_value=50, max_value=400))
def test_every_passage_and_sentence_is_the_text_at_its_offsets(text, max_chars):
    assert_verbatim(make_document(text), max_chars)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=3000))
def test_arbitrary_unicode_keeps_the_invariant(text):
    assert_verbatim(make_document(text), 200)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "   \n\n \t ",
        "One line with no final newline",
        "Para one.\r\n\r\nPara two, CRLF.\r\n",
        "emoji 🙂 and 中文。第二句。\n\nНовый абзац.",
        "a" * 20_000,
        ("word " * 5000).strip(),
        "Tabs\tinside\tlines.\n\n\tIndented paragraph.",
    ],
    ids=["empty", "one-char", "whitespace", "no-newline", "crlf", "scripts", "20k-no-space", "20k-words", "tabs"],
)
def test_edge_cases_keep_the_invariant(text):
    passages = assert_verbatim(make_document(text), 1000)
    assert bool(passages) == bool(text.strip())


def test_a_20000_character_line_without_punctuation_is_cut_into_bounded_passages():
    text = "a" * 20_000
    passages = assert_verbatim(make_document(text), 1000)
    assert len(passages) == 20
    assert {p.paragraph for p in passages} == {1}


def test_paragraphs_are_numbered_and_long_ones_split_into_sentence_windows():
    long_paragraph = " ".join(f"Sentence number {i} is here." for i in range(100))
    text = f"First paragraph.\n\n{long_paragraph}\n\nLast paragraph."
    passages = assert_verbatim(make_document(text), 300)
    assert passages[0].paragraph == 1 and passages[-1].paragraph == 3
    middle = [p for p in passages if p.paragraph == 2]
    assert len(middle) > 5
    assert all(p.text.endswith("here.") for p in middle), "windows end on sentence boundaries"


def test_seed_note_letterhead_lines_are_their_own_passages():
    document = read_document(_source("2023-09-14-china-un-mission-note-verbale.txt"))
    passages = assert_verbatim(document)
    texts = [p.text for p in passages]
    assert texts[0] == "中华人民共和国常驻联合国代表团"
    assert texts[1] == "PERMANENT MISSION OF THE PEOPLE'S REPUBLIC OF CHINA TO THE UNITED NATIONS"
    assert texts[2] == "CMS (2023)"
    assert passages[3].text.startswith("The Permanent Mission of the People's Republic of China")
    assert [p.paragraph for p in passages] == list(range(1, 12))
    assert all(p.speaker is None for p in passages)


def test_transcript_turns_give_each_passage_its_speaker():
    document = read_document(_source("2022-07-28-mfa-press-conference-zhao-lijian.txt"))
    passages = assert_verbatim(document)
    assert [(p.paragraph, p.speaker) for p in passages] == [
        (1, "China Daily"),
        (2, "Zhao Lijian"),
        (3, "Zhao Lijian"),
        (4, "Zhao Lijian"),
        (5, "Zhao Lijian"),
    ]


def test_a_single_label_like_line_does_not_make_a_transcript():
    document = make_document("Note: this is a remark.\n\nAnother paragraph.", speaker="Ms. Author")
    assert [p.speaker for p in passages_for(document)] == ["Ms. Author", "Ms. Author"]


def test_one_paragraph_a_line_documents_split_at_line_ends_after_punctuation():
    line = "This speech line is long enough to count as a paragraph on its own in the corpus of speeches. " * 2
    text = f"{line.strip()}\n{line.strip()}\nAll Permanent Missions\nNew York"
    passages = assert_verbatim(make_document(text))
    assert [p.paragraph for p in passages] == [1, 2, 3]
    assert passages[2].text == "All Permanent Missions\nNew York"


def test_sentences_do_not_split_after_abbreviations():
    text = "Ms. Bachelet met Mr. Wang in the U.S. capital. Then she left."
    spans = sentence_spans(text, 0, len(text))
    assert [text[s.start : s.end] for s in spans] == [
        "Ms. Bachelet met Mr. Wang in the U.S. capital.",
        "Then she left.",
    ]


def test_passages_start_after_front_matter():
    text = "---\ntitle: T\n---\nBody paragraph."
    passages = assert_verbatim(make_document(text, body_start=text.index("Body")))
    assert [p.text for p in passages] == ["Body paragraph."]


def _source(name: str) -> SourceFile:
    import hashlib

    path = SEEDS / name
    return SourceFile(Path(name).stem, path, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size)


UNGDC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ungdc" / "speeches_2015-2024"


@pytest.mark.skipif(not UNGDC.is_dir(), reason="shared/data/ungdc is not beside the repo")
def test_every_un_general_debate_speech_keeps_the_invariant():
    """1,938 real speeches, some with very long lines or no line terminators at all."""
    import hashlib

    files = sorted(UNGDC.rglob("*.txt"))
    assert len(files) == 1938
    total = 0
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        document = read_document(SourceFile(path.stem, path, digest, path.stat().st_size))
        total += len(assert_verbatim(document))
    assert total > 50_000
