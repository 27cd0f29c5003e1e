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
METADATA_FIELDS = ("title", "citation_title", "author", "speaker", "kind", "date", "place", "reference", "url")
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

    @property
    def fingerprint(self) -> str:
        """Changes when the file or its catalog entry changes: the unit of incremental ingest."""
        entry = json.dumps(self.catalog_entry, sort_keys=True, default=str)
        return hashlib.sha256(f"{self.sha256}\n{entry}".encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    """One document's text (exactly as quoted from) and metadata.

    For .txt and .md the text is the file decoded as UTF-8 as on disk; for .html and
    .pdf it is the extracted text, which the index stores. Passages start at or after
    `body_start` (after any front matter).
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

    Raises CorpusError when the folder does not exist.
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"The corpus folder {corpus_dir} does not exist.")
    catalog = load_catalog(corpus_dir)
    sources: list[SourceFile] = []
    skipped: list[Skipped] = []
    seen_ids: set[str] = set()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in relative.parts) or path.name == CATALOG_NAME:
            continue
        if path.name.lower() in ("readme.md", "readme.txt"):
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
        sources.append(SourceFile(doc_id, path, digest, size, entry))
    return sources, skipped


def read_document(source: SourceFile) -> Document:
    """Read one file's text and metadata.

    Raises ValueError with a user-facing reason when the file cannot be used
    (not UTF-8, binary, empty, encrypted PDF, no extractable text).
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
    metadata = _metadata(source, {**front, **source.catalog_entry})
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
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict) or not all(isinstance(v, dict) for v in loaded.values()):
        raise CorpusError(f"{path} must map file names to metadata fields.")
    return {str(name): entry for name, entry in loaded.items()}


def title_from_filename(path: Path) -> str:
    """A readable fallback title: '2023-09-14_note-verbale.txt' -> '2023 09 14 note verbale'."""
    words = re.sub(r"[_\-]+", " ", Path(path).stem).strip()
    return words[:1].upper() + words[1:] if words else Path(path).name


def normalise_date(value) -> str | None:
    """An ISO date string from a YAML date, datetime or string; None when it is not a date."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        try:
            if len(text) == 10:
                dt.date.fromisoformat(text)
            return text
        except ValueError:
            return None
    return None


def _doc_id(relative: Path, taken: set[str]) -> str:
    stem = relative.with_suffix("").as_posix()
    return stem if stem not in taken else relative.as_posix()


def _decode_text(data: bytes) -> str:
    if b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (undecodable byte at position {error.start})") from error


def _front_matter(text: str) -> tuple[dict, int]:
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    try:
        loaded = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        return {}, 0
    return (loaded if isinstance(loaded, dict) else {}), match.end()


def _metadata(source: SourceFile, fields: dict) -> Metadata:
    def text(name: str) -> str | None:
        value = fields.get(name)
        return str(value).strip() or None if value is not None else None

    return Metadata(
        title=text("title") or title_from_filename(source.path),
        citation_title=text("citation_title"),
        author=text("author"),
        speaker=text("speaker"),
        kind=text("kind"),
        date=normalise_date(fields.get("date")),
        place=text("place"),
        reference=text("reference"),
        url=text("url") or text("source_url"),
    )


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
