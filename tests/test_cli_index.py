"""The command line and an index's corpus, with the real bundled model: the user's report (an index of
three UN speeches replaced by one of the project's corpus/) and its relatives, run as real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HELDOUT_CORPUS, REPO, SEED_CORPUS

pytestmark = pytest.mark.integration
SPEECHES = ["COL_72_2017.txt", "EST_71_2016.txt", "ETH_76_2021.txt"]


def run(*args, cwd: Path = REPO, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m assistant ARGS` as a user runs it: no $ASSISTANT_CORPUS or $ASSISTANT_INDEX."""
    env = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_CORPUS", "ASSISTANT_INDEX")}
    # Without the reranker: these tests are about which index and corpus answer, not how they rank.
    env.update({"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "ASSISTANT_RERANKER": "none", **(env_extra or {})})
    return subprocess.run(
        [sys.executable, "-m", "assistant", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def speeches(tmp_path_factory) -> tuple[Path, Path]:
    """Three UN speeches and their index, built as the user did."""
    root = tmp_path_factory.mktemp("un")
    corpus = root / "speeches"
    corpus.mkdir()
    for name in SPEECHES:
        shutil.copyfile(HELDOUT_CORPUS / name, corpus / name)
    built = run("ingest", "--corpus", corpus, "--index", root / "index")
    assert built.returncode == 0, built.stderr
    return corpus, root / "index"


def copy_index(index: Path, target: Path) -> Path:
    shutil.copytree(index, target)
    return target


def test_asking_an_index_from_the_project_folder_answers_from_its_own_corpus(speeches, tmp_path):
    corpus, index = speeches
    current = (index / "CURRENT").read_text()
    asked = run("ask", "--json", "--index", index, "What did the speaker say about the peace agreement?")
    assert asked.returncode == 0, asked.stderr
    quotes = json.loads(asked.stdout)["quotes"]
    assert quotes and {Path(q["path"]).parent for q in quotes} == {corpus.resolve()}
    assert "Embedding" not in asked.stderr and (index / "CURRENT").read_text() == current, "nothing was rebuilt"
    shown = run("show", "EST_71_2016", "--index", index, cwd=tmp_path)  # from anywhere
    assert shown.returncode == 0 and "¶1" in shown.stdout, shown.stderr


def test_a_different_corpus_is_refused_naming_both_and_only_ingest_moves_the_index(speeches, tmp_path):
    corpus, index = speeches
    seeds = shutil.copytree(SEED_CORPUS, tmp_path / "seeds")
    current = (index / "CURRENT").read_text()
    refused = run("ask", "--corpus", seeds, "--index", index, "terrorism")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: The index in {index} was built from {corpus.resolve()}, not {seeds.resolve()}")
    assert (index / "CURRENT").read_text() == current

    moved_index = copy_index(index, tmp_path / "moved")
    moved = run("ingest", "--corpus", seeds, "--index", moved_index)
    assert moved.returncode == 0, moved.stderr
    assert moved.stderr.splitlines()[0] == (
        f"The index in {moved_index} was built from {corpus.resolve()}; it now follows {seeds.resolve()}."
    )
    assert "2 added, 0 changed, 3 removed" in moved.stdout
    assert (moved_index / "CORPUS").read_text() == f"{seeds.resolve()}\n"


def test_a_damaged_index_is_rebuilt_from_its_own_corpus_saying_so_in_one_line(speeches, tmp_path):
    _, index = speeches
    damaged = copy_index(index, tmp_path / "damaged")
    vectors = damaged / (damaged / "CURRENT").read_text().strip() / "vectors.faiss"
    with open(vectors, "r+b") as handle:  # same size, new bytes inside: only the checksum can tell
        handle.seek(vectors.stat().st_size // 2)
        handle.write(b"\x7f" * 256)
    asked = run("ask", "--json", "--index", damaged, "What did the speaker say about the peace agreement?")
    assert asked.returncode == 0, asked.stderr
    notes = [line for line in asked.stderr.splitlines() if "damaged" in line]
    assert len(notes) == 1 and notes[0].startswith(f"The index in {damaged} is damaged; rebuilding it from")
    assert f"{vectors} has changed since it was written" in notes[0]
    assert "Traceback" not in asked.stderr and json.loads(asked.stdout)["quotes"]


def test_a_folder_that_is_not_an_index_is_left_alone(speeches, tmp_path):
    corpus, _ = speeches
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"years of work")
    result = run("ingest", "--corpus", corpus, "--index", folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {folder} is not an index folder (it holds thesis.docx); nothing was written" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["thesis.docx"]


def test_a_second_ingest_waits_for_the_lock_then_gives_up_clearly(speeches, tmp_path):
    _, index = speeches
    busy = copy_index(index, tmp_path / "busy")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, busy / ".lock"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        result = run("ingest", "--index", busy, env_extra={"ASSISTANT_LOCK_TIMEOUT": "1"})
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Waiting for another process to finish updating the index in {busy} (it holds {busy / '.lock'})…",
        f"error: Another process has been updating the index in {busy} for over 1 s (it holds {busy / '.lock'}); "
        "nothing was changed. Try again when it has finished.",
    ]


HOLD_LOCK = """
import fcntl, sys, time
with open(sys.argv[1], "a") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(120)
"""
