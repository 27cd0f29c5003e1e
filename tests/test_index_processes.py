"""The index across real processes: a killed ingest is cleaned up and resumed, writers wait for each
other's lock, and a reader opening the index again and again never sees a half-written one."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.errors import IndexBusyError
from assistant.index import current_generation
from assistant.ingest import ingest
from tests.conftest import REPO

#: An ingest of argv[1] into argv[2] with the fake embedder, made to hang at one point (argv[3]) so that
#: the test can kill it there: "embed" after the first document's vectors are saved, "write" while
#: the new generation is half written.
HANGING_INGEST = """
import sys, time
import assistant.ingest as index
from assistant.config import Settings
from tests.conftest import FakeEmbedder

corpus, index_dir, where = sys.argv[1:4]
index.CHECKPOINT_PASSAGES = 1  # each document its own batch, saved as soon as it is embedded


class HangsAfterOneDocument(FakeEmbedder):
    def encode(self, texts, progress=None):
        if where == "embed" and self.calls:
            time.sleep(120)
        return super().encode(texts, progress)


class HangsWhileWriting(index.KeywordIndex):
    @classmethod
    def build(cls, texts, contexts):
        time.sleep(120)


if where == "write":
    index.KeywordIndex = HangsWhileWriting
settings = Settings(corpus_dir=corpus, index_dir=index_dir, model="fake-bag-of-words", reranker="none")
index.ingest(settings, HangsAfterOneDocument())
"""

#: Holds the index's lock file for argv[2] seconds, as another ingest would.
LOCK_HOLDER = """
import fcntl, sys, time
with open(sys.argv[1], "a") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""

#: Opens the index in argv[1] and reads all of it, again and again, until the file argv[2] exists;
#: prints the generations it saw, how many complete reads it made and every error.
READER = """
import json, sys
from pathlib import Path
from assistant.index import Index

index_dir, stop = Path(sys.argv[1]), Path(sys.argv[2])
seen, errors, reads = set(), [], 0
print("reading", flush=True)
while not stop.exists():
    try:
        index = Index.load(index_dir)
        documents = index.documents()
        passages = sum(len(index.document_passages(d.doc_id)) for d in documents)
        if not passages == index.size == index.keywords.size == sum(d.passage_count for d in documents):
            errors.append(f"inconsistent: {passages} passages, {index.size} vectors")
        seen.add(index.generation.name)
        index.close()
        reads += 1
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
print(json.dumps({"generations": sorted(seen), "reads": reads, "errors": errors}))
"""


def python(script: str, *args, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=REPO, **options)


def kill_when(process: subprocess.Popen, condition, timeout: float = 60) -> None:
    """SIGKILL the process as soon as condition() holds (fail if it ends or takes too long first)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the ingest ended before the point it should be killed at"
        assert time.monotonic() < deadline, "the ingest never reached the point it should be killed at"
        time.sleep(0.02)
    process.kill()
    assert process.wait(10) == -9


def test_a_killed_ingest_is_resumed_without_embedding_finished_documents_again(settings, fake_embedder):
    work = settings.index_dir / "work"
    writer = python(HANGING_INGEST, settings.corpus_dir, settings.index_dir, "embed")
    kill_when(writer, lambda: list(work.glob("*.npy")))

    (checkpoint,) = work.glob("*.npy")
    finished = np.load(checkpoint).shape[0]
    assert 0 < finished < 16 and not (settings.index_dir / "CURRENT").exists()
    report = ingest(settings, fake_embedder)
    assert report.passages == 16 and report.added
    assert fake_embedder.calls == [16 - finished], "only the documents the killed ingest had not finished"
    assert not work.exists()


def test_a_killed_write_leaves_a_tmp_folder_that_the_next_run_removes_even_when_up_to_date(settings, fake_embedder):
    ingest(settings, fake_embedder)
    before = current_generation(settings.index_dir)
    added = settings.corpus_dir / "new.txt"
    added.write_text("A statement the killed ingest was writing.", encoding="utf-8")
    writer = python(HANGING_INGEST, settings.corpus_dir, settings.index_dir, "write")
    kill_when(writer, lambda: list(settings.index_dir.glob("tmp-*")))

    assert current_generation(settings.index_dir) == before, "the killed ingest changed nothing that readers see"
    added.unlink()  # the corpus is as the index has it: the next run has nothing to do
    fake_embedder.calls.clear()
    report = ingest(settings, fake_embedder)
    assert report.up_to_date and fake_embedder.calls == []
    assert sorted(p.name for p in settings.index_dir.iterdir()) == sorted([".lock", "CORPUS", "CURRENT", before.name])


def test_a_second_writer_waits_for_the_lock_saying_so_or_gives_up_clearly(settings, fake_embedder):
    settings.index_dir.mkdir()
    lock = settings.index_dir / ".lock"
    holder = python(LOCK_HOLDER, lock, 2.0, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "locked\n"
    notices = []
    waiting = f"Waiting for another process to finish updating the index in {settings.index_dir} (it holds {lock})…"

    impatient = dataclasses.replace(settings, lock_timeout=0.3)
    with pytest.raises(IndexBusyError, match=r"Another process has been updating the index in .* for over 0.3 s"):
        ingest(impatient, fake_embedder, notice=notices.append)
    assert notices == [waiting] and not (settings.index_dir / "CURRENT").exists()

    report = ingest(settings, fake_embedder, notice=notices.append)
    assert holder.poll() == 0, "the ingest ran only once the other process let go"
    assert report.passages == 16 and notices == [waiting, waiting]


def test_a_reader_never_sees_a_half_written_index_while_a_writer_ingests(settings, fake_embedder, tmp_path):
    ingest(settings, fake_embedder)
    stop = tmp_path / "stop"
    reader = python(READER, settings.index_dir, stop, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout.readline() == "reading\n"
    time.sleep(0.5)
    generations = {current_generation(settings.index_dir).name}
    for number in range(8):
        (settings.corpus_dir / f"added-{number}.txt").write_text(f"Statement number {number}.", encoding="utf-8")
        ingest(settings, fake_embedder)
        generations.add(current_generation(settings.index_dir).name)
        time.sleep(0.1)
    stop.touch()
    out, err = reader.communicate(timeout=60)
    result = json.loads(out)
    assert result["errors"] == [], err
    assert result["reads"] >= 10 and len(result["generations"]) >= 3
    assert set(result["generations"]) <= generations
