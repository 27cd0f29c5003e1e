"""Uploads: save a file a user adds into the corpus folder, under a safe name, once, and only if it reads.

Every upload is recorded, with its time, in the corpus folder's upload register (corpus.UPLOADS_NAME):
that is what marks it as an upload wherever it is cited, what the quota counts, and what may be removed.
An upload may not speak for the author or speaker of a catalogued document.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import (
    SUPPORTED_SUFFIXES,
    UPLOADS_NAME,
    Document,
    SourceFile,
    load_catalog,
    load_uploads,
    read_document,
    scan_corpus,
)
from assistant.errors import AssistantError
from assistant.passages import LINE_BREAK, label_at, passages_for

#: A megabyte as the app's upload widget counts it (Streamlit's max_upload_size is in MiB).
MB = 1024 * 1024
#: Each uploaded file may be this large (the indexer itself skips files above Settings.max_file_bytes).
MAX_UPLOAD_BYTES = 10 * MB
#: All uploads together: at most this many files and this many bytes; removing an upload frees its share.
MAX_UPLOADS = 50
MAX_UPLOAD_TOTAL_BYTES = 100 * MB
MAX_STEM_CHARS = 80
#: Names the corpus scan ignores; an upload must not end up invisible under one of them.
RESERVED_STEMS = frozenset({"readme"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(AssistantError):
    """An uploaded file was refused; the message names the file and says why."""


@dataclass(frozen=True)
class SavedUpload:
    """A file written into the corpus: its final name and path, content hash, size and upload time (UTC, ISO)."""

    original_name: str
    name: str
    path: Path
    sha256: str
    size: int
    uploaded: str = ""

    @property
    def doc_id(self) -> str:
        """The id the index gives it (its name without suffix, unique in the corpus folder)."""
        return self.path.stem


def safe_filename(filename: str) -> str:
    """A file name that is safe to create in the corpus folder, keeping a supported suffix.

    Drops any directory part, transliterates accents, replaces other characters by
    '-', never starts with a dot (hidden files are not indexed) and lowercases the
    suffix: '../My Report (final).PDF' -> 'My-Report-final.pdf'.
    Raises UploadError when the suffix is not one the corpus reads.
    """
    base = re.split(r"[/\\]", filename)[-1].strip()
    suffix = Path(base).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        shown = f"'{suffix}'" if suffix else "no extension"
        raise UploadError(f"{filename} cannot be added: the file type ({shown}) is not supported; use {kinds}.")
    stem = base[: -len(suffix)]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("-", ascii_stem).strip("._-")
    cleaned = re.sub(r"-{2,}", "-", cleaned)[:MAX_STEM_CHARS].rstrip("._-")
    return (cleaned or "upload") + suffix


def save_upload(
    corpus_dir: Path,
    filename: str,
    data: bytes,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_files: int = MAX_UPLOADS,
    max_total_bytes: int = MAX_UPLOAD_TOTAL_BYTES,
) -> SavedUpload:
    """Validate an uploaded file, write it into corpus_dir under a new, safe, unique name, and register it.

    The bytes are written to a hidden temporary file in the corpus folder, read the
    way the indexer reads them, and only then given their final name; a file that
    is refused leaves the folder as it was. Raises UploadError when the type is not
    supported, the file is empty or larger than max_bytes, the uploads would pass
    their quota (max_files, max_total_bytes), the same content is already in the
    corpus, the file cannot be read as a document, or it names a catalogued document's
    author or speaker as its own.
    """
    name = safe_filename(filename)
    if not data:
        raise UploadError(f"{filename} cannot be added: the file is empty.")
    if len(data) > max_bytes:
        raise UploadError(f"{filename} cannot be added: it is {_size(len(data))}; the limit is {_size(max_bytes)}.")
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise UploadError(f"{filename} cannot be added: the corpus folder {corpus_dir} does not exist.")
    digest = hashlib.sha256(data).hexdigest()
    with _corpus_lock(corpus_dir):
        _check_quota(filename, len(data), list_uploads(corpus_dir), max_files, max_total_bytes)
        sources, _ = scan_corpus(corpus_dir, max_file_bytes=max(max_bytes, len(data)))
        for source in sources:
            if source.sha256 == digest:
                existing = source.path.relative_to(corpus_dir).as_posix()
                raise UploadError(f"{filename} is already in the corpus as {existing} (same content); not added.")
        final = corpus_dir / _unused_name(corpus_dir, name)
        uploaded = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        saved = SavedUpload(filename, final.name, final, digest, len(data), uploaded)
        _write_validated(final, filename, data, digest, _catalogued_people(corpus_dir))
        try:
            _register(corpus_dir, saved)
        except BaseException:
            final.unlink(missing_ok=True)
            raise
    return saved


def list_uploads(corpus_dir: Path) -> list[SavedUpload]:
    """The uploads in the register whose files are still in the corpus folder, oldest first."""
    corpus_dir = Path(corpus_dir)
    uploads = []
    for name, entry in load_uploads(corpus_dir).items():
        path = corpus_dir / name
        if path.is_file():
            uploads.append(
                SavedUpload(
                    entry.get("original_name", name),
                    name,
                    path,
                    entry.get("sha256", ""),
                    path.stat().st_size,
                    entry["uploaded"],
                )
            )
    return sorted(uploads, key=lambda upload: (upload.uploaded, upload.name))


def remove_upload(corpus_dir: Path, name: str) -> SavedUpload:
    """Delete an uploaded file and its register entry; return what was removed.

    Raises UploadError when `name` is not an upload (a catalogued or hand-placed document cannot be
    removed this way).
    """
    corpus_dir = Path(corpus_dir)
    with _corpus_lock(corpus_dir):
        by_name = {upload.name: upload for upload in list_uploads(corpus_dir)}
        if name not in by_name:
            raise UploadError(f"{name} is not an uploaded document; only uploads can be removed here.")
        by_name[name].path.unlink(missing_ok=True)
        _write_register(corpus_dir, {n: entry for n, entry in load_uploads(corpus_dir).items() if n != name})
    return by_name[name]


def _check_quota(filename: str, size: int, uploads: list[SavedUpload], max_files: int, max_total: int) -> None:
    if len(uploads) >= max_files:
        raise UploadError(
            f"{filename} cannot be added: the uploads are at their limit of {max_files} files; "
            "remove an uploaded document first."
        )
    used = sum(upload.size for upload in uploads)
    if used + size > max_total:
        raise UploadError(
            f"{filename} cannot be added: uploads may take {_size(max_total)} in all, {_size(used)} is used "
            f"and this file is {_size(size)}; remove an uploaded document first."
        )


def _catalogued_people(corpus_dir: Path) -> dict[str, str]:
    """Every author and speaker the catalog records, and the turn labels its documents give a catalogued
    speaker (`Zhao Lijian:`, `MS. PSAKI:`), by a folded form of the name."""
    people = {}
    catalog = load_catalog(corpus_dir)
    for entry in catalog.values():
        for field in ("author", "speaker"):
            if entry.get(field):
                people[_fold(str(entry[field]))] = str(entry[field])
    speakers = {_fold(str(e["speaker"])): str(e["speaker"]) for e in catalog.values() if e.get("speaker")}
    for name, entry in catalog.items():
        path = corpus_dir / name
        if not entry.get("speaker") or not path.is_file():
            continue
        try:
            source = SourceFile(doc_id=path.stem, path=path, sha256="", size=0, catalog_entry=entry)
            passages = passages_for(read_document(source))
        except (ValueError, OSError):  # an unreadable catalogued file gives no labels; the indexer reports it
            continue
        for passage in passages:
            name = speakers.get(_fold(passage.speaker or ""))
            if name and passage.speaker_label:
                people[_fold(passage.speaker_label)] = name
    return people


def _claims_catalogued_person(document: Document, people: dict[str, str]) -> str | None:
    """Why the document speaks for a catalogued author or speaker (its metadata, or a turn in its text); else None.

    Every line that opens with a turn label counts, whether or not the document reads as a transcript:
    one `Zhao Lijian: ...` line under a heading is a turn given to him.
    """
    claims = [(field, getattr(document.metadata, field)) for field in ("author", "speaker")]
    claims += [("speaker", passage.speaker) for passage in passages_for(document)]
    claims += [("speaker", label) for label in _line_labels(document)]
    for field, claimed in claims:
        folded = _fold(claimed or "")
        for name_key, name in people.items():
            if re.search(rf"(?<!\w){re.escape(name_key)}(?!\w)", folded):
                return f"it names {name} as its {field}, who is the {field} of a catalogued document"
    return None


def _line_labels(document: Document) -> list[str]:
    """The turn label opening each line of the document's body, as written (`Zhao Lijian`, `MS. PSAKI`)."""
    text = document.text
    starts = [document.body_start] + [m.end() for m in LINE_BREAK.finditer(text, document.body_start)]
    return [label for start in starts if (label := label_at(text, start))]


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def _register(corpus_dir: Path, upload: SavedUpload) -> None:
    entries = load_uploads(corpus_dir)
    entries[upload.name] = {
        "uploaded": upload.uploaded,
        "original_name": upload.original_name,
        "sha256": upload.sha256,
        "size": upload.size,
    }
    _write_register(corpus_dir, entries)


def _write_register(corpus_dir: Path, entries: dict[str, dict]) -> None:
    """Write the register whole, atomically (a new file renamed over the old one)."""
    temporary = corpus_dir / f".uploads-{uuid.uuid4().hex[:12]}.tmp"
    try:
        with open(temporary, "x", encoding="utf-8") as handle:
            json.dump({"version": 1, "files": entries}, handle, indent=1, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, corpus_dir / UPLOADS_NAME)
    finally:
        temporary.unlink(missing_ok=True)


def _write_validated(final: Path, filename: str, data: bytes, digest: str, people: dict[str, str]) -> None:
    """Write data to a hidden temporary file beside `final`, read it as a document, then rename it."""
    temporary = final.with_name(f".upload-{uuid.uuid4().hex[:12]}{final.suffix}")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        source = SourceFile(doc_id=final.stem, path=temporary, sha256=digest, size=len(data))
        try:
            document = read_document(source)
        except (ValueError, OSError) as error:
            raise UploadError(f"{filename} cannot be added: {error}.") from error
        claim = _claims_catalogued_person(document, people)
        if claim:
            raise UploadError(
                f"{filename} cannot be added: {claim}. An upload cannot speak for a catalogued author or speaker; "
                "remove that name from its author, speaker or turn labels."
            )
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


def _unused_name(corpus_dir: Path, name: str) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`... so that no file in the folder shares its stem.

    The index names a document by its file name without suffix, so 'note.md' beside
    'note.txt' would change which file is called 'note'; a distinct stem avoids that.
    """
    taken = {path.stem.casefold() for path in corpus_dir.iterdir()} | RESERVED_STEMS
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, number = stem, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{stem}-{number}"
    return candidate + suffix


@contextlib.contextmanager
def _corpus_lock(corpus_dir: Path) -> Iterator[None]:
    """Serialise uploads into one folder, so two sessions never both add the same content."""
    descriptor = os.open(corpus_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < MB else f"{size / MB:.1f} MB"
