"""Corpus reading: metadata from the catalog or front matter, formats, and files that cannot be read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.corpus import SourceFile, read_document, scan_corpus, title_from_filename
from assistant.errors import CorpusError
from assistant.passages import passages_for
from tests.conftest import minimal_pdf

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"


def test_seed_documents_are_byte_identical_to_the_shared_seeds(seed_corpus):
    if not SEEDS.is_dir():
        pytest.skip("shared/seeds is not beside the repo")
    pairs = {
        "2023-09-14-china-un-mission-note-verbale.txt": "000_a31c0689b12c72a6.txt",
        "2022-07-28-mfa-press-conference-zhao-lijian.txt": "003_1dc20e5776c9bc75.txt",
    }
    for ours, theirs in pairs.items():
        assert (seed_corpus / ours).read_bytes() == (SEEDS / theirs).read_bytes()


def test_catalog_metadata_is_attached(seed_corpus):
    sources, skipped = scan_corpus(seed_corpus)
    assert skipped == []
    documents = {s.doc_id: read_document(s) for s in sources}
    note = documents["2023-09-14-china-un-mission-note-verbale"].metadata
    assert note.author == "Permanent Mission of the People's Republic of China to the United Nations"
    assert (note.date, note.place, note.kind, note.reference) == (
        "2023-09-14",
        "New York",
        "note verbale",
        "CMS (2023)",
    )
    press = documents["2022-07-28-mfa-press-conference-zhao-lijian"].metadata
    assert (press.speaker, press.date, press.place) == ("Zhao Lijian", "2022-07-28", "Beijing")


def test_txt_text_is_the_file_exactly_as_on_disk(tmp_path):
    raw = "Line one.\r\n\r\n\tTabbed 中文 line.\r\nno final newline"
    (tmp_path / "crlf.txt").write_bytes(raw.encode())
    (source,), _ = scan_corpus(tmp_path)
    assert read_document(source).text == raw


def test_markdown_front_matter_gives_metadata_and_body_start(tmp_path):
    text = (
        "---\ntitle: A statement\nauthor: Someone\ndate: 2020-01-02\nspeaker: Ms. X\n---\n# Heading\n\nBody *text*.\n"
    )
    (tmp_path / "statement.md").write_text(text, encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    document = read_document(source)
    assert document.metadata.title == "A statement"
    assert (document.metadata.author, document.metadata.date, document.metadata.speaker) == (
        "Someone",
        "2020-01-02",
        "Ms. X",
    )
    assert document.text == text
    assert document.text[document.body_start :].startswith("# Heading")


def test_missing_metadata_falls_back_without_crashing(tmp_path):
    (tmp_path / "my_speech-2019.md").write_text("---\ndate: not a date\n---\nText.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    metadata = read_document(source).metadata
    assert metadata.title == "My speech 2019"
    assert metadata.date is None and metadata.author is None


def test_html_text_is_extracted_without_scripts(tmp_path):
    html = (
        "<html><head><title>Press release</title><script>alert(1)</script></head><body>"
        "<p>First <b>bold</b> paragraph.</p><script>evil()</script><p>Second paragraph.</p></body></html>"
    )
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    document = read_document(source)
    assert document.text == "First bold paragraph.\n\nSecond paragraph."
    assert document.metadata.title == "Press release"


def test_pdf_text_is_extracted(tmp_path):
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(minimal_pdf("Hello from a PDF statement."))
    (source,), _ = scan_corpus(tmp_path)
    document = read_document(source)
    assert "Hello from a PDF statement." in document.text
    assert document.format == "pdf"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("binary.txt", b"\x00\x01\x02binary", "binary file"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("empty.txt", b"   \n\n", "empty"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
    ],
)
def test_unreadable_files_raise_a_reason(tmp_path, name, content, reason):
    (tmp_path / name).write_bytes(content)
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match=reason):
        read_document(source)


def test_encrypted_pdf_is_refused_with_a_reason(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    with open(tmp_path / "locked.pdf", "wb") as handle:
        writer.write(handle)
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match="encrypted PDF"):
        read_document(source)


def test_too_large_and_unsupported_files_are_skipped_by_name(tmp_path):
    (tmp_path / "huge.txt").write_bytes(b"a" * 2000)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "ok.txt").write_text("Fine.", encoding="utf-8")
    sources, skipped = scan_corpus(tmp_path, max_file_bytes=1000)
    assert [s.path.name for s in sources] == ["ok.txt"]
    reasons = {s.path.name: s.reason for s in skipped}
    assert reasons["huge.txt"].startswith("too large (2,000 bytes")
    assert "unsupported file type '.png'" in reasons["image.png"]


def test_missing_corpus_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        scan_corpus(tmp_path / "nope")


def test_invalid_catalog_is_a_clear_error(tmp_path):
    (tmp_path / "catalog.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="must map file names"):
        scan_corpus(tmp_path)


def test_title_from_filename():
    assert title_from_filename(Path("2023-09-14_note-verbale.txt")) == "2023 09 14 note verbale"


TRANSCRIPTS = Path(__file__).resolve().parent / "data" / "transcripts"


def test_published_front_matter_gives_date_source_time_and_a_plain_title():
    """A real briefing's front matter: quoted date, source_url, published_time, a title with YAML escapes."""
    path = TRANSCRIPTS / "2021-04-08-psaki-granholm.md"
    assert b'title: "Press Briefing by Press Secretary Jen\\_Psaki and Secretary of Energy Jennifer\\\n' in (
        path.read_bytes()
    )
    metadata = read_document(SourceFile(path.stem, path, "h", 0)).metadata
    assert (
        metadata.title
        == "Press Briefing by Press Secretary Jen Psaki and Secretary of Energy Jennifer Granholm, April 8, 2021"
    )
    assert metadata.date == "2021-04-08"
    assert metadata.published_time == "2021-04-08T17:45:00-04:00"
    assert metadata.url == (
        "https://bidenwhitehouse.archives.gov/briefing-room/press-briefings/2021/04/08/"
        "press-briefing-by-press-secretary-jen-psaki-and-secretary-of-energy-jennifer-granholm-april-8-2021/"
    )


@pytest.mark.parametrize(
    ("front", "date"),
    [
        ("date: '2022-10-20'", "2022-10-20"),
        ("date: 2022-10-20", "2022-10-20"),
        ("date: 2022-10-20 23:30:00-04:00", "2022-10-20"),  # the day as published, not converted to UTC
        ("date: 2022-10-20T23:30:00Z", "2022-10-20"),
        ('date: "2022-10"', "2022-10"),
        ("date: 2022", "2022"),
        ("published_time: 2022-10-20 17:45:00-04:00", "2022-10-20"),  # no date: the published day
        ("date: 2022-10-21\npublished_time: 2022-10-20 17:45:00-04:00", "2022-10-21"),
    ],
)
def test_dates_as_sites_write_them(tmp_path, front, date):
    (tmp_path / "briefing.md").write_text(f"---\n{front}\n---\nText.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    assert read_document(source).metadata.date == date


@pytest.mark.parametrize(
    ("front", "field", "message"),
    [
        ("date: 2024-02-30", "date", "'2024-02-30' is not a valid date (day is out of range for month)"),
        ("date: '2024-13-01'", "date", "'2024-13-01' is not a valid date (month must be in 1..12)"),
        ("published_time: 2024-02-30 10:00:00", "published_time", "'2024-02-30 10:00:00' is not a valid date"),
        ("published_time: 2024-02-01 25:00:00", "published_time", "is not a valid time"),
    ],
)
def test_a_date_that_does_not_exist_is_refused_naming_its_field(tmp_path, front, field, message):
    (tmp_path / "briefing.md").write_text(f"---\ntitle: T\n{front}\n---\nText.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match=re.escape(f"metadata field '{field}': ") + ".*" + re.escape(message)):
        read_document(source)


def test_a_bad_date_in_the_catalog_is_refused_naming_its_field(tmp_path):
    (tmp_path / "catalog.yaml").write_text("note.txt:\n  date: 2023-02-29\n", encoding="utf-8")
    (tmp_path / "note.txt").write_text("Text.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match="metadata field 'date': '2023-02-29' is not a valid date"):
        read_document(source)


@pytest.mark.parametrize(
    ("front", "url"),
    [
        ("source_url: https://example.org/a", "https://example.org/a"),
        ("url: https://example.org/b", "https://example.org/b"),
        ("url: https://example.org/b\nsource_url: https://example.org/a", "https://example.org/b"),
        ("title: no link", None),
    ],
)
def test_source_url_or_url(tmp_path, front, url):
    (tmp_path / "briefing.md").write_text(f"---\n{front}\n---\nText.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    assert read_document(source).metadata.url == url


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        (
            '"Press Briefing by Press Secretary Jen\\_Psaki, March 2,\\_2021"',
            "Press Briefing by Press Secretary Jen Psaki, March 2, 2021",
        ),
        ('"COVID-\\u206019 Response Team"', "COVID-19 Response Team"),  # a word joiner
        (r"Statement on the \*G7\* summit \#2", "Statement on the *G7* summit #2"),  # Markdown escapes
        (r"'snake\_case and a \\ backslash'", r"snake_case and a \ backslash"),
    ],
)
def test_titles_are_shown_unescaped(tmp_path, title, shown):
    (tmp_path / "briefing.md").write_text(f"---\ntitle: {title}\n---\nText.", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    assert read_document(source).metadata.title == shown


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            'title: "never closed\nauthor: [x',
            "front matter is not valid YAML: found unexpected end of stream on line 3",
        ),
        ("title: T\n  author: indented wrongly", "front matter is not valid YAML: mapping values are not allowed here"),
        ("- a list\n- of things", "front matter must be 'field: value' lines"),
    ],
)
def test_broken_front_matter_is_a_reason_not_a_first_paragraph(tmp_path, front, message):
    (tmp_path / "notes.md").write_text(f"---\n{front}\n---\n\nThe body.\n", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_document(source)


def test_front_matter_without_its_closing_line_is_a_reason(tmp_path):
    (tmp_path / "notes.md").write_text("---\ntitle: T\n\nThe body.\n", encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    with pytest.raises(ValueError, match="front matter is not closed: the '---' on line 1 has no closing '---' line"):
        read_document(source)


def test_broken_front_matter_is_reported_by_ingest_with_the_file_and_the_rest_is_indexed(settings, fake_embedder):
    from assistant.ingest import ingest

    broken = settings.corpus_dir / "notes.md"
    broken.write_text("---\ntitle: T\n  author: x\n---\n\nThe body.\n", encoding="utf-8")
    report = ingest(settings, fake_embedder)
    (skipped,) = report.skipped
    assert skipped.path == broken and skipped.reason.startswith("front matter is not valid YAML")
    assert report.documents == 2


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_a_byte_order_mark_is_not_text_and_offsets_stay_exact(tmp_path, suffix):
    body = "First paragraph.\n\nSecond paragraph."
    data = "\ufeff" + ("---\ntitle: With a BOM\n---\n" if suffix == ".md" else "") + body
    if suffix == ".html":
        data = "\ufeff<html><head><title>With a BOM</title></head><body><p>First paragraph.</p></body></html>"
    (tmp_path / f"bom{suffix}").write_text(data, encoding="utf-8")
    (source,), _ = scan_corpus(tmp_path)
    document = read_document(source)

    assert "\ufeff" not in document.text
    if suffix != ".txt":  # front matter (or an HTML title) after a BOM is still read
        assert document.metadata.title == "With a BOM"
    first, *_ = passages_for(document)
    assert first.text == "First paragraph." == document.text[first.start : first.end]


# --- Folder defaults (collection.yaml) and files that describe a folder ---

BRIEFING = Path(__file__).resolve().parent / "data" / "people" / "2021-05-11-psaki-granholm-mayorakas.md"
SOURCE_NOTE = "# White House press briefings, 2021\n\n365 transcripts of White House press briefings and gaggles.\n"


def briefings_folder(corpus: Path) -> Path:
    """A corpus with one real briefing in whitehouse/2021-05/, the folder's SOURCE.md and README.md beside it."""
    month = corpus / "whitehouse" / "2021-05"
    month.mkdir(parents=True)
    (month / BRIEFING.name).write_bytes(BRIEFING.read_bytes())
    (corpus / "whitehouse" / "SOURCE.md").write_text(SOURCE_NOTE, encoding="utf-8")
    (corpus / "whitehouse" / "README.md").write_text("About these files.\n", encoding="utf-8")
    (corpus / "LICENSE.txt").write_text("CC0\n", encoding="utf-8")
    return month


def test_a_folders_collection_file_gives_its_documents_an_author(tmp_path):
    month = briefings_folder(tmp_path)
    (tmp_path / "whitehouse" / "collection.yaml").write_text("author: The White House\nkind: press briefing\n")
    sources, skipped = scan_corpus(tmp_path)
    assert [s.path for s in sources] == [month / BRIEFING.name] and skipped == []  # SOURCE, README, LICENSE left out
    document = read_document(sources[0])
    assert (document.metadata.author, document.metadata.kind) == ("The White House", "press briefing")
    assert document.text == BRIEFING.read_text(encoding="utf-8")  # the text is untouched
    # the front matter's own fields are kept
    assert document.metadata.date == "2021-05-11" and document.metadata.title.startswith("Press Briefing by")


def test_a_nearer_collection_file_and_the_front_matter_and_catalog_win_field_by_field(tmp_path):
    month = briefings_folder(tmp_path)
    (tmp_path / "collection.yaml").write_text("author: Anyone\nplace: Washington, D.C.\n")
    (tmp_path / "whitehouse" / "collection.yaml").write_text("author: The White House\n")
    (month / "collection.yaml").write_text("kind: press briefing\ntitle: Overridden by front matter\n")
    (source,), _ = scan_corpus(tmp_path)
    meta = read_document(source).metadata
    assert (meta.author, meta.place, meta.kind) == ("The White House", "Washington, D.C.", "press briefing")
    assert meta.title.startswith("Press Briefing by Press Secretary Jen Psaki")
    (tmp_path / "catalog.yaml").write_text(
        f"whitehouse/2021-05/{BRIEFING.name}:\n  author: Office of the Press Secretary\n"
    )
    (source,), _ = scan_corpus(tmp_path)
    assert read_document(source).metadata.author == "Office of the Press Secretary"


def test_changing_a_collection_file_changes_the_fingerprint(tmp_path):
    briefings_folder(tmp_path)
    (before,), _ = scan_corpus(tmp_path)
    (tmp_path / "whitehouse" / "collection.yaml").write_text("author: The White House\n")
    (after,), _ = scan_corpus(tmp_path)
    assert before.fingerprint != after.fingerprint and before.sha256 == after.sha256


def test_a_folders_source_note_is_indexed_when_the_catalog_lists_it(tmp_path):
    briefings_folder(tmp_path)
    (tmp_path / "catalog.yaml").write_text("whitehouse/SOURCE.md:\n  title: About the briefings\n")
    sources, _ = scan_corpus(tmp_path)
    assert sorted(s.path.name for s in sources) == [BRIEFING.name, "SOURCE.md"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("- author\n", "must hold metadata fields"),
        ("authr: The White House\n", "unknown field 'authr'"),
        ("author: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_collection_file_that_cannot_be_read_is_reported(tmp_path, content, message):
    briefings_folder(tmp_path)
    (tmp_path / "whitehouse" / "collection.yaml").write_text(content)
    with pytest.raises(CorpusError, match=re.escape(message)):
        scan_corpus(tmp_path)
