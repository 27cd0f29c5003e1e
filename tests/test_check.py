"""Checking a quotation: tokens and offsets, ellipses, claims, and 70+ generated cases on real documents.

The generated cases (tests/checkcases.py) and the property test run the real bundled
model on the seed documents plus the 16 held-out UN speeches; the unit tests need no model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assistant.check import (
    ALTERED_MIN_SIMILARITY,
    ELLIPSIS,
    MAX_QUOTATION_CHARS,
    OPENING_MARKS,
    Claim,
    DiffOp,
    fold,
    parse_quotation,
    tokenize,
)
from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.errors import QuotationError
from assistant.paste import MAX_PASTE_CHARS, PasteCheck, cut_paste, strip_markup
from tests.checkcases import HELDOUT_CORPUS, NOTE, SEED_CORPUS, Case, documents, generated_cases

TERRORISM_TEN = "There has been no violent terrorist incident in Xinjiang for over ten consecutive years."
NOTE_SENTENCE = "It's clear to all that the co-sponsors are notorious anti-China organizations."
MADE_UP = "The Ministry of Agriculture announced new subsidies for cotton farmers in Kashgar last spring."
CASES = generated_cases()
MATCH_KEYS = ["doc_id", "path", "start", "end", "text", "speaker", "date", "citation", "similarity", "diff"]


# --- Tokens, folding, quotations (no model) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("It’s “CLEAR” — anti‐China", 'it\'s "clear" - anti-china'),
        ("‘single’ «guillemets» ‚low‛", "'single' \"guillemets\" 'low'"),
        ("İstanbul", "istanbul"),  # lower-cases to two characters; the first is kept, offsets stay put
        ("", ""),
        ("😀 Emoji", "😀 emoji"),
    ],
)
def test_fold_plains_case_quotes_and_dashes_one_character_for_one(raw: str, plain: str) -> None:
    assert fold(raw) == plain
    assert len(fold(raw)) == len(raw)


@given(st.text(max_size=200))
def test_every_token_is_the_raw_text_at_its_offsets(text: str) -> None:
    tokens = tokenize(text)
    for key, start, end in zip(tokens.keys, tokens.starts, tokens.ends):
        assert fold(text[start:end]) == key
    assert "".join(tokens.keys) == "".join(fold(text).split())  # whitespace is all that is left out


def test_tokens_ignore_whitespace_and_split_punctuation() -> None:
    tokens = tokenize("  Six\u00a0consecutive\r\n years. ")
    assert tokens.keys == ("six", "consecutive", "years", ".")
    assert (tokens.starts[0], tokens.ends[-1]) == (2, 26)


@pytest.mark.parametrize(
    ("quotation", "fragments"),
    [
        ("one two three", ["one two three"]),
        ("“one two three”", ["one two three"]),
        ('"one two ... three four"', ["one two", "three four"]),
        ("one two … three four", ["one two", "three four"]),
        ("one two…three four", ["one two", "three four"]),
        ("one two [...] three four", ["one two", "three four"]),
        ("one two […] three four", ["one two", "three four"]),
        ("one two (...) three four", ["one two", "three four"]),
        ("one two . . . three four", ["one two", "three four"]),
        ("One two. ... Three four", ["One two.", "Three four"]),  # the sentence keeps its full stop
        ("... one two ... three ...", ["one two", "three"]),
        ("U.S. policy", ["U.S. policy"]),
        ("“one” two", ["“one” two"]),  # marks that do not enclose the whole quotation are part of it
    ],
)
def test_quotation_is_cut_at_ellipses(quotation: str, fragments: list[str]) -> None:
    parsed = parse_quotation(quotation)
    assert [parsed.fragment_text(fragment) for fragment in parsed.fragments] == fragments


@pytest.mark.parametrize(
    ("quotation", "message"),
    [
        ("", "The quotation is empty"),
        ("   \n ", "The quotation is empty"),
        ("“ … ”", "The quotation is empty"),
        ("x" * (MAX_QUOTATION_CHARS + 1), "characters long; the limit is 5,000"),
    ],
)
def test_quotation_errors(quotation: str, message: str) -> None:
    with pytest.raises(QuotationError, match=message):
        parse_quotation(quotation)


@pytest.mark.parametrize("date", ["2023-9-14", "14 September 2023", "2023-02-30", "2023"])
def test_claim_date_must_be_iso(date: str) -> None:
    with pytest.raises(QuotationError, match=f"The date '{date}' is not a date written YYYY-MM-DD."):
        Claim(date=date)


@pytest.mark.parametrize(
    ("claim", "names", "date", "contradicted"),
    [
        (Claim("Zhao Lijian"), ["Zhao Lijian"], "2022-07-28", False),
        (Claim("zhao"), ["Zhao Lijian"], None, False),
        (Claim("China"), ["Permanent Mission of the People's Republic of China to the United Nations"], None, False),
        (Claim("Wang Wenbin"), ["Zhao Lijian"], None, True),
        (Claim("China Daily"), ["Zhao Lijian"], None, True),
        (Claim("Anyone"), [], None, False),  # nobody named in the record: nothing to contradict
        (Claim(date="2022-07-28"), ["Zhao Lijian"], "2022-07-28", False),
        (Claim(date="2022-07-29"), ["Zhao Lijian"], "2022-07-28", True),
        (Claim(date="2022-07-29"), ["Zhao Lijian"], "2022-07", False),  # a partial date includes the day
        (Claim(date="2022-07-29"), ["Zhao Lijian"], None, False),
        (Claim("Zhao Lijian", "2021-01-01"), ["Zhao Lijian"], "2022-07-28", True),
    ],
)
def test_claims_are_contradicted_only_by_a_known_other_speaker_or_day(claim, names, date, contradicted) -> None:
    assert claim.contradicted_by(names, date) is contradicted


def test_a_diff_op_says_what_changed_in_words() -> None:
    assert DiffOp("replace", "ten", "six", 5, 8).describe() == "quoted “ten” where the source says “six”"
    assert DiffOp("insert", "very", "", 5, 5).describe() == "added “very”"
    assert DiffOp("delete", "", "violent", 5, 12).describe() == "left out “violent”"
    assert DiffOp("equal", "x", "X", 0, 1).to_json() == {"op": "equal", "quoted": "x", "source": "X"}


# --- The checker on the seed corpus with the fake embedder (fast) -----------------------------------------


def test_json_has_the_issues_fields_and_every_match_is_verbatim_text(fake_engine: QuoteEngine) -> None:
    result = fake_engine.check(TERRORISM_TEN)

    data = json.loads(json.dumps(result.to_json()))
    assert list(data) == ["text", "verdict", "misattributed", "attribution", "matches"]
    assert data["attribution"] is None  # no speaker claimed
    assert data["verdict"] == "altered"
    (match,) = data["matches"]
    assert list(match)[: len(MATCH_KEYS)] == MATCH_KEYS
    assert fake_engine.document(match["doc_id"]).text[match["start"] : match["end"]] == match["text"]
    assert {op["op"] for op in match["diff"]} <= {"equal", "insert", "delete", "replace"}


def test_altered_sentence_shows_six_against_ten_in_the_note(fake_engine: QuoteEngine) -> None:
    result = fake_engine.check(TERRORISM_TEN)

    assert result.verdict == "altered" and result.summary.startswith("Altered")
    match = result.matches[0]
    assert match.doc_id == NOTE and match.citation.endswith("note verbale CMS (2023), 14 September 2023, ¶6")
    assert match.text == "there has been no violent terrorist incident in Xinjiang for over six consecutive years."
    assert [op.to_json() for op in match.differences] == [{"op": "replace", "quoted": "ten", "source": "six"}]
    assert 0.9 < match.similarity < 1.0


def test_a_quotation_across_two_paragraphs_is_found_verbatim(fake_engine: QuoteEngine) -> None:
    text = fake_engine.document(NOTE).text
    start = text.index("greater solidarity among all ethnic groups")
    end = text.index("nearly 100 countries voiced") + len("nearly 100 countries voiced")

    result = fake_engine.check(" ".join(text[start:end].split()))

    assert result.verdict == "verbatim"
    assert [(m.doc_id, m.start, m.end) for m in result.matches] == [(NOTE, start, end)]
    assert result.matches[0].citation.endswith("¶6–7")


def test_a_phrase_said_twice_is_shown_at_both_places(fake_engine: QuoteEngine) -> None:
    result = fake_engine.check("in Xinjiang")

    text = fake_engine.document(NOTE).text
    assert result.verdict == "verbatim"
    said = [m.start() for m in re.finditer("in Xinjiang", text)]
    assert [m.start for m in result.matches if m.doc_id == NOTE] == said
    assert len({m.doc_id for m in result.matches}) == 2  # the press conference says it too
    assert result.summary == "Verbatim: these words are in 2 documents."


def test_a_quotation_in_a_transcript_is_attributed_to_its_turns_speaker(fake_engine: QuoteEngine) -> None:
    question = "What is China’s comment?"

    wrong = fake_engine.check(question, speaker="Zhao Lijian", date="2022-07-28")
    right = fake_engine.check(question, speaker="China Daily")

    assert wrong.verdict == "verbatim" and wrong.misattributed
    assert wrong.matches[0].speaker == "China Daily"
    assert wrong.misattribution == (
        "Misattributed: attributed to Zhao Lijian on 28 July 2022, but said by China Daily on 28 July 2022."
    )
    assert not right.misattributed and right.misattribution is None


CAMPS = "We will open all camps to inspection tomorrow."


def _engine_with(settings: Settings, fake_embedder, files: dict[str, str], uploads: dict | None = None) -> QuoteEngine:
    from assistant.ingest import ingest
    from assistant.uploads import save_upload

    for name, text in files.items():
        (settings.corpus_dir / name).write_text(text, encoding="utf-8")
    for name, text in (uploads or {}).items():
        save_upload(settings.corpus_dir, name, text.encode())
    ingest(settings, fake_embedder)
    return QuoteEngine.open(settings, fake_embedder)


def test_words_in_a_document_that_names_no_speaker_do_not_confirm_a_claimed_one(settings, fake_embedder) -> None:
    """Issue 22: a one-line 'Zhao Lijian:' in a file with no author or speaker is not a turn of his."""
    engine = _engine_with(settings, fake_embedder, {"press-notes.txt": f"Press notes\nZhao Lijian: {CAMPS}\n"})

    result = engine.check(CAMPS, speaker="Zhao Lijian")

    assert result.verdict == "verbatim" and not result.misattributed
    assert result.attribution == "unattributed" and result.status == "unattributed"
    assert result.label == "Unattributed" and "Verbatim" not in result.summary
    assert result.summary == (
        "Unattributed: these words are in the corpus, but the source does not say who said this; "
        "it does not confirm these words are Zhao Lijian's."
    )
    assert result.to_json()["attribution"] == "unattributed"
    assert engine.check(CAMPS).label == "Verbatim"  # without a claimed speaker the words are simply found


def test_only_an_upload_holding_the_words_is_said_in_the_verdict(settings, fake_embedder) -> None:
    engine = _engine_with(settings, fake_embedder, {}, uploads={"notes.txt": f"Press notes\n{CAMPS}\n"})

    claimed = engine.check(CAMPS, speaker="Zhao Lijian")
    plain = engine.check(CAMPS)

    assert claimed.attribution == "upload" and claimed.label == "Unattributed"
    assert "only in an uploaded document, which is no evidence of who said them" in claimed.summary
    assert claimed.matches[0].uploaded and claimed.to_json()["matches"][0]["uploaded"] is True
    assert plain.summary.startswith("Verbatim: these words are only in an uploaded document")


def test_a_claim_is_confirmed_by_a_turn_or_the_documents_speaker(settings, fake_embedder) -> None:
    engine = _engine_with(settings, fake_embedder, {"press-notes.txt": f"Press notes\n{CAMPS}\n"})
    text = engine.document("2022-07-28-mfa-press-conference-zhao-lijian").text
    said = "The so-called assessment of Xinjiang is a show choreographed and staged by the US"
    assert said in text

    confirmed = engine.check(said, speaker="Zhao Lijian")
    other = engine.check(said, speaker="Jen Psaki")

    assert confirmed.attribution == "confirmed" and confirmed.label == "Verbatim" and confirmed.attribution_note is None
    assert other.attribution == "misattributed" and other.misattributed and other.label == "Verbatim"


def test_not_found_shows_the_nearest_passages_marked_not_a_match(fake_engine: QuoteEngine) -> None:
    result = fake_engine.check(MADE_UP, speaker="Nobody")

    assert result.verdict == "not_found" and not result.misattributed
    assert result.summary == "Not found: nothing in the corpus is close enough to this quotation."
    assert 1 <= len(result.matches) <= 3
    for match in result.matches:
        assert not match.is_match and match.diff == () and match.similarity < ALTERED_MIN_SIMILARITY
        assert fake_engine.document(match.doc_id).text[match.start : match.end] == match.text


def test_a_quotation_of_words_the_corpus_never_uses_shares_nothing_with_its_nearest(fake_engine: QuoteEngine) -> None:
    result = fake_engine.check("Zyxwv qwertyuiop asdfghjkl")
    assert result.verdict == "not_found" and result.matches
    assert [match.similarity for match in result.matches] == [0.0] * len(result.matches)


def test_engine_check_raises_for_a_bad_quotation(fake_engine: QuoteEngine) -> None:
    with pytest.raises(QuotationError, match="The quotation is empty"):
        fake_engine.check("  ")
    with pytest.raises(QuotationError, match="YYYY-MM-DD"):
        fake_engine.check(NOTE_SENTENCE, date="yesterday")


# --- Generated cases with the real model (seeds + held-out speeches) ---------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    """The seed documents (with their catalog) and the 16 held-out speeches, indexed with the real model."""
    root = tmp_path_factory.mktemp("check")
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    for path in HELDOUT_CORPUS.iterdir():
        shutil.copyfile(path, corpus / path.name)
    return QuoteEngine.open(Settings(corpus_dir=corpus, index_dir=root / "index"), build=True)


def test_there_are_at_least_60_cases_of_every_kind() -> None:
    kinds = {case.kind for case in CASES}
    assert len(CASES) >= 60
    assert kinds == {
        "verbatim_typographic",
        "one_word_changed",
        "words_dropped",
        "ellipsis_joined",
        "sentences_reordered",
        "misattributed",
        "rightly_attributed",
        "fabricated",
    }
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.integration
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_generated_case(engine: QuoteEngine, case: Case) -> None:
    result = engine.check(case.quotation, speaker=case.speaker, date=case.date)

    assert result.verdict == case.verdict
    for match in result.matches:  # every offset, of every match and every diff op, against the document
        text = documents()[match.doc_id]
        assert text[match.start : match.end] == match.text
        assert all(text[op.source_start : op.source_end] == op.source for op in match.diff)
        assert all(op.quoted in case.quotation for op in match.diff)
    found = [(m.doc_id, m.start, m.end) for m in result.matches if m.is_match]
    for place in case.places:
        assert (place.doc_id, place.start, place.end) in found
    if case.verdict == "verbatim":
        assert all(m.is_verbatim and m.similarity == 1.0 for m in result.matches)
    if case.kind in ("ellipsis_joined", "sentences_reordered"):
        assert found[:2] == [(p.doc_id, p.start, p.end) for p in case.places]
    if case.kind == "ellipsis_joined":
        assert result.summary == "Verbatim: these words are in the corpus, joined from 2 places of one document."
    if case.kind == "sentences_reordered":
        assert result.explanation.startswith("these words are in the corpus, but not as quoted")
    if case.differences:
        (match,) = result.matches
        assert [(op.op, op.quoted, op.source) for op in match.differences] == list(case.differences)
        assert ALTERED_MIN_SIMILARITY <= match.similarity < 1.0
    if case.verdict == "not_found":
        assert all(not m.is_match and m.similarity < ALTERED_MIN_SIMILARITY for m in result.matches)
    assert result.misattributed is case.misattributed
    if case.misattributed:
        assert result.matches[0].speaker == case.said_by
        assert result.misattribution.endswith(f"but said by {result.matches[0].said}.")


@pytest.mark.integration
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_verbatim_substring_of_any_document_is_found_at_its_exact_offsets(engine: QuoteEngine, data) -> None:
    doc_id = data.draw(st.sampled_from(sorted(documents())), label="document")
    text = documents()[doc_id]
    words = _word_spans(text, engine.document(doc_id).passages[0].start)
    length = data.draw(st.integers(8, 40), label="words")
    first = data.draw(st.integers(0, len(words) - length), label="first word")
    start, end = words[first][0], words[first + length - 1][1]
    quotation = text[start:end]
    assume(not ELLIPSIS.search(quotation) and not (quotation[0] in OPENING_MARKS and quotation[-1] in "\"'”’»“"))
    retyped = data.draw(st.sampled_from([quotation, quotation.upper(), " ".join(quotation.split())]), label="form")

    result = engine.check(retyped)

    assert result.verdict == "verbatim"
    assert (doc_id, start, end) in [(m.doc_id, m.start, m.end) for m in result.matches]
    assert all(documents()[m.doc_id][m.start : m.end] == m.text for m in result.matches)


def _word_spans(text: str, start: int) -> list[tuple[int, int]]:
    """Runs of non-whitespace characters of text[start:], as offsets into text."""
    return [(m.start(), m.end()) for m in re.compile(r"\S+").finditer(text, start)]


# --- The issue's "done when", from the command line ---------------------------------------------------------


def run_check(*args: str, places: dict, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **places}
    return subprocess.run(
        [sys.executable, "-m", "assistant", "check", *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("check-cli")
    shutil.copytree(SEED_CORPUS, root / "corpus")
    return {"ASSISTANT_CORPUS": str(root / "corpus"), "ASSISTANT_INDEX": str(root / "index")}


@pytest.mark.integration
def test_done_when_ten_years_is_altered_showing_six_against_ten_citing_the_note(places: dict) -> None:
    result = run_check(TERRORISM_TEN, places=places)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Altered: a passage says nearly the same; the differences are marked.")
    assert "note verbale CMS (2023), 14 September 2023, ¶6" in result.stdout
    assert "- quoted “ten” where the source says “six”" in result.stdout

    data = json.loads(run_check("--json", TERRORISM_TEN, places=places).stdout)
    assert data["verdict"] == "altered"
    match = data["matches"][0]
    assert match["date"] == "2023-09-14" and match["citation"].endswith("14 September 2023, ¶6")
    assert {"op": "replace", "quoted": "ten", "source": "six"} in match["diff"]
    assert Path(match["path"]).read_text(encoding="utf-8")[match["start"] : match["end"]] == match["text"]


@pytest.mark.integration
def test_done_when_a_sentence_of_the_note_with_straight_quotes_is_verbatim(places: dict) -> None:
    data = json.loads(run_check("--json", NOTE_SENTENCE, places=places).stdout)  # the note's ' is straight

    assert data["verdict"] == "verbatim"
    assert data["matches"][0]["doc_id"] == NOTE and data["matches"][0]["text"] == NOTE_SENTENCE
    retyped = json.loads(run_check("--json", "-", places=places, stdin="It’s clear to all").stdout)  # from stdin
    assert retyped["verdict"] == "verbatim" and retyped["matches"][0]["text"] == "It's clear to all"


@pytest.mark.integration
def test_done_when_a_made_up_sentence_is_not_found(places: dict) -> None:
    result = run_check(MADE_UP, places=places)
    assert result.stdout.startswith("Not found: nothing in the corpus is close enough to this quotation.")
    assert "Closest passages (not a match):" in result.stdout
    assert json.loads(run_check("--json", MADE_UP, places=places).stdout)["verdict"] == "not_found"


@pytest.mark.integration
def test_cli_flags_a_misattribution_and_rejects_a_bad_date(places: dict) -> None:
    data = json.loads(
        run_check("--json", "--speaker", "Zhao Lijian", "--date", "2023-09-14", NOTE_SENTENCE, places=places).stdout
    )
    assert data["misattributed"] is True and data["matches"][0]["misattributed"] is True
    assert data["matches"][0]["speaker"] == "Permanent Mission of the People's Republic of China to the United Nations"

    bad = run_check("--date", "14/09/2023", NOTE_SENTENCE, places=places)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: The date '14/09/2023' is not a date written YYYY-MM-DD."


# --- Chinese (tests/data/zh/corpus beside the seeds, the fake embedder: keywords and FTS5 find them) ----------

ZH_DOC = "2023-09-15-zh-statement"


def test_fold_makes_full_width_forms_and_cjk_punctuation_half_width() -> None:
    assert fold("ＡＢＣ１２３，。：；！？“”「」、\u3000") == 'abc123,.:;!?"""", '


def test_chinese_is_tokenized_one_character_a_token() -> None:
    assert tokenize("中方：“不是”COVID-19").keys == ("中", "方", ":", '"', "不", "是", '"', "covid", "-", "19")


def test_a_chinese_quotation_inside_a_chinese_document_is_verbatim(mixed_engine: QuoteEngine) -> None:
    result = mixed_engine.check("涉疆问题不是人权问题")
    assert result.verdict == "verbatim"
    match = result.matches[0]
    assert (match.doc_id, match.text, match.paragraph) == (ZH_DOC, "涉疆问题不是人权问题", 2)
    assert mixed_engine.document(ZH_DOC).text[match.start : match.end] == match.text


def test_half_width_punctuation_in_a_chinese_quotation_counts_as_the_full_width(mixed_engine: QuoteEngine) -> None:
    result = mixed_engine.check("涉疆问题不是人权问题,而是反暴恐,去极端化和反分裂问题.")
    assert result.verdict == "verbatim"
    assert result.matches[0].text == "涉疆问题不是人权问题，而是反暴恐、去极端化和反分裂问题。"


def test_one_changed_chinese_character_is_altered_with_a_character_level_diff(mixed_engine: QuoteEngine) -> None:
    result = mixed_engine.check("涉疆问题就是人权问题")
    assert result.verdict == "altered"
    match = result.matches[0]
    assert match.doc_id == ZH_DOC and match.text == "涉疆问题不是人权问题"
    assert [(op.op, op.quoted, op.source) for op in match.differences] == [("replace", "就", "不")]
    assert match.differences[0].describe() == "quoted “就” where the source says “不”"
    assert 0.85 < match.similarity < 1


def test_a_chinese_quotation_the_corpus_does_not_hold_is_not_found(mixed_engine: QuoteEngine) -> None:
    result = mixed_engine.check("中方将于明年在上海举办国际棉花博览会")
    assert result.verdict == "not_found"
    assert all(not match.is_match for match in result.matches)


def test_the_seed_notes_chinese_letterhead_is_verbatim(mixed_engine: QuoteEngine) -> None:
    result = mixed_engine.check("中华人民共和国常驻联合国代表团")
    assert result.verdict == "verbatim" and result.matches[0].doc_id == NOTE


# --- A long paste, sentence by sentence; markup removed (issue 22, point 7; the fake embedder) ----------------

NOTE_FILE = SEED_CORPUS / f"{NOTE}.txt"
WRAPPED = "They are about countering violent terrorism, radicalization and separatism."


def assert_every_offset_verbatim(engine: QuoteEngine, paste: PasteCheck) -> None:
    """Every match and every diff op of every part is the document's own text at its offsets."""
    for part in paste.parts:
        assert part.result.text == paste.text[part.start : part.end]
        for match in part.result.matches:
            text = engine.document(match.doc_id).text
            assert text[match.start : match.end] == match.text
            assert all(text[op.source_start : op.source_end] == op.source for op in match.diff)


def test_the_whole_note_pasted_is_one_verbatim_passage(fake_engine: QuoteEngine) -> None:
    note = NOTE_FILE.read_text(encoding="utf-8")

    paste = fake_engine.check_paste(note)

    assert paste.single is not None and paste.summary == "Verbatim: these words are in the corpus."
    (match,) = paste.single.matches
    start = len(note) - len(note.lstrip())
    assert (match.doc_id, match.start, match.end) == (NOTE, start, start + len(note.strip()))
    assert match.citation.endswith("¶1–11")


def test_a_5000_character_paste_of_the_note_is_its_sentences_verbatim(fake_engine: QuoteEngine) -> None:
    """The user's report: 5,000 characters of the seed note (twice over) gave "Not found"."""
    note = NOTE_FILE.read_text(encoding="utf-8").strip()
    pasted = f"{note}\n\n{note}"[:5_000]
    assert len(pasted) == 4_970  # (two copies, the limit of one quotation is 5,000 characters)

    paste = fake_engine.check_paste(pasted)

    assert paste.verdict == "verbatim" and paste.single is None
    assert [part.label for part in paste.parts] == ["Sentences 1–17", "Sentences 18–34"]
    assert paste.summary == "Verbatim: 34 sentences, checked one by one: 34 verbatim (as 2 passages)."
    for part in paste.parts:
        (match,) = part.result.matches
        assert (match.doc_id, match.start, match.end, match.similarity) == (NOTE, 4, 2488, 1.0)
        assert match.text == note and match.is_verbatim and match.citation.endswith("¶1–11")
    assert_every_offset_verbatim(fake_engine, paste)


def test_an_edited_paste_gets_a_verdict_for_each_sentence(fake_engine: QuoteEngine) -> None:
    note = NOTE_FILE.read_text(encoding="utf-8").strip()
    press = (SEED_CORPUS / "2022-07-28-mfa-press-conference-zhao-lijian.txt").read_text(encoding="utf-8").strip()
    pasted = f"{note}\n\n{MADE_UP} {TERRORISM_TEN}\n\n{press}"

    paste = fake_engine.check_paste(pasted)

    assert paste.verdict == "mixed" and paste.label == "Mixed"
    assert paste.finding == "39 sentences, checked one by one: 37 verbatim (as 3 passages), 1 altered, 1 not found."
    verdicts = [(part.label, part.result.verdict) for part in paste.parts]
    assert verdicts[:3] == [("Sentences 1–17", "verbatim"), ("Sentence 18", "not_found"), ("Sentence 19", "altered")]
    assert {verdict for _, verdict in verdicts[3:]} == {"verbatim"}
    altered = paste.parts[2].result
    assert altered.text == TERRORISM_TEN
    assert [op.to_json() for op in altered.matches[0].differences] == [
        {"op": "replace", "quoted": "ten", "source": "six"}
    ]
    assert all(not match.is_match for match in paste.parts[1].result.matches)
    assert_every_offset_verbatim(fake_engine, paste)
    data = json.loads(json.dumps(paste.to_json()))
    assert [key for key in data] == ["text", "verdict", "misattributed", "sentences", "notes", "parts"]
    assert [(p["first"], p["sentences"], p["verdict"]) for p in data["parts"][:3]] == [
        (1, 17, "verbatim"),
        (18, 1, "not_found"),
        (19, 1, "altered"),
    ]


@pytest.mark.parametrize(
    ("pasted", "removed"),
    [
        (f"<p>{WRAPPED}</p>", "HTML tags"),
        (f"<b>{WRAPPED}</b>", "HTML tags"),
        (
            '<div class="quote"><p><em>They</em> are about countering violent terrorism,<br>radicalization and '
            "separatism.</p></div>",
            "HTML tags",
        ),
        (f"**{WRAPPED}**", "Markdown emphasis (* and _)"),
        (f"> _{WRAPPED}_", "Markdown > quote markers, Markdown emphasis (* and _)"),
        ("They are about countering violent terrorism, radicalization &amp; separatism.".replace("&amp;", "and"), None),
        (
            "It&#x27;s clear to all that the co-sponsors are notorious anti-China organizations.",
            "HTML entities decoded",
        ),
        (f"&lt;b&gt;{WRAPPED}&lt;/b&gt;", "HTML entities decoded"),  # decoded once: the tags are then text
    ],
)
def test_markup_is_removed_before_matching_and_the_verdict_says_so(fake_engine, pasted: str, removed) -> None:
    paste = fake_engine.check_paste(pasted)

    result = paste.single
    if removed is None:
        assert paste.notes == () and result.verdict == "verbatim"
        return
    assert paste.notes == (f"Markup removed before matching: {removed}.",)
    if pasted.startswith("&lt;"):  # "<b>" is then in the quotation, which the note does not have
        assert result.verdict == "altered"
        return
    assert result.verdict == "verbatim" and "Markup removed before matching" in paste.summary
    (match,) = result.matches
    assert match.text in (WRAPPED, NOTE_SENTENCE)  # the document's text, not the paste's
    assert fake_engine.document(NOTE).text[match.start : match.end] == match.text
    assert "<" not in result.text and "*" not in result.text and "&" not in result.text


def test_markup_the_document_itself_has_is_matched_as_pasted(settings, fake_embedder) -> None:
    body = "The **budget** of the _canal_ office is *final*."
    engine = _engine_with(settings, fake_embedder, {"budget.md": f"---\ntitle: Budget\n---\n\n{body}\n"})

    paste = engine.check_paste(body)

    assert paste.notes == () and paste.single.verdict == "verbatim" and paste.single.matches[0].text == body


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("plain text, a < b & c", "plain text, a < b & c"),
        ("snake_case and 5 * 3 * 2", "snake_case and 5 * 3 * 2"),
        ("<p>One.</p><p>Two.</p>", "One.\n\n\n\nTwo."),
        ("<script>alert(1)</script><i>seen</i>", "seen"),
        ("> quoted\n> > twice", "quoted\ntwice"),
        ("***all*** __strong__ in**side**", "all strong inside"),
        ("caf&eacute; &#8220;x&#8221;", "café “x”"),
    ],
)
def test_strip_markup(text: str, cleaned: str) -> None:
    assert strip_markup(text)[0] == cleaned


def test_a_paste_over_the_limit_is_cut_at_a_sentence_with_a_message(fake_engine: QuoteEngine) -> None:
    sentence = "The harbour office counted the boats again this year. "
    pasted = sentence * 400  # 21,600 characters; 21,599 without the last space

    paste = fake_engine.check_paste(pasted)

    assert paste.text == pasted[: 370 * len(sentence) - 1] and paste.sentences == 370  # 19,979 characters
    assert paste.notes == (
        "The text is 21,599 characters long and the limit is 20,000: only its first 19,979 characters were "
        "checked, the rest (1,620 characters) was not.",
    )
    assert paste.summary.endswith(paste.notes[0]) and paste.verdict == "not_found"


def test_a_paste_with_no_sentence_end_before_the_limit_is_cut_at_a_space_or_the_limit() -> None:
    words, words_note = cut_paste("word " * 5_000)
    letters, letters_note = cut_paste("x" * 25_000)

    assert len(words) == 19_999 and words.endswith("word") and words_note.startswith("The text is 25,000 characters")
    assert len(letters) == MAX_PASTE_CHARS and "the rest (5,000 characters) was not" in letters_note
    assert cut_paste("short.") == ("short.", None)


def test_a_chinese_paste_is_checked_sentence_by_sentence_at_full_width_stops(mixed_engine: QuoteEngine) -> None:
    made_up = "中方将于明年在上海举办国际棉花博览会！"
    pasted = (
        "涉疆问题不是人权问题，而是反暴恐、去极端化和反分裂问题。经过艰苦努力，新疆已连续六年多未发生暴力恐怖案件。"
        f"{made_up}当前新疆社会稳定、经济高质量发展、民生显著改善，处于历史上最好的时期；我们欢迎各国朋友到新疆走一走、看一看。"
    )

    paste = mixed_engine.check_paste(pasted)

    assert paste.finding == "5 sentences, checked one by one: 3 verbatim (as 2 passages), 1 altered, 1 not found."
    assert [(p.label, p.result.verdict) for p in paste.parts] == [
        ("Sentences 1–2", "verbatim"),
        ("Sentence 3", "not_found"),
        ("Sentence 4", "altered"),  # "；" where the statement has "。"
        ("Sentence 5", "verbatim"),
    ]
    first = paste.parts[0].result.matches[0]
    assert first.doc_id == ZH_DOC and first.text == pasted[: paste.parts[0].end]
    assert paste.parts[1].result.text == made_up
    assert_every_offset_verbatim(mixed_engine, paste)


def test_the_cli_words_a_paste_part_by_part(fake_engine: QuoteEngine) -> None:
    from assistant.cli import _readable_paste

    note = NOTE_FILE.read_text(encoding="utf-8").strip()
    shown = _readable_paste(fake_engine.check_paste(f"<p>{note}</p>\n\n<p>{MADE_UP}</p>"))

    lines = shown.split("\n")
    assert lines[:2] == [
        "Mixed: 18 sentences, checked one by one: 17 verbatim (as 1 passage), 1 not found.",
        "Markup removed before matching: HTML tags.",
    ]
    assert "Sentences 1–17: Verbatim: these words are in the corpus." in lines
    assert "Sentence 18: Not found: nothing in the corpus is close enough to this quotation." in lines
    assert f"  “{MADE_UP}”" in lines


SENTENCES = [s for s in re.split(r"(?<=[.!?])\s+", NOTE_FILE.read_text(encoding="utf-8").strip()) if s]
MARKUP = ["{}", "<p>{}</p>", "<b>{}</b>", "**{}**", "> {}", "_{}_", "<li>{}</li>"]


@pytest.fixture(scope="module")
def note_engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    from assistant.ingest import ingest
    from tests.conftest import FakeEmbedder

    root = tmp_path_factory.mktemp("paste")
    shutil.copytree(SEED_CORPUS, root / "corpus")
    settings = Settings(
        corpus_dir=root / "corpus", index_dir=root / "index", model="fake-bag-of-words", threshold=0.3, reranker="none"
    )
    embedder = FakeEmbedder()
    ingest(settings, embedder)
    return QuoteEngine.open(settings, embedder)


@settings(max_examples=40, deadline=None)
@given(
    picks=st.lists(st.tuples(st.integers(0, len(SENTENCES) - 1), st.sampled_from(MARKUP)), min_size=1, max_size=8),
    changed=st.lists(st.integers(0, 7), max_size=2),
)
def test_any_paste_of_the_notes_sentences_in_any_markup_matches_only_document_text(note_engine, picks, changed) -> None:
    sentences = [wrap.format(SENTENCES[i]) for i, wrap in picks]
    for position in changed:  # change a word, so that some sentences are altered
        if position < len(sentences):
            sentences[position] = sentences[position].replace(" the ", " a ", 1)

    paste = note_engine.check_paste("\n\n".join(sentences))

    assert_every_offset_verbatim(note_engine, paste)
    for part in paste.parts:
        for match in part.result.matches:
            assert match.is_match or part.result.verdict == "not_found"
