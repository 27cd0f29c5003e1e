"""Uploads: save a file a user adds into the corpus folder, under a safe name, once, and only if it reads."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import SUPPORTED_SUFFIXES, SourceFile, read_document, scan_corpus
from assistant.errors import AssistantError

#: Uploads larger than this are refused (the indexer itself skips files above Settings.max_file_bytes).
MAX_UPLOAD_BYTES = 10_000_000
MAX_STEM_CHARS = 80
#: Names the corpus scan ignores; an upload must not end up invisible under one of them.
RESERVED_STEMS = frozenset({"readme"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UploadError(AssistantError):
    """An uploaded file was refused; the message names the file and says why."""


@dataclass(frozen=True)
class SavedUpload:
    """A file written into the corpus: its final name and path, content hash and size."""

    original_name: str
    name: str
    path: Path
    sha256: str
    size: int

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


def save_upload(corpus_dir: Path, filename: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> SavedUpload:
    """Validate an uploaded file and write it into corpus_dir under a new, safe, unique name.

    The bytes are written to a hidden temporary file in the corpus folder, read the
    way the indexer reads them, and only then given their final name; a file that
    is refused leaves the folder as it was. Raises UploadError when the type is not
    supported, the file is empty or larger than max_bytes, the same content is
    already in the corpus, or the file cannot be read as a document.
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
        sources, _ = scan_corpus(corpus_dir, max_file_bytes=max(max_bytes, len(data)))
        for source in sources:
            if source.sha256 == digest:
                existing = source.path.relative_to(corpus_dir).as_posix()
                raise UploadError(f"{filename} is already in the corpus as {existing} (same content); not added.")
        final = corpus_dir / _unused_name(corpus_dir, name)
        _write_validated(final, filename, data, digest)
    return SavedUpload(filename, final.name, final, digest, len(data))


def _write_validated(final: Path, filename: str, data: bytes, digest: str) -> None:
    """Write data to a hidden temporary file beside `final`, read it as a document, then rename it."""
    temporary = final.with_name(f".upload-{uuid.uuid4().hex[:12]}{final.suffix}")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        source = SourceFile(doc_id=final.stem, path=temporary, sha256=digest, size=len(data))
        try:
            read_document(source)
        except (ValueError, OSError) as error:
            raise UploadError(f"{filename} cannot be added: {error}.") from error
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
    return f"{size:,} bytes" if size < 1_000_000 else f"{size / 1_000_000:.1f} MB"
