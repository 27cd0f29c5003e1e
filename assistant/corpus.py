"""Corpus in: find the files, read their text exactly, attach metadata (catalog or front matter)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import CorpusError

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
CATALOG_NAME = "catalog.yaml"
#: A folder's defaults for its documents' metadata (e.g. `author: The White House`), for it and its subfolders.
COLLECTION_NAME = "collection.yaml"
#: Files that describe a folder rather than being documents of it (by name, any suffix, any case): not
#: indexed unless catalog.yaml has an entry for them.
NOT_DOCUMENTS = frozenset(
    ["readme", "source", "sources", "license", "licence", "copying", "notice", "changelog", "changes", "authors"]
    + ["contributing", "credits", "citation"]
)
#: The register of files added through the app, with their upload times (written by assistant/uploads.py).
UPLOADS_NAME = ".uploads.json"
METADATA_FIELDS = (
    "title",
    "citation_title",
    "author",
    "speaker",
    "kind",
    "date",
    "place",
    "reference",
    "url",
    "published_time",
)
HTML_BLOCKS = [
    "p",
    "div",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "tr",
    "section",
    "article",
    "br",
    "dd",
    "dt",
    "header",
    "footer",
    "figcaption",
    "table",
    "ul",
    "ol",
    "main",
]
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
OPENING_FENCE = re.compile(r"\A---[ \t]*\r?\n")
# A date as sites write one: 2021-03-02, 2021-03, 2021, or a date and time ('2021-03-02 17:00:00-05:00').
ISO_DATE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?P<time>[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)
# Markdown's backslash escapes (`Jen\_Psaki`), and characters that only steer line breaking.
MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


class _TextDatesLoader(yaml.SafeLoader):
    """YAML with dates and times left as written, so a bad one ('2024-02-30') is reported by its field."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Metadata:
    """What a citation needs to say about a document; every field may be unknown."""

    title: str
    citation_title: str | None = None
    author: str | None = None
    speaker: str | None = None
    kind: str | None = None
    date: str | None = None  # ISO 8601, YYYY-MM-DD (or YYYY-MM, YYYY)
    place: str | None = None
    reference: str | None = None
    url: str | None = None
    published_time: str | None = None  # ISO 8601 date and time as the source gives it, offset included

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in METADATA_FIELDS}


@dataclass(frozen=True)
class SourceFile:
    """A corpus file found on disk, hashed but not yet parsed (cheap to make for every file)."""

    doc_id: str
    path: Path
    sha256: str
    size: int
    catalog_entry: dict = field(default_factory=dict, hash=False, compare=False)
    #: Its folders' collection.yaml fields, the nearest folder's winning; front matter and catalog override them.
    defaults: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Changes when the file, its catalog entry or its folder defaults change: the unit of incremental ingest."""
        entry = json.dumps(self.catalog_entry, sort_keys=True, default=str)
        if not self.defaults:  # as before collection.yaml existed, so that existing indexes stay current
            return hashlib.sha256(f"{self.sha256}\n{entry}".encode()).hexdigest()
        defaults = json.dumps(self.defaults, sort_keys=True, default=str)
        return hashlib.sha256(f"{self.sha256}\n{entry}\n{defaults}".encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    """One document's text (exactly as quoted from) and metadata.

    For .txt and .md the text is the file decoded as UTF-8 as on disk, less any byte-order
    mark; for .html and .pdf it is the extracted text. The index stores it, and offsets are
    into it. Passages start at or after `body_start` (after any front matter).
    """

    doc_id: str
    path: Path
    format: str
    text: str
    metadata: Metadata
    sha256: str
    fingerprint: str
    body_start: int = 0


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why, in words for the user."""

    path: Path
    reason: str


def scan_corpus(corpus_dir: Path, max_file_bytes: int = 20_000_000) -> tuple[list[SourceFile], list[Skipped]]:
    """List the corpus's supported files with their hashes, in a stable order.

    Left out without a word: hidden files, catalog.yaml and collection.yaml, and files that describe a
    folder (NOT_DOCUMENTS: README, SOURCE, LICENSE...) unless catalog.yaml has an entry for them.
    Raises CorpusError when the folder does not exist, or a catalog or collection file cannot be read.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"The corpus folder {corpus_dir} does not exist.")
    catalog = load_catalog(corpus_dir)
    uploads = load_uploads(corpus_dir)
    sources: list[SourceFile] = []
    skipped: list[Skipped] = []
    seen_ids: set[str] = set()
    folders: dict[Path, dict] = {}
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or path.name in (CATALOG_NAME, COLLECTION_NAME):
            continue
        if path.name.split(".")[0].lower() in NOT_DOCUMENTS and relative.as_posix() not in catalog:
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(path, f"unsupported file type '{path.suffix or path.name}'"))
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            skipped.append(Skipped(path, f"too large ({size:,} bytes; the limit is {max_file_bytes:,})"))
            continue
        doc_id = _doc_id(relative, seen_ids)
        seen_ids.add(doc_id)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entry = catalog.get(relative.as_posix(), {})
        if relative.as_posix() in uploads:  # part of the metadata, so that every citation says it
            entry = {**entry, "uploaded": uploads[relative.as_posix()]["uploaded"]}
        sources.append(
            SourceFile(doc_id, path, digest, size, entry, collection_defaults(corpus_dir, relative.parent, folders))
        )
    return sources, skipped


def read_document(source: SourceFile) -> Document:
    """Read one file's text and metadata.

    Raises ValueError with a user-facing reason when the file cannot be used
    (not UTF-8, binary, empty, encrypted PDF, no extractable text, unreadable front matter,
    a metadata date that does not exist).
    """
    suffix = source.path.suffix.lower()
    data = source.path.read_bytes()
    body_start = 0
    front: dict = {}
    if suffix in (".txt", ".md"):
        text = _decode_text(data)
        fmt = suffix[1:]
        if suffix == ".md":
            front, body_start = _front_matter(text)
    elif suffix in (".html", ".htm"):
        text, front = _html_text(_decode_text(data))
        fmt = "html"
    else:
        text, front = _pdf_text(source.path)
        fmt = "pdf"
    if not text[body_start:].strip():
        raise ValueError("empty: no text to index")
    metadata = _metadata(source, {**source.defaults, **front, **source.catalog_entry})
    return Document(
        doc_id=source.doc_id,
        path=source.path,
        format=fmt,
        text=text,
        metadata=metadata,
        sha256=source.sha256,
        fingerprint=source.fingerprint,
        body_start=body_start,
    )


def load_catalog(corpus_dir: Path) -> dict[str, dict]:
    """The catalog file's entries by relative file name; {} when there is none.

    Raises CorpusError when the catalog exists but is not a YAML mapping.
    """
    path = Path(corpus_dir) / CATALOG_NAME
    if not path.exists():
        return {}
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDatesLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise CorpusError(f"{path} must map file names to metadata fields.")
    return {str(name): entry for name, entry in loaded.items()}


def collection_defaults(corpus_dir: Path, folder: Path, known: dict[Path, dict] | None = None) -> dict:
    """The metadata defaults for documents in `folder` (relative to the corpus folder): the collection.yaml
    fields of every folder from the corpus folder down to it, a nearer folder's field winning; {} when none.

    `known` caches folders already read, across calls. Raises CorpusError for a collection file that is
    not a YAML mapping of metadata fields.
    """
    known = {} if known is None else known
    folder = Path(folder)
    if folder not in known:
        above = collection_defaults(corpus_dir, folder.parent, known) if folder != folder.parent else {}
        known[folder] = {**above, **_load_collection(Path(corpus_dir) / folder / COLLECTION_NAME)}
    return known[folder]


def _load_collection(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDatesLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise CorpusError(f"{path} must hold metadata fields ('author: ...'), one a line.")
    unknown = sorted(str(name) for name in loaded if name not in METADATA_FIELDS)
    if unknown:
        raise CorpusError(f"{path}: unknown field '{unknown[0]}'; the fields are {', '.join(METADATA_FIELDS)}.")
    return loaded


def load_uploads(corpus_dir: Path) -> dict[str, dict]:
    """The upload register's entries by file name ({} without uploads); each has at least 'uploaded' (ISO, UTC).

    Raises CorpusError when the register exists but cannot be read.
    """
    path = Path(corpus_dir) / UPLOADS_NAME
    if not path.exists():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        for entry in files.values():
            dt.datetime.fromisoformat(entry["uploaded"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise CorpusError(f"The upload register {path} is damaged ({error}); uploads cannot be told apart.") from error
    return dict(files)


def upload_label(uploaded: str) -> str:
    """How a citation marks an upload: 'uploaded 24 November 2025, 20:34 UTC'."""
    moment = dt.datetime.fromisoformat(uploaded).astimezone(dt.UTC)
    return f"uploaded {moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def title_from_filename(path: Path) -> str:
    """A readable fallback title: '2023-09-14_note-verbale.txt' -> '2023 09 14 note verbale'."""
    words = re.sub(r"[_\-]+", " ", Path(path).stem).strip()
    return words[:1].upper() + words[1:] if words else Path(path).name


def normalise_date(value, field_name: str = "date") -> str | None:
    """An ISO date ('2021-03-02', '2021-03' or '2021') from a date, a datetime, or a string holding either.

    A date and time gives its date as written, in its own time zone ('2021-03-02 23:30:00-05:00'
    is 2 March). None when there is no value or the string is not a date at all ('undated').
    Raises ValueError naming `field_name` for a date that does not exist ('2024-02-30').
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    match = ISO_DATE.fullmatch(text)
    if not match:
        return None
    year, month, day = (int(match.group(part) or 1) for part in ("year", "month", "day"))
    try:
        iso = dt.date(year, month, day).isoformat()
    except ValueError as error:
        raise ValueError(f"metadata field '{field_name}': '{text}' is not a valid date ({error})") from None
    return iso if match.group("day") else iso[:7] if match.group("month") else iso[:4]


def normalise_datetime(value, field_name: str = "published_time") -> str | None:
    """An ISO date and time ('2021-03-02T17:00:00-05:00'), or a date, from a datetime, date or string.

    None when there is no value or the string is not a date; raises ValueError naming
    `field_name` for a date or time that does not exist.
    """
    if isinstance(value, dt.date):  # datetime included
        return value.isoformat()
    date = normalise_date(value, field_name)
    match = ISO_DATE.fullmatch(str(value).strip()) if date else None
    if not match or not match.group("time"):
        return date
    try:
        return dt.datetime.fromisoformat(f"{date}T{match.group('time')[1:]}").isoformat()
    except ValueError as error:
        raise ValueError(f"metadata field '{field_name}': '{value}' is not a valid time ({error})") from None


def clean_text(value) -> str | None:
    """A metadata string as a reader should see it: Markdown escapes undone ('Jen\\_Psaki' ->
    'Jen_Psaki'), non-breaking and other spaces made plain and collapsed, invisible characters
    (word joiners, soft hyphens) dropped. None for an empty value."""
    if value is None:
        return None
    text = MARKDOWN_ESCAPE.sub(r"\1", str(value).translate(INVISIBLE))
    return " ".join(text.split()) or None


def _doc_id(relative: Path, taken: set[str]) -> str:
    stem = relative.with_suffix("").as_posix()
    return stem if stem not in taken else relative.as_posix()


def _decode_text(data: bytes) -> str:
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (undecodable byte at position {error.start})") from error
    # A byte-order mark is not text: kept, it would open the first quote (and hide front matter).
    return text.removeprefix("\ufeff")


def _front_matter(text: str) -> tuple[dict, int]:
    """The fields of a Markdown file's YAML front matter, and where its body starts.

    Raises ValueError when the front matter is there but cannot be read (bad YAML, not `field: value`
    lines, no closing '---'), rather than indexing it as the document's first paragraph.
    """
    match = FRONT_MATTER.match(text)
    if not match:
        if OPENING_FENCE.match(text):
            raise ValueError("front matter is not closed: the '---' on line 1 has no closing '---' line")
        return {}, 0
    try:
        loaded = yaml.load(match.group(1), Loader=_TextDatesLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" on line {mark.line + 2}" if mark is not None else ""  # + 1 for the '---' line
        problem = getattr(error, "problem", None) or "unreadable"
        raise ValueError(f"front matter is not valid YAML: {problem}{where}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ValueError("front matter must be 'field: value' lines")
    return loaded or {}, match.end()


def _metadata(source: SourceFile, fields: dict) -> Metadata:
    """Metadata from front matter or catalog fields; raises ValueError naming a field whose date is bad."""

    def text(name: str) -> str | None:
        return clean_text(fields.get(name))

    published = normalise_datetime(fields.get("published_time"), "published_time")
    title, citation_title = text("title") or title_from_filename(source.path), text("citation_title")
    if fields.get("uploaded"):  # the index stores titles as shown: an upload says so in lists and citations
        mark = f" ({upload_label(fields['uploaded'])})"
        title, citation_title = title + mark, citation_title + mark if citation_title else None
    return Metadata(
        title=title,
        citation_title=citation_title,
        author=text("author"),
        speaker=text("speaker"),
        kind=text("kind"),
        date=normalise_date(fields.get("date"), "date") or (published[:10] if published else None),
        place=text("place"),
        reference=text("reference"),
        url=_url(fields.get("url")) or _url(fields.get("source_url")),
        published_time=published,
    )


def _url(value) -> str | None:
    return str(value).strip() or None if value is not None else None


def _html_text(html: str) -> tuple[str, dict]:
    """Visible text of an HTML page, one block element a paragraph; <title> as metadata."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for element in soup(["script", "style", "noscript", "template", "head"]):
        element.decompose()
    for element in soup.find_all(HTML_BLOCKS):
        element.insert_before("\n\n")
        element.insert_after("\n\n")
    paragraphs = (" ".join(block.split()) for block in re.split(r"\n\s*\n", soup.get_text()))
    front = {"title": title} if title else {}
    return "\n\n".join(p for p in paragraphs if p), front


def _pdf_text(path: Path) -> tuple[str, dict]:
    """Text of a PDF, pages separated by blank lines; its info title and author as metadata."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise ValueError("encrypted PDF (cannot be read without its password)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata or {}
    except ValueError:
        raise
    except (PdfReadError, OSError, KeyError, TypeError) as error:
        raise ValueError(f"unreadable PDF ({error})") from error
    text = "\n\n".join(page for page in pages if page)
    if not text.strip():
        raise ValueError("PDF has no extractable text (scanned images?)")
    front = {"title": info.get("/Title"), "author": info.get("/Author")}
    return text, {k: v for k, v in front.items() if v}
