"""Uploads: safe names, size cap, duplicates refused, unreadable files refused, nothing left behind."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from assistant.corpus import UPLOADS_NAME, read_document, scan_corpus
from assistant.uploads import (
    MAX_STEM_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_TOTAL_BYTES,
    UploadError,
    list_uploads,
    remove_upload,
    safe_filename,
    save_upload,
)
from tests.apphelpers import NOTE, PRESS, copy_corpus
from tests.conftest import REPO, minimal_pdf

GOOD_MD = b"---\ntitle: Irrigation budget\nauthor: Treasury\ndate: 2024-03-01\n---\n\nCanal spending grew.\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in a folder (hidden ones included) with its bytes."""
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return copy_corpus(tmp_path / "corpus")


@pytest.mark.parametrize(
    ("uploaded", "saved"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\Report (final).PDF", "Report-final.pdf"),
        ("..hidden.md", "hidden.md"),
        ("Résumé été.html", "Resume-ete.html"),
        ("中文.txt", "upload.txt"),
        ("page.htm", "page.htm"),
        ("a" * 200 + ".md", "a" * MAX_STEM_CHARS + ".md"),
        ("what?! <script>.md", "what-script.md"),
    ],
)
def test_safe_filename(uploaded: str, saved: str) -> None:
    assert safe_filename(uploaded) == saved


@pytest.mark.parametrize("uploaded", ["tool.exe", "no-extension", "archive.tar.gz", "notes.md.exe", "catalog.yaml"])
def test_safe_filename_refuses_unsupported_types(uploaded: str) -> None:
    with pytest.raises(UploadError, match=r"is not supported; use \.txt, \.md, \.html, \.htm, \.pdf"):
        safe_filename(uploaded)


def test_save_writes_exact_bytes_under_a_new_name_the_index_will_use(corpus: Path) -> None:
    saved = save_upload(corpus, "Irrigation budget.md", GOOD_MD)

    assert saved.name == "Irrigation-budget.md"
    assert saved.path == corpus / "Irrigation-budget.md"
    assert saved.path.read_bytes() == GOOD_MD
    assert saved.size == len(GOOD_MD)
    sources, skipped = scan_corpus(corpus)
    (source,) = [s for s in sources if s.path == saved.path]
    assert source.doc_id == saved.doc_id == "Irrigation-budget"
    assert source.sha256 == saved.sha256
    assert read_document(source).metadata.author == "Treasury"
    assert not skipped
    assert [name for name in snapshot(corpus) if name.startswith(".")] == [UPLOADS_NAME], "no temporary file left"


def test_save_accepts_a_pdf_with_text(corpus: Path) -> None:
    saved = save_upload(corpus, "statement.pdf", minimal_pdf("The delegation supports the resolution."))
    (source,) = [s for s in scan_corpus(corpus)[0] if s.path == saved.path]
    assert "The delegation supports the resolution." in read_document(source).text


@pytest.mark.parametrize(
    ("existing", "uploaded", "saved"),
    [
        ("note.txt", "note.txt", "note-2.txt"),
        ("note.txt", "note.md", "note-2.md"),  # same stem would change which file is called 'note'
        ("Note.txt", "note.txt", "note-2.txt"),
        ("note.txt note-2.txt", "note.txt", "note-3.txt"),
        ("", "README.md", "README-2.md"),  # the indexer skips README files
    ],
)
def test_save_never_overwrites_and_keeps_document_ids_unique(
    corpus: Path, existing: str, uploaded: str, saved: str
) -> None:
    for name in existing.split():
        (corpus / name).write_text(f"Existing text of {name}.", encoding="utf-8")
    before = snapshot(corpus)

    result = save_upload(corpus, uploaded, b"A new text with new content.")

    assert result.name == saved
    assert {name: data for name, data in snapshot(corpus).items() if name not in (saved, UPLOADS_NAME)} == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", r"empty\.txt cannot be added: the file is empty\."),
        ("blank.md", b"   \n\n  ", r"blank\.md cannot be added: empty: no text to index\."),
        ("latin1.txt", "café".encode("latin-1"), r"latin1\.txt cannot be added: not UTF-8 text"),
        ("binary.txt", b"abc\x00def", r"binary\.txt cannot be added: binary file"),
        ("fake.pdf", b"%PDF-1.4 this is not really a PDF", r"fake\.pdf cannot be added: unreadable PDF"),
        ("script-only.html", b"<html><script>alert(1)</script></html>", r"cannot be added: empty"),
        ("big.txt", b"x" * 101, r"big\.txt cannot be added: it is 101 bytes; the limit is 100 bytes\."),
        ("tool.exe", b"MZ", r"tool\.exe cannot be added: the file type \('\.exe'\) is not supported"),
    ],
)
def test_bad_files_are_refused_and_change_nothing(corpus: Path, name: str, data: bytes, message: str) -> None:
    before = snapshot(corpus)
    with pytest.raises(UploadError, match=message):
        save_upload(corpus, name, data, max_bytes=100)
    assert snapshot(corpus) == before


def test_exact_duplicate_content_is_refused_whatever_its_name(corpus: Path) -> None:
    before = snapshot(corpus)
    seed = (corpus / f"{NOTE}.txt").read_bytes()
    with pytest.raises(UploadError, match=rf"copy\.txt is already in the corpus as {NOTE}\.txt \(same content\)"):
        save_upload(corpus, "copy.txt", seed)
    assert snapshot(corpus) == before


def test_same_upload_twice_is_saved_once(corpus: Path) -> None:
    save_upload(corpus, "budget.md", GOOD_MD)
    with pytest.raises(UploadError, match=r"already in the corpus as budget\.md"):
        save_upload(corpus, "budget (1).md", GOOD_MD)


def test_missing_corpus_folder_is_an_upload_error(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"notes\.txt cannot be added: the corpus folder .* does not exist\."):
        save_upload(tmp_path / "nowhere", "notes.txt", b"Some text.")


def test_an_upload_is_registered_with_its_time_and_every_citation_of_it_says_so(corpus: Path) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    saved = save_upload(corpus, "Irrigation budget.md", GOOD_MD)

    uploaded = dt.datetime.fromisoformat(saved.uploaded)
    assert before <= uploaded <= dt.datetime.now(dt.UTC) and uploaded.utcoffset() == dt.timedelta(0)
    assert list_uploads(corpus) == [saved]
    label = f"uploaded {uploaded.day} {uploaded:%B %Y}, {uploaded:%H:%M} UTC"
    documents = {source.doc_id: read_document(source) for source in scan_corpus(corpus)[0]}
    assert documents["Irrigation-budget"].metadata.title == f"Irrigation budget ({label})"
    assert documents["Irrigation-budget"].metadata.author == "Treasury"
    assert "uploaded" not in documents[NOTE].metadata.title  # catalogued documents are not marked


@pytest.mark.parametrize(
    ("front", "claim"),
    [
        ("speaker: Zhao Lijian", "it names Zhao Lijian as its speaker, who is the speaker of a catalogued document"),
        ("speaker: Spokesperson ZHAO  Lijian", "it names Zhao Lijian as its speaker"),
        (
            "author: Ministry of Foreign Affairs of the People's Republic of China",
            "it names Ministry of Foreign Affairs of the People's Republic of China as its author",
        ),
    ],
)
def test_an_upload_cannot_claim_a_catalogued_author_or_speaker(corpus: Path, front: str, claim: str) -> None:
    before = snapshot(corpus)
    data = f"---\ntitle: Remarks\n{front}\n---\n\nWe said something else entirely.\n".encode()
    with pytest.raises(UploadError, match=re.escape(f"remarks.md cannot be added: {claim}")):
        save_upload(corpus, "remarks.md", data)
    assert snapshot(corpus) == before


def test_an_upload_cannot_give_a_catalogued_speaker_a_turn(corpus: Path) -> None:
    transcript = b"China Daily: What do you say?\n\nZhao Lijian: Something never said.\n\nChina Daily: Thanks.\n"
    with pytest.raises(UploadError, match="it names Zhao Lijian as its speaker"):
        save_upload(corpus, "transcript.txt", transcript)


@pytest.mark.parametrize(
    "text",
    [
        # issue 22: one turn under a heading is not read as a transcript, but it is still a turn given to him
        "Press notes\nZhao Lijian: We will open all camps to inspection tomorrow.\n",
        "Zhao Lijian: We will open all camps to inspection tomorrow.\n",
        "Notes from the day.\n\nSome prose first.\n   ZHAO LIJIAN:\tWe will open all camps.\n",
    ],
)
def test_one_turn_labelled_with_a_catalogued_speaker_is_refused(corpus: Path, text: str) -> None:
    before = snapshot(corpus)
    with pytest.raises(UploadError, match="it names Zhao Lijian as its speaker"):
        save_upload(corpus, "zhao-turn.txt", text.encode())
    assert snapshot(corpus) == before


def test_a_label_a_catalogued_document_gives_its_speaker_is_refused(corpus: Path) -> None:
    """The catalogued press conference labels its speaker's turns; an upload may not use that label either."""
    (corpus / "catalog.yaml").write_text(
        (corpus / "catalog.yaml").read_text(encoding="utf-8")
        + "\nbriefing.txt:\n  title: Press Briefing by Press Secretary Jen Psaki\n  speaker: Jen Psaki\n",
        encoding="utf-8",
    )
    (corpus / "briefing.txt").write_text("MS. PSAKI: Hello.\n\nQ Thanks.\n\nMS. PSAKI: Bye.\n", encoding="utf-8")
    with pytest.raises(UploadError, match="it names Jen Psaki as its speaker"):
        save_upload(corpus, "forged.txt", b"Notes\nMS. PSAKI: We will cancel every loan.\n")
    assert save_upload(corpus, "other.txt", b"Notes\nMS. SMITH: We will cancel every loan.\n").path.is_file()


def test_a_colon_in_prose_is_not_a_turn(corpus: Path) -> None:
    saved = save_upload(corpus, "prose.txt", b"Press notes\nThe key point: Zhao Lijian spoke about camps.\n")
    assert saved.path.is_file()


def test_a_name_that_only_contains_part_of_a_catalogued_one_is_allowed(corpus: Path) -> None:
    saved = save_upload(corpus, "zhao.md", b"---\nauthor: Zhao\nspeaker: Lijian Zhaoxi\n---\n\nOther words.\n")
    assert saved.path.is_file()


def test_the_upload_quota_counts_files_and_bytes(corpus: Path) -> None:
    save_upload(corpus, "one.txt", b"x" * 60, max_total_bytes=100)
    with pytest.raises(UploadError, match=r"uploads may take 100 bytes in all, 60 bytes is used and this file is 41"):
        save_upload(corpus, "two.txt", b"y" * 41, max_total_bytes=100)
    save_upload(corpus, "two.txt", b"y" * 40, max_total_bytes=100)
    with pytest.raises(UploadError, match=r"three\.txt cannot be added: the uploads are at their limit of 2 files"):
        save_upload(corpus, "three.txt", b"z", max_files=2)

    remove_upload(corpus, "one.txt")  # removing an upload frees its share
    assert save_upload(corpus, "three.txt", b"z", max_files=2).name == "three.txt"


def test_an_upload_can_be_removed_and_nothing_else_can(corpus: Path) -> None:
    before = snapshot(corpus)
    saved = save_upload(corpus, "budget.md", GOOD_MD)

    assert remove_upload(corpus, "budget.md") == saved
    assert list_uploads(corpus) == []
    assert {name: data for name, data in snapshot(corpus).items() if name != UPLOADS_NAME} == before
    for name in (f"{PRESS}.txt", "catalog.yaml", "budget.md", "../x.txt"):
        with pytest.raises(UploadError, match=re.escape(f"{name} is not an uploaded document")):
            remove_upload(corpus, name)
    assert (corpus / f"{PRESS}.txt").is_file()


def test_streamlit_lets_a_file_over_the_per_file_limit_reach_the_app_which_says_why() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == MAX_UPLOAD_TOTAL_BYTES > 3 * MAX_UPLOAD_BYTES
