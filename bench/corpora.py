"""Benchmark corpora: the UN General Debate speeches, a fixed subset of them, copies, and repeated copies.

The speeches live outside the repository, in shared/data/ungdc beside it. Nothing
there is ever written: every benchmark works on a copy under .bench/. A subset is
chosen by even spacing over the sorted file list, so every session year is in it
and the same count always gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from assistant.corpus import SUPPORTED_SUFFIXES
from bench.measure import BenchError

UNGDC_RELATIVE = Path("shared") / "data" / "ungdc" / "speeches_2015-2024"
MARKER = ".bench-corpus.json"  # a dot-file, so scan_corpus ignores it

#: Questions for timing ask() on the speeches: topics, countries, rare and common words.
UN_QUESTIONS = [
    "What did speakers say about climate change and small island states?",
    "How should the Security Council be reformed?",
    "What was said about the war in Ukraine?",
    "What did countries say about the COVID-19 pandemic and vaccines?",
    "Which countries called for a two-state solution in the Middle East?",
    "What was said about nuclear disarmament and the non-proliferation treaty?",
    "How do leaders describe the Sustainable Development Goals and the 2030 Agenda?",
    "What was said about the humanitarian crisis in Yemen?",
    "What did Belgium say about Andrei Sakharov?",
    "Who spoke about the Rohingya refugees?",
    "What was said about migration and refugees crossing the Mediterranean?",
    "How did speakers talk about terrorism and violent extremism?",
    "What did speakers say about debt relief for developing countries?",
    "What was said about the sanctions and embargo against Cuba?",
    "What did countries say about artificial intelligence?",
    "Who mentioned rising sea levels threatening their existence?",
    "What was said about gender equality and the empowerment of women?",
    "What did leaders say about the Paris Agreement?",
    "How was multilateralism defended?",
    "What was said about the conflict in Syria?",
    "What did African leaders say about peace and security in the Sahel?",
    "What was said about cyber security?",
    "Which speakers mentioned the Iran nuclear deal?",
    "What was said about food security and famine?",
    "How did speakers describe the situation in Afghanistan after 2021?",
    "What did countries say about the Korean peninsula?",
    "What was said about ocean pollution and plastics?",
    "Who talked about the rights of indigenous peoples?",
    "What was said about Venezuela?",
    "What did small states say about financing for climate adaptation?",
]


def ungdc_root(repo_root: Path) -> Path:
    """The speeches folder, found relative to the repository. Raises BenchError when it is missing."""
    root = Path(repo_root).resolve().parent / UNGDC_RELATIVE
    if not root.is_dir():
        raise BenchError(f"The UN General Debate speeches are not at {root}.")
    return root


def all_speeches(root: Path) -> list[Path]:
    """Every speech file, relative to root, in sorted order."""
    return sorted(path.relative_to(root) for path in root.rglob("*.txt") if path.is_file())


def choose_subset(files: list[Path], count: int | None) -> list[Path]:
    """`count` files spread evenly over the sorted list (all of them when count is None or too large)."""
    if count is None or count >= len(files):
        return list(files)
    if count < 1:
        raise ValueError("the subset needs at least one file")
    return [files[(i * len(files)) // count] for i in range(count)]


def subset_key(root: Path, files: list[Path]) -> str:
    """A short hash naming a subset: its relative paths and file sizes."""
    digest = hashlib.sha256()
    for relative in files:
        digest.update(f"{relative.as_posix()}\0{(root / relative).stat().st_size}\n".encode())
    return digest.hexdigest()[:10]


def corpus_bytes(corpus_dir: Path) -> int:
    """Total size of the documents the engine reads (SUPPORTED_SUFFIXES) in a corpus folder."""
    return sum(
        path.stat().st_size
        for path in Path(corpus_dir).rglob("*")
        if path.suffix.lower() in SUPPORTED_SUFFIXES and path.is_file()
    )


def copy_subset(root: Path, files: list[Path], dest: Path) -> Path:
    """A copy of the chosen files under dest (same Session_ folders), reused when it is already there."""
    key = subset_key(root, files)
    if _marker_matches(dest, {"key": key, "files": len(files)}):
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    for relative in files:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / relative, target)
    _write_marker(dest, {"key": key, "files": len(files)})
    return dest


def fresh_copy(source: Path, dest: Path) -> Path:
    """A fresh, writable copy of a corpus folder (anything at dest is replaced)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns(MARKER))
    return dest


def repeated_corpus(source: Path, copies: int, dest: Path) -> Path:
    """`copies` hard-linked repeats of a corpus as dest/copy-00, copy-01, ... (distinct document ids)."""
    files = sorted(path.relative_to(source) for path in source.rglob("*.txt"))
    wanted = {"source": str(source), "copies": copies, "files": len(files)}
    if _marker_matches(dest, wanted):
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    for copy in range(copies):
        for relative in files:
            _link(source / relative, dest / f"copy-{copy:02d}" / relative)
    _write_marker(dest, wanted)
    return dest


def leading_files(source: Path, files: list[Path], dest: Path) -> Path:
    """Hard links to the first `files` of a corpus copy (a smaller corpus of the same speeches)."""
    wanted = {"source": str(source), "files": [f.as_posix() for f in files]}
    if _marker_matches(dest, wanted):
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    for relative in files:
        _link(source / relative, dest / relative)
    _write_marker(dest, wanted)
    return dest


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _marker_matches(dest: Path, wanted: dict) -> bool:
    marker = Path(dest) / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == wanted
    except (OSError, ValueError):
        return False


def _write_marker(dest: Path, data: dict) -> None:
    (Path(dest) / MARKER).write_text(json.dumps(data), encoding="utf-8")
