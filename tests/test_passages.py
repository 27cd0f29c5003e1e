"""Passages, sentences and offsets: the verbatim invariant, paragraphs, speakers, long lines."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.cjk import CJK_CHAR_WEIGHT, columns, weighted_length
from assistant.config import PassageSettings
from assistant.corpus import Document, Metadata, SourceFile, read_document
from assistant.passages import (
    REPORTER,
    UNNAMED,
    label_at,
    label_variants,
    names_ending_in,
    passages_for,
    people_from_speakers,
    same_person,
    sentence_spans,
)

SEEDS = Path(__file__).resolve().parent.parent / "corpus"
TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "transcripts"
BRIEFINGS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "whitehouse-briefings-2021"
#: Each excerpt in tests/data/transcripts: its source in BRIEFINGS and the (first, last) lines it copies.
EXCERPTS = {
    "2021-04-08-psaki-granholm.md": (
        "2021-04/2021-04-08-press-briefing-by-press-secretary-jen-psaki-and-secretary-of-energy-jennifer-granholm-"
        "april-8-2021.md",
        [(1, 55), (164, 200), (654, 690), (1474, 1484)],
    ),
    "2021-04-09-psaki-buttigieg.md": (
        "2021-04/2021-04-09-press-briefing-by-press-secretary-jen-psaki-and-secretary-of-transportation-pete-"
        "buttigieg-april-9-2021.md",
        [(1, 10), (37, 46), (111, 141)],
    ),
    "2021-03-03-covid-response-team.md": (
        "2021-03/2021-03-03-press-briefing-by-white-house-covid-19-response-team-and-public-health-officials-10.md",
        [(1, 32), (185, 198), (282, 300)],
    ),
    "2021-06-14-background-call-nato.md": (
        "2021-06/2021-06-14-background-press-call-by-a-senior-administration-official-on-president-bidens-"
        "engagements-at-nato-summit.md",
        [(1, 128)],
    ),
    "2021-07-28-gaggle-jean-pierre.md": (
        "2021-07/2021-07-28-press-gaggle-by-principal-deputy-press-secretary-karine-jean-pierre-aboard-air-force-"
        "one-en-route-allentown-pa.md",
        [(1, 152)],
    ),
    "2021-01-21-psaki-fauci.md": (
        "2021-01/2021-01-21-press-briefing-by-press-secretary-jen-psaki-january-21-2021.md",
        [(1, 9), (156, 178)],
    ),
    "2021-01-22-psaki-deese.md": (
        "2021-01/2021-01-22-press-briefing-by-press-secretary-jen-psaki-and-national-economic-director-brian-deese.md",
        [(1, 10), (876, 902)],
    ),
    "2021-09-02-covid-response-team.md": (
        "2021-09/2021-09-02-press-briefing-by-white-house-covid-19-response-team-and-public-health-officials-54.md",
        [(1, 10), (247, 278)],
    ),
    "2021-03-02-psaki-end.md": (
        "2021-03/2021-03-02-press-briefing-by-press-secretary-jen-psaki-march-2-2021.md",
        [(1, 14), (88, 103), (1185, 1191)],
    ),
}


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
        # transcript pieces: labels with non-breaking spaces, a reporter, stage notes, lines of spaces
        st.sampled_from(
            ["\nMS. PSAKI:\xa0 ", "\nQ\xa0\xa0\xa0 ", "Q: ", "\n(Laughter.)\n", "\nEND\n", "  \n", "\n\xa0 \n"]
        ),
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


chinese_pieces = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=60),
        st.text(alphabet="abc XYZ19", min_size=1, max_size=20),
        st.sampled_from(["。", "！", "？", "；", "，", "、", "：", "”", "“", "」", "「", "』", "）", "（", "……"]),
        st.sampled_from(["!", "?", ".", ". ", "\n", "\r\n", "\r\n\r\n", "\n\n", "\u3000", "\xa0", "ＡＢＣ１２３"]),
        st.sampled_from(["赵立坚：", "\n赵立坚：", "China Daily: ", "\nMS. PSAKI: "]),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(chinese_pieces, st.integers(min_value=50, max_value=400))
def test_chinese_and_mixed_text_keeps_the_invariant(text, max_chars):
    passages = assert_verbatim(make_document(text), max_chars)
    for passage in passages:
        assert weighted_length(text, passage.start, passage.end) <= max_chars


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "涉疆问题不是人权问题。经过艰苦努力，新疆已连续六年多未发生暴恐案件！这是事实吗？是的",
            ["涉疆问题不是人权问题。", "经过艰苦努力，新疆已连续六年多未发生暴恐案件！", "这是事实吗？", "是的"],
        ),
        ("一是坚持对话；二是反对制裁；三是维护和平。", ["一是坚持对话；", "二是反对制裁；", "三是维护和平。"]),
        (
            "他说：“这是谎言。”记者问：「真的吗？」『是。』（完）",
            ["他说：“这是谎言。”", "记者问：「真的吗？」", "『是。』", "（完）"],
        ),
        ("中方表示欢迎!我们愿意合作?当然", ["中方表示欢迎!", "我们愿意合作?", "当然"]),
        ("China declined. 中方说不。Then 然后 it left.", ["China declined.", "中方说不。", "Then 然后 it left."]),
        ("第一句。\r\n第二句。", ["第一句。", "第二句。"]),
    ],
    ids=["stops", "semicolons", "closing-quotes", "half-width-marks", "mixed", "crlf"],
)
def test_chinese_sentences_end_at_chinese_punctuation_and_the_quotes_that_close_them(text, sentences):
    spans = sentence_spans(text, 0, len(text))
    assert [text[s.start : s.end] for s in spans] == sentences


def test_a_chinese_passage_holds_a_third_of_the_characters_of_an_english_one():
    """The cap counts a CJK letter CJK_CHAR_WEIGHT times: 1,000 Chinese characters would overflow the embedder."""
    sentence = "涉疆问题不是人权问题，而是反暴恐、去极端化和反分裂问题。"  # 28 characters, 26 Han
    text = sentence * 40
    passages = assert_verbatim(make_document(text), 1000)
    assert all(p.text.endswith("。") for p in passages), "windows end on sentence boundaries"
    assert max(len(p.text) for p in passages) == len(sentence) * 12  # 12 × (26 × 3 + 2) = 960 ≤ 1000 < 13 × 80
    assert CJK_CHAR_WEIGHT == 3


def test_a_long_chinese_sentence_is_cut_after_a_comma_not_inside_a_word():
    clause = "中方坚决反对任何国家借人权问题干涉中国内政"  # 21 Han characters
    text = "，".join([clause] * 30) + "。"
    passages = assert_verbatim(make_document(text), 300)
    assert len(passages) > 5
    assert all(p.text.endswith(("，", "。")) for p in passages)
    assert "".join(p.text for p in passages) == text


def test_chinese_paragraphs_one_a_line_split_at_line_ends_after_chinese_punctuation():
    """55 Chinese characters take 110 columns: such lines are long, as a 110-character English line is."""
    line = "中方敦促有关国家停止借人权问题干涉中国内政，停止在联合国搞政治操弄，"
    line += "回到对话合作的正确轨道上来，共同维护和平。"
    assert len(line) == 55 and columns(line) == 110
    text = f"{line}\n{line}\r\n{line}"
    passages = assert_verbatim(make_document(text))
    assert [p.paragraph for p in passages] == [1, 2, 3]
    assert {p.text for p in passages} == {line}


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


# --- Speaker turns in real transcripts (tests/data/transcripts, byte-exact excerpts; see its README) ---


def transcript(name: str, max_chars: int = 1000) -> tuple[Document, list]:
    """An excerpt read as the corpus reads it, and its passages (the offset invariant checked)."""
    path = TRANSCRIPTS / name
    document = read_document(SourceFile(path.stem, path, "h", path.stat().st_size))
    return document, assert_verbatim(document, max_chars)


def turns(passages: list) -> list[tuple[int, str | None, str]]:
    """(paragraph, speaker as cited, the paragraph's first 30 characters) for each paragraph."""
    seen = {}
    for p in passages:
        seen.setdefault(p.paragraph, (p.paragraph, p.cited_speaker, p.text[:30]))
    return list(seen.values())


@pytest.mark.skipif(not BRIEFINGS.is_dir(), reason="shared/data/whitehouse-briefings-2021 is not beside the repo")
@pytest.mark.parametrize("name", sorted(EXCERPTS))
def test_transcript_excerpts_are_byte_exact_lines_of_the_published_transcripts(name):
    source, ranges = EXCERPTS[name]
    lines = (BRIEFINGS / source).read_bytes().splitlines(keepends=True)
    assert (TRANSCRIPTS / name).read_bytes() == b"".join(b"".join(lines[a - 1 : b]) for a, b in ranges)


def test_capital_labels_with_non_breaking_spaces_resolve_to_the_names_in_the_title():
    document, passages = transcript("2021-04-08-psaki-granholm.md")
    assert document.text[passages[2].start : passages[2].start + 12] == "MS. PSAKI:\xa0 "
    assert turns(passages)[:4] == [
        (1, None, "James S. Brady Press Briefing "),  # the place and the time belong to no one
        (2, None, "12:44 P.M. EDT"),
        (3, "Jen Psaki (MS. PSAKI)", "MS. PSAKI:\xa0 Hi, everyone.\xa0 Oka"),
        (4, "Jen Psaki (MS. PSAKI)", "Secretary Granholm is just the"),
    ]
    granholm = [p for p in passages if p.text.startswith("SECRETARY GRANHOLM:")]
    assert len(granholm) == 3
    assert {(p.speaker, p.speaker_label) for p in granholm} == {("Jennifer Granholm", "SECRETARY GRANHOLM")}
    first = granholm[0]
    assert "\n(Laughter.)\xa0 The double binder stack here." in first.text  # a stage note inside a turn stays in it


def test_secretary_buttigieg_is_resolved_from_the_title():
    _, passages = transcript("2021-04-09-psaki-buttigieg.md")
    labelled = {(p.speaker_label, p.speaker) for p in passages if p.speaker_label}
    assert labelled == {
        ("SECRETARY BUTTIGIEG", "Pete Buttigieg"),
        ("MS. PSAKI", "Jen Psaki"),
        ("Q", REPORTER),
    }


def test_reporters_questions_are_a_reporters_never_the_officials():
    _, passages = transcript("2021-04-08-psaki-granholm.md")
    questions = [p for p in passages if p.text.startswith("Q\xa0\xa0\xa0 ")]
    assert len(questions) == 6
    assert {(p.speaker, p.speaker_label, p.cited_speaker) for p in questions} == {(REPORTER, "Q", "a reporter (Q)")}
    chipman = next(p for p in passages if "formally nominate David Chipman" in p.text)
    assert chipman.speaker == REPORTER
    assert chipman.text.endswith("When is he\nexpecting to formally nominate David Chipman to this role?")


def test_a_label_opening_a_line_with_no_blank_line_before_it_starts_a_new_turn():
    document, passages = transcript("2021-04-08-psaki-granholm.md")
    confirmed = document.text.index("confirmed?  \nMS. PSAKI:")
    question = next(p for p in passages if p.start < confirmed < p.end)
    answer = next(p for p in passages if p.start == confirmed + len("confirmed?  \n"))
    assert question.speaker == REPORTER and question.text.endswith("get him\nconfirmed?")
    assert (answer.speaker, answer.paragraph) == ("Jen Psaki", question.paragraph + 1)
    assert answer.text.startswith("MS. PSAKI:\xa0 Well, it’s up to Congress.")


def test_a_label_broken_across_lines_still_starts_its_turn():
    document, passages = transcript("2021-01-22-psaki-deese.md")
    broken = next(p for p in passages if p.text.startswith("PSAKI:"))
    assert document.text[broken.start - 5 : broken.start] == "\xa0MS.\n"
    assert (broken.speaker, broken.speaker_label) == ("Jen Psaki", "PSAKI")


def test_a_reporter_naming_an_official_mid_question_keeps_the_question():
    document, passages = transcript("2021-09-02-covid-response-team.md")
    question = next(p for p in passages if "First, for\nDr. Walensky: State health officials" in p.text)
    assert question.speaker == REPORTER and question.text.startswith("Q\xa0\xa0\xa0 Hi.")
    assert [p.cited_speaker for p in passages if p.speaker_label == "DR. WALENSKY"] != []
    assert label_at(document.text, document.text.index("Dr. Walensky: State")) == "Dr. Walensky"  # a label shape...
    assert all(p.speaker_label != "Dr. Walensky" for p in passages)  # ...that this transcript never uses


def test_labels_the_title_does_not_name_stay_as_written():
    _, passages = transcript("2021-03-03-covid-response-team.md")
    assert {p.speaker for p in passages if p.speaker_label} == {
        "ACTING ADMINISTRATOR SLAVITT",
        "DR. FAUCI",
        "MODERATOR",
        REPORTER,
    }
    fauci = next(p for p in passages if p.speaker_label == "DR. FAUCI")
    assert fauci.text.startswith("DR. FAUCI:\xa0\xa0Thank you very much, Dr. Walensky.")
    assert fauci.cited_speaker == "DR. FAUCI"


def test_anonymous_officials_and_moderators_are_never_given_a_name():
    _, passages = transcript("2021-06-14-background-call-nato.md")
    assert [(n, who) for n, who, _ in turns(passages) if n in (1, 2, 3, 4, 13, 14, 15, 20, 21)] == [
        (1, None),  # Via Teleconference
        (2, None),  # 3:08 P.M. CEST
        (3, "MODERATOR"),
        (4, "SENIOR ADMINISTRATION OFFICIAL"),
        (13, "SENIOR ADMINISTRATION OFFICIAL"),  # \[Redacted.\] goes on in the official's turn
        (14, "a reporter (Q)"),  # `Q` and a single space
        (15, "SENIOR ADMINISTRATION OFFICIAL"),
        (20, "SENIOR ADMINISTRATION OFFICIAL"),
        (21, None),  # 3:32 P.M. CEST
    ]


def test_a_gaggle_attributes_every_turn():
    _, passages = transcript("2021-07-28-gaggle-jean-pierre.md")
    assert passages[0].text == "Aboard Air Force One  \nEn Route Allentown, Pennsylvania"  # a Markdown line break
    speakers = [who for _, who, _ in turns(passages)]
    assert speakers.count("Karine Jean-Pierre (MS. JEAN-PIERRE)") == 25
    assert speakers.count("a reporter (Q)") == 5
    assert speakers[-3:] == ["MS. HAYES", "Karine Jean-Pierre (MS. JEAN-PIERRE)", None]


def test_a_stage_note_belongs_to_no_one_and_the_turn_goes_on_after_it():
    _, passages = transcript("2021-01-21-psaki-fauci.md")
    assert [(who, text[:14]) for _, who, text in turns(passages)][1:6] == [
        ("DR. FAUCI", "DR. FAUCI:\xa0 No"),
        ("DR. FAUCI", "But, you know,"),
        (None, "(Laughter.)"),
        ("DR. FAUCI", "Yeah."),
        ("a reporter (Q)", "Q\xa0\xa0\xa0 Dr.\xa0 Fauc"),
    ]


def test_end_and_its_time_on_a_line_of_non_breaking_spaces_belong_to_no_one():
    _, passages = transcript("2021-03-02-psaki-end.md")
    assert passages[0].text == "12:39 P.M. EST" and passages[0].speaker is None
    assert passages[-2].speaker == "Jen Psaki"
    end = passages[-1]
    assert end.text.startswith("END\xa0") and end.text.endswith("1:32 P.M. EST")
    assert (end.speaker, end.speaker_label) == (None, None)


def test_every_passage_of_a_long_turn_keeps_its_speaker_however_it_is_cut():
    _, passages = transcript("2021-07-28-gaggle-jean-pierre.md", max_chars=120)
    by_paragraph: dict[int, set] = {}
    for p in passages:
        by_paragraph.setdefault(p.paragraph, set()).add(p.speaker)
    assert all(len(speakers) == 1 for speakers in by_paragraph.values())
    longest = max(by_paragraph, key=lambda n: sum(p.paragraph == n for p in passages))
    windows = [p for p in passages if p.paragraph == longest]
    assert len(windows) >= 4 and {p.speaker for p in windows} == {"Karine Jean-Pierre"}


def test_seed_transcript_labels_are_kept_as_written():
    document = read_document(_source("2022-07-28-mfa-press-conference-zhao-lijian.txt"))
    passages = assert_verbatim(document)
    assert {(p.speaker_label, p.cited_speaker) for p in passages} == {
        ("China Daily", "China Daily"),  # the outlet the transcript names
        ("Zhao Lijian", "Zhao Lijian"),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Constructed, in the way State Department and UN transcripts write turns: none of the shared
        # real transcripts uses `Q:`, `QUESTION:`, `A:` or a tab after the label.
        (
            "QUESTION: Will the minister travel?\n\nMR. PRICE: He will.\n\nQUESTION:\tWhen?",
            [(REPORTER, "QUESTION"), ("Ned Price", "MR. PRICE"), (REPORTER, "QUESTION")],
        ),
        (
            "Q: Will the minister travel?\n\nA: He will.\n\nQ: When?\n\nA: Soon.",
            [(REPORTER, "Q"), ("Spokesperson Ned Price", "A"), (REPORTER, "Q"), ("Spokesperson Ned Price", "A")],
        ),
    ],
    ids=["QUESTION-and-tab", "Q-colon-and-A"],
)
def test_question_and_answer_labels(text, expected):
    document = Document(
        "d",
        Path("d.md"),
        "md",
        text,
        Metadata("Department Press Briefing by Ned Price", speaker="Spokesperson Ned Price"),
        "h",
        "f",
    )
    assert [(p.speaker, p.speaker_label) for p in passages_for(document)] == expected


def test_names_ending_in_a_surname_take_the_given_name_and_initials():
    title = "Press Briefing by Press Secretary Jen Psaki, Secretary of Housing Marcia L. Fudge, and Secretary Kerry"
    assert names_ending_in(title, "PSAKI") == ["Jen Psaki"]
    assert names_ending_in(title, "FUDGE") == ["Marcia L. Fudge"]
    assert names_ending_in(title, "KERRY") == []  # a title, not a given name, before it
    assert names_ending_in("Remarks by Mayor Francis Suárez", "SUAREZ") == ["Francis Suárez"]


def test_people_are_counted_once_however_their_label_is_written():
    rows = [
        ("Jen Psaki", "MS. PSAKI", 300),
        ("MS. PSAKI", "MS. PSAKI", 6),  # a briefing whose title does not name her
        ("MS.\xa0 PSAKI", "MS.\xa0 PSAKI", 1),
        ("Vivek H. Murthy", "SURGEON GENERAL MURTHY", 40),
        ("DR. MURTHY", "DR. MURTHY", 150),  # the one Murthy named anywhere
        ("Roberta Jacobson", "AMBASSADOR JACOBSON", 70),
        ("Tracey Jacobson", "AMBASSADOR JACOBSON", 20),
        ("SENIOR ADMINISTRATION OFFICIAL", "SENIOR ADMINISTRATION OFFICIAL", 900),
        (REPORTER, "Q", 5000),
        ("Zhao Lijian", None, 4),  # a document's speaker, no label
        ("Zhao Lijian", "Zhao Lijian", 4),
    ]
    assert people_from_speakers(rows) == {
        REPORTER: (REPORTER,),
        "Jen Psaki": ("Jen Psaki", "MS. PSAKI", "MS.\xa0 PSAKI"),
        "Roberta Jacobson": ("Roberta Jacobson",),
        "SENIOR ADMINISTRATION OFFICIAL": ("SENIOR ADMINISTRATION OFFICIAL",),
        "Tracey Jacobson": ("Tracey Jacobson",),
        "Vivek H. Murthy": ("DR. MURTHY", "Vivek H. Murthy"),
        "Zhao Lijian": ("Zhao Lijian",),
    }


@pytest.mark.skipif(not BRIEFINGS.is_dir(), reason="shared/data/whitehouse-briefings-2021 is not beside the repo")
def test_every_2021_briefing_keeps_the_invariant_and_gives_reporters_their_words():
    """365 real transcripts: offsets, and no passage opening a reporter's turn attributed to anyone else."""
    files = sorted(BRIEFINGS.rglob("2021-*.md"))
    assert len(files) == 365
    passages, speakers = [], set()
    for path in files:
        document = read_document(SourceFile(path.stem, path, "h", path.stat().st_size))
        for passage in assert_verbatim(document):
            passages.append(passage)
            speakers.add(passage.speaker)
            label = label_at(passage.text, 0)
            if passage.text[:1] == "Q" and label == "Q":
                assert (passage.speaker, passage.speaker_label) == (REPORTER, "Q"), (path.name, passage.text[:80])
            if label is not None and label.isupper():
                assert passage.speaker_label == label, (path.name, passage.text[:80])
    assert len(passages) > 60_000
    reporters = [p for p in passages if p.speaker == REPORTER]
    assert len(reporters) > 15_000 and all(p.speaker_label in ("Q", "PHOTOJOURNALIST") for p in reporters)
    assert {"Jen Psaki", "Karine Jean-Pierre", "Pete Buttigieg", "SENIOR ADMINISTRATION OFFICIAL"} <= speakers


def test_same_person_finds_every_way_a_person_is_written():
    people = people_from_speakers([("Jen Psaki", "MS. PSAKI", 3), ("MS. PSAKI", "MS. PSAKI", 1), (REPORTER, "Q", 9)])
    assert same_person(people, ["Jen Psaki"]) == {"Jen Psaki", "MS. PSAKI"}
    assert same_person(people, ["ms. psaki"]) == {"ms. psaki", "Jen Psaki", "MS. PSAKI"}  # a label, any case
    assert same_person(people, ["Ministry of Foreign Affairs"]) == {"Ministry of Foreign Affairs"}  # an author


def test_the_opening_lines_can_name_the_person_behind_a_label():
    # Constructed: a transcript with no title metadata whose first line names the speaker.
    text = (
        "Remarks by Ambassador Linda Thomas-Greenfield at a UN Security Council Briefing\n\n"
        "AMBASSADOR THOMAS-GREENFIELD: Thank you, Madam President.\n\n"
        "QUESTION: Ambassador, a follow-up?\n\n"
        "Ambassador Thomas-Greenfield: Yes."
    )
    passages = passages_for(make_document(text))
    assert [p.cited_speaker for p in passages] == [
        None,
        "Linda Thomas-Greenfield (AMBASSADOR THOMAS-GREENFIELD)",
        "a reporter (QUESTION)",
        "Linda Thomas-Greenfield (Ambassador Thomas-Greenfield)",  # a title in mixed case, resolved too
    ]


# --- People as people: misspelt labels, titles, bare titles (tests/data/people, byte-exact excerpts) ---

PEOPLE = Path(__file__).resolve().parent / "data" / "people"
#: Each excerpt in tests/data/people: its source in BRIEFINGS and the (first, last) lines it copies.
PEOPLE_EXCERPTS = {
    "2021-04-07-covid-walesnky.md": (
        "2021-04/2021-04-07-press-briefing-by-white-house-covid-19-response-team-and-public-health-officials-25.md",
        [(1, 12), (277, 417)],
    ),
    "2021-05-11-psaki-granholm-mayorakas.md": (
        "2021-05/2021-05-11-press-briefing-by-press-secretary-jen-psaki-secretary-of-energy-jennifer-granholm-and-"
        "secretary-of-homeland-security-alejandro-mayorkas-may-11-2021.md",
        [(1, 12), (273, 301)],
    ),
    "2021-04-13-psaki-fauci-zients.md": (
        "2021-04/2021-04-13-press-briefing-by-press-secretary-jen-psaki-niaid-director-and-chief-medical-advisor-to-"
        "the-president-dr-anthony-fauci-and-covid-19-response-coordinator-jeff-zients-april-13-2021.md",
        [(1, 15), (16, 22), (72, 84)],
    ),
    "2021-04-14-covid-mr-zients.md": (
        "2021-04/2021-04-14-press-briefing-by-white-house-covid-19-response-team-and-public-health-officials-28.md",
        [(1, 12), (300, 312)],
    ),
    "2021-09-17-background-call-ethiopia-modeartor.md": (
        "2021-09/2021-09-17-background-press-call-by-senior-administration-officials-on-ethiopia.md",
        [(1, 16), (190, 222), (676, 690)],
    ),
}


def people_excerpt(name: str) -> list:
    path = PEOPLE / name
    return assert_verbatim(read_document(SourceFile(path.stem, path, "h", path.stat().st_size)))


def spoken(passages: list) -> dict[str, str]:
    """{label as written: speaker} over a transcript's turns."""
    return {p.speaker_label: p.speaker for p in passages if p.speaker_label}


@pytest.mark.skipif(not BRIEFINGS.is_dir(), reason="shared/data/whitehouse-briefings-2021 is not beside the repo")
@pytest.mark.parametrize("name", sorted(PEOPLE_EXCERPTS))
def test_people_excerpts_are_byte_exact_lines_of_the_published_transcripts(name):
    source, ranges = PEOPLE_EXCERPTS[name]
    lines = (BRIEFINGS / source).read_bytes().splitlines(keepends=True)
    assert (PEOPLE / name).read_bytes() == b"".join(b"".join(lines[a - 1 : b]) for a, b in ranges)


def test_a_misspelt_label_speaks_for_the_label_the_transcript_uses_for_that_person():
    passages = people_excerpt("2021-04-07-covid-walesnky.md")
    assert spoken(passages)["DR. WALESNKY"] == "DR. WALENSKY"  # once, beside five turns as DR. WALENSKY
    typo = next(p for p in passages if p.speaker_label == "DR. WALESNKY")
    assert typo.text.startswith("DR. WALESNKY:\xa0 Yeah, as I mentioned")  # the text as written
    assert typo.cited_speaker == "DR. WALENSKY (DR. WALESNKY)"
    assert spoken(passages)["Q"] == REPORTER


def test_a_misspelt_surname_is_the_one_name_in_the_title_one_typo_away():
    # title: "... Secretary of Homeland Security Alejandro Mayorkas, May 11, 2021"; one turn says MAYORAKAS
    labels = spoken(people_excerpt("2021-05-11-psaki-granholm-mayorakas.md"))
    assert labels["SECRETARY MAYORAKAS"] == labels["SECRETARY MAYORKAS"] == "Alejandro Mayorkas"
    assert labels["SECRETARY GRANHOLM"] == "Jennifer Granholm"
    assert labels["MS. PSAKI"] == "Jen Psaki"


def test_a_moderator_misspelt_is_the_moderator_not_a_person():
    labels = spoken(people_excerpt("2021-09-17-background-call-ethiopia-modeartor.md"))
    assert labels["MODEARTOR"] == "MODERATOR"
    assert labels["SENIOR ADMINISTRATION OFFICIAL"] == "SENIOR ADMINISTRATION OFFICIAL"


def test_an_honorific_with_a_colon_is_part_of_the_label_not_a_bare_title():
    passages = people_excerpt("2021-04-14-covid-mr-zients.md")
    turn = next(p for p in passages if p.text.startswith("MR: ZIENTS:"))
    assert (turn.speaker_label, turn.speaker) == ("MR: ZIENTS", "MR: ZIENTS")
    assert label_at("MR: ZIENTS:\xa0 So we are going", 0) == "MR: ZIENTS"
    assert people_from_speakers([("Jeff Zients", "MR. ZIENTS", 90), ("MR: ZIENTS", "MR: ZIENTS", 4)]) == {
        "Jeff Zients": ("Jeff Zients", "MR: ZIENTS")
    }


def test_a_bare_title_is_an_unnamed_speaker_and_no_person():
    text = "MS. PSAKI:  Go ahead.\n\nQ    Thanks, Jen.\n\nMR:  I can take that one.\n\nMS. PSAKI:  Thank you."
    passages = assert_verbatim(make_document(text))
    assert spoken(passages) == {"MS. PSAKI": "MS. PSAKI", "Q": REPORTER, "MR": UNNAMED}
    assert passages[2].cited_speaker == f"{UNNAMED} (MR)"
    assert people_from_speakers([("MS. PSAKI", "MS. PSAKI", 2), (UNNAMED, "MR", 1)]) == {"MS. PSAKI": ("MS. PSAKI",)}


@pytest.mark.parametrize(
    ("counts", "variants"),
    [
        # Real label counts of one transcript each (2021 briefings).
        (
            {"ACTING ADMINISTRATOR SLAVITT": 8, "ACTING ADMINSTRATOR SLAVITT": 2, "DR. FAUCI": 5, "MODERATOR": 5},
            {"ACTING ADMINSTRATOR SLAVITT": "ACTING ADMINISTRATOR SLAVITT"},
        ),
        (
            {"ACTING ADMINISTRATOR SLAVITT": 14, "ACTING ADMINISTRATION SLAVITT": 1, "DR. WALENSKY": 8},
            {"ACTING ADMINISTRATION SLAVITT": "ACTING ADMINISTRATOR SLAVITT"},
        ),
        (
            {"ACTING ADMINISTRATOR SLAVITT": 13, "MR. SLAVITT": 1, "DR. FAUCI": 7},
            {"MR. SLAVITT": "ACTING ADMINISTRATOR SLAVITT"},
        ),
        ({"DR. FAUCI": 3, "MR. FAUCI": 1, "MODERATOR": 7}, {"MR. FAUCI": "DR. FAUCI"}),
        ({"MODERATOR": 8, "MODERTOR": 1, "Moderator": 1}, {"MODERTOR": "MODERATOR", "Moderator": "MODERATOR"}),
        (
            {"SENIOR ADMINISTRATION OFFICIAL": 14, "SENIOR ADMINISTRATION OFFIAL": 1, "MR. MUNOZ": 7},
            {"SENIOR ADMINISTRATION OFFIAL": "SENIOR ADMINISTRATION OFFICIAL"},
        ),
        ({"MS. JEAN-PIERRE": 57, "MR. ZAIDI": 12, "MS. ZAIDI": 1}, {}),  # MS and MR: two people, left apart
        ({"MR. KLAIN": 9, "MR. KLEIN": 1}, {}),  # constructed: too short to be read as a typo
        ({"DR. WALENSKY": 2, "DR. WALESNKY": 1}, {}),  # not used often enough to be read as the typo
        ({"Q": 40, "MS. PSAKI": 30, "MR": 1, "A": 1}, {}),  # reporters, answers and bare titles never are
    ],
)
def test_label_variants_merge_misspellings_and_titles_of_one_surname_only(counts, variants):
    assert label_variants(Counter(counts)) == variants


def test_misspellings_merge_into_the_person_across_transcripts_and_no_two_people_do():
    rows = [
        ("Anthony Fauci", "DR. FAUCI", 400),  # a briefing titled "... and Dr. Anthony Fauci"
        ("DR. FAUCI", "DR. FAUCI", 2276),  # COVID-19 response team briefings: the title names no one
        ("DR. FAUCI", "MR. FAUCI", 4),
        ("ACTING ADMINISTRATOR SLAVITT", "ACTING ADMINISTRATOR SLAVITT", 1087),
        ("ACTING ADMINISTRATOR SLAVITT", "ACTING ADMINISTRATION SLAVITT", 31),
        ("ACTING ADMINISTRATOR SLAVITT", "MR. SLAVITT", 4),
        ("DR. WALENSKY", "DR. WALENSKY", 2032),
        ("DR. WALENSKY", "DR. WALESNKY", 2),
        ("Alejandro Mayorkas", "SECRETARY MAYORKAS", 222),
        ("Alejandro Mayorkas", "SECRETARY MAYORAKAS", 1),
        ("MODERATOR", "MODERATOR", 785),
        ("MODERATOR", "MODEARTOR", 1),
        ("MR. ZAIDI", "MR. ZAIDI", 12),
        ("MS. ZAIDI", "MS. ZAIDI", 1),
        ("Roberta Jacobson", "AMBASSADOR JACOBSON", 70),
        ("Tracey Jacobson", "AMBASSADOR JACOBSON", 20),
    ]
    assert people_from_speakers(rows) == {
        "ACTING ADMINISTRATOR SLAVITT": ("ACTING ADMINISTRATOR SLAVITT",),
        "Alejandro Mayorkas": ("Alejandro Mayorkas",),
        "Anthony Fauci": ("Anthony Fauci", "DR. FAUCI"),
        "DR. WALENSKY": ("DR. WALENSKY",),
        "MODERATOR": ("MODERATOR",),
        "MR. ZAIDI": ("MR. ZAIDI",),
        "MS. ZAIDI": ("MS. ZAIDI",),
        "Roberta Jacobson": ("Roberta Jacobson",),
        "Tracey Jacobson": ("Tracey Jacobson",),
    }
