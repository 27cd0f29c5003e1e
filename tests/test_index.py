"""Index: build, incremental update, rebuild on settings change, atomic swap, corruption detection, its corpus."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil

import pytest

from assistant.config import DEFAULT_CORPUS, PassageSettings
from assistant.engine import QuoteEngine, settings_for
from assistant.errors import CorpusError, IndexCorruptError, IndexMissingError, NotAnIndexError
from assistant.index import Index, current_generation, indexed_corpus
from assistant.ingest import ingest, is_stale

NOTE = "2023-09-14-china-un-mission-note-verbale"
PRESS = "2022-07-28-mfa-press-conference-zhao-lijian"


def test_build_stores_every_passage_verbatim(settings, fake_embedder):
    report = ingest(settings, fake_embedder)
    assert (report.documents, report.passages) == (2, 16)
    assert report.added == [PRESS, NOTE]
    index = Index.load(settings.index_dir)
    for info in index.documents():
        text = (settings.corpus_dir / f"{info.doc_id}.txt").read_text(encoding="utf-8")
        assert index.document_text(info.doc_id) == text
        for passage in index.document_passages(info.doc_id):
            assert text[passage.start : passage.end] == passage.text
    manifest = index.manifest
    assert manifest["model"] == "fake-bag-of-words" and manifest["dimension"] == 64
    assert set(manifest["documents"]) == {NOTE, PRESS}
    assert len(manifest["documents"][NOTE]["sha256"]) == 64


def test_unchanged_corpus_embeds_nothing(settings, fake_embedder):
    ingest(settings, fake_embedder)
    fake_embedder.calls.clear()
    report = ingest(settings, fake_embedder)
    assert report.up_to_date and fake_embedder.calls == []
    assert not is_stale(settings, fake_embedder)


def test_only_added_or_changed_documents_are_embedded(settings, fake_embedder):
    ingest(settings, fake_embedder)
    (settings.corpus_dir / "new.md").write_text("---\ntitle: New\n---\nA new statement.\n\nSecond.", encoding="utf-8")
    fake_embedder.calls.clear()
    report = ingest(settings, fake_embedder)
    assert report.added == ["new"] and report.unchanged == 2
    assert fake_embedder.calls == [2]
    path = settings.corpus_dir / f"{PRESS}.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nAn added paragraph.", encoding="utf-8")
    fake_embedder.calls.clear()
    report = ingest(settings, fake_embedder)
    assert report.changed == [PRESS]
    assert fake_embedder.calls == [6]
    engine = QuoteEngine.open(settings, fake_embedder)
    assert engine.document(PRESS).passages[-1].text == "An added paragraph."


def test_reused_vectors_give_the_same_search_results(settings, fake_embedder):
    ingest(settings, fake_embedder)
    before = QuoteEngine.open(settings, fake_embedder).ask("countering violent terrorism").to_json()
    (settings.corpus_dir / "other.txt").write_text("Something unrelated about fishing.", encoding="utf-8")
    ingest(settings, fake_embedder)
    after = QuoteEngine.open(settings, fake_embedder).ask("countering violent terrorism").to_json()
    assert after["quotes"][0] == before["quotes"][0]


def test_removed_documents_are_dropped(settings, fake_embedder):
    ingest(settings, fake_embedder)
    (settings.corpus_dir / f"{PRESS}.txt").unlink()
    report = ingest(settings, fake_embedder)
    assert report.removed == [PRESS]
    assert [d.doc_id for d in Index.load(settings.index_dir).documents()] == [NOTE]


def test_other_model_or_passage_settings_rebuild_everything(settings, fake_embedder):
    from tests.conftest import FakeEmbedder

    ingest(settings, fake_embedder)
    other = FakeEmbedder(dimension=32, name="another-model")
    report = ingest(settings, other)
    assert report.rebuilt.startswith("model changed") and other.calls == [16]
    assert Index.load(settings.index_dir).dimension == 32
    smaller = dataclasses.replace(settings, passages=PassageSettings(max_chars=200))
    report = ingest(smaller, other)
    assert report.rebuilt == "passage settings changed"
    assert report.passages > 16


def test_unreadable_file_is_skipped_and_the_rest_indexed(settings, fake_embedder):
    (settings.corpus_dir / "bad.txt").write_bytes(b"\xff\xfe\x00garbage")
    report = ingest(settings, fake_embedder)
    assert report.documents == 2
    assert [(s.path.name, s.reason) for s in report.skipped] == [
        ("bad.txt", "binary file (contains NUL bytes), not text")
    ]
    assert not is_stale(settings, fake_embedder), "a known-bad file does not make the index stale"
    again = ingest(settings, fake_embedder)
    assert again.up_to_date and [s.path.name for s in again.skipped] == ["bad.txt"]


def test_empty_or_missing_corpus_is_a_clear_error(settings, fake_embedder, tmp_path):
    empty = dataclasses.replace(settings, corpus_dir=tmp_path / "empty")
    empty.corpus_dir.mkdir()
    with pytest.raises(CorpusError, match="No readable document"):
        ingest(empty, fake_embedder)
    with pytest.raises(CorpusError, match="does not exist"):
        ingest(dataclasses.replace(settings, corpus_dir=tmp_path / "missing"), fake_embedder)


def test_interrupted_ingest_leaves_the_previous_index_usable(settings, fake_embedder):
    ingest(settings, fake_embedder)
    before = current_generation(settings.index_dir)
    (settings.corpus_dir / "new.txt").write_text("Brand new text.", encoding="utf-8")

    class Interrupted(Exception):
        pass

    def crash(stage, done, total):
        if stage == "embed":
            raise Interrupted

    with pytest.raises(Interrupted):
        ingest(settings, fake_embedder, progress=crash)
    assert current_generation(settings.index_dir) == before
    assert Index.load(settings.index_dir).size == 16
    assert not list(settings.index_dir.glob("tmp-*")), "the half-written generation is cleaned up"
    assert ingest(settings, fake_embedder).added == ["new"]


def test_a_leftover_half_written_generation_is_ignored_and_removed(settings, fake_embedder):
    ingest(settings, fake_embedder)
    leftover = settings.index_dir / "tmp-deadbeef"
    leftover.mkdir()
    (leftover / "vectors.faiss").write_bytes(b"partial")
    assert Index.load(settings.index_dir).size == 16
    (settings.corpus_dir / "new.txt").write_text("Brand new text.", encoding="utf-8")
    ingest(settings, fake_embedder)
    assert not leftover.exists()


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissingError, match="Run `python -m assistant ingest`"):
        Index.load(tmp_path / "none")


@pytest.mark.parametrize(
    "damage",
    [
        "truncate-vectors",
        "garbage-vectors",
        "garbage-manifest",
        "no-database",
        "bad-pointer",
        "no-keywords",
        "garbage-keywords",
    ],
)
def test_corrupt_index_is_detected_and_rebuilt_by_the_next_ingest(settings, fake_embedder, damage):
    ingest(settings, fake_embedder)
    generation = current_generation(settings.index_dir)
    if damage == "truncate-vectors":
        data = (generation / "vectors.faiss").read_bytes()
        (generation / "vectors.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage-vectors":
        size = (generation / "vectors.faiss").stat().st_size
        (generation / "vectors.faiss").write_bytes(b"x" * size)
    elif damage == "garbage-manifest":
        (generation / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "no-database":
        (generation / "passages.sqlite").unlink()
    elif damage == "no-keywords":
        shutil.rmtree(generation / "keywords" / "context")
    elif damage == "garbage-keywords":
        scores = generation / "keywords" / "text" / "data.csc.index.npy"
        scores.write_bytes(b"x" * scores.stat().st_size)  # same size: only reading it can tell
    else:
        (settings.index_dir / "CURRENT").write_text("gen-missing\n", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="is unreadable .* Run `python -m assistant ingest` to rebuild it"):
        Index.load(settings.index_dir)
    report = ingest(settings, fake_embedder)
    assert report.rebuilt and report.passages == 16
    assert Index.load(settings.index_dir).size == 16


@pytest.mark.parametrize("damage", ["truncate-vectors", "garbage-vectors"])
def test_opening_with_build_recovers_from_a_corrupt_index(settings, fake_embedder, damage):
    ingest(settings, fake_embedder)
    vectors = current_generation(settings.index_dir) / "vectors.faiss"
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2] if damage == "truncate-vectors" else b"x" * len(data))
    with pytest.raises(IndexCorruptError):
        QuoteEngine.open(settings, fake_embedder)
    assert QuoteEngine.open(settings, fake_embedder, build=True).store.size == 16


def test_hnsw_index_answers_like_the_exact_one(settings, fake_embedder):
    ingest(settings, fake_embedder)
    exact = QuoteEngine.open(settings, fake_embedder).ask("countering violent terrorism", top_k=3)
    approximate_settings = dataclasses.replace(settings, index_kind="hnsw")
    report = ingest(approximate_settings, fake_embedder)
    assert report.rebuilt.startswith("index kind changed")
    assert json.loads((current_generation(settings.index_dir) / "manifest.json").read_text())["index_kind"] == "hnsw"
    approximate = QuoteEngine.open(approximate_settings, fake_embedder).ask("countering violent terrorism", top_k=3)
    assert [q.start for q in approximate.quotes] == [q.start for q in exact.quotes]


def test_opening_with_build_updates_a_stale_index(settings, fake_embedder):
    ingest(settings, fake_embedder)
    (settings.corpus_dir / "new.txt").write_text("A statement added after the index was built.", encoding="utf-8")
    assert is_stale(settings, fake_embedder)
    assert "new" not in [d.doc_id for d in QuoteEngine.open(settings, fake_embedder).documents()]
    engine = QuoteEngine.open(settings, fake_embedder, build=True)
    assert "new" in [d.doc_id for d in engine.documents()]
    assert not is_stale(settings, fake_embedder)


# --- Trust: the index knows its corpus, checks its files, and is never written over a stranger -----------


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def overwrite_in_place(path, offset: int, data: bytes) -> None:
    """Change bytes inside a file without changing its size or its inode (as a stray write would)."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def test_the_manifest_records_the_corpus_settings_and_a_checksum_of_every_file(settings, fake_embedder):
    ingest(settings, fake_embedder)
    generation = current_generation(settings.index_dir)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["corpus"] == str(settings.corpus_dir.resolve())
    assert (settings.index_dir / "CORPUS").read_text(encoding="utf-8") == f"{settings.corpus_dir.resolve()}\n"
    assert indexed_corpus(settings.index_dir) == settings.corpus_dir.resolve()
    assert manifest["settings"]["index_kind"] == "auto" and manifest["settings"]["model"] == "fake-bag-of-words"
    assert {"passages.sqlite", "vectors.faiss", "keywords/text/data.csc.index.npy"} <= set(manifest["files"])
    for name, entry in manifest["files"].items():
        assert entry == {"size": (generation / name).stat().st_size, "sha256": sha256_of(generation / name)}


@pytest.mark.parametrize(
    "name, offset",
    [("vectors.faiss", None), ("passages.sqlite", 0), ("keywords/text/data.csc.index.npy", None)],
    ids=["inside-vectors", "database-header", "inside-keywords"],
)
def test_a_same_size_change_inside_a_file_is_caught_by_its_checksum(settings, fake_embedder, name, offset):
    ingest(settings, fake_embedder)
    part = current_generation(settings.index_dir) / name
    size = part.stat().st_size
    overwrite_in_place(part, size // 2 if offset is None else offset, b"\x7f" * 100)
    assert part.stat().st_size == size
    with pytest.raises(IndexCorruptError, match=f"{re.escape(str(part))} has changed since it was written"):
        Index.load(settings.index_dir)


def test_damage_to_the_open_passage_store_is_a_clear_error_not_a_database_error(settings, fake_engine):
    database = current_generation(settings.index_dir) / "passages.sqlite"
    assert fake_engine.store.is_current()
    overwrite_in_place(database, 0, b"\0" * 100)  # the live file, while the engine has it open
    with pytest.raises(IndexCorruptError, match=f"unreadable \\({re.escape(str(database))}: file is not a database"):
        fake_engine.document(PRESS)
    assert not fake_engine.store.is_current() and fake_engine.store.damage
    with pytest.raises(IndexCorruptError, match="has changed since it was written"):
        fake_engine.refresh()  # a damaged index is not rebuilt behind the user's back
    notices = []
    rebuilt = QuoteEngine.open(settings, fake_engine.embedder, build=True, notice=notices.append)
    assert rebuilt.document(PRESS).info.doc_id == PRESS
    assert len(notices) == 1 and notices[0].startswith(f"The index in {settings.index_dir} is damaged; rebuilding it")


def test_opening_without_repair_raises_the_damage_instead_of_rebuilding(settings, fake_embedder):
    ingest(settings, fake_embedder)
    overwrite_in_place(current_generation(settings.index_dir) / "vectors.faiss", 200, b"\1" * 64)
    before = current_generation(settings.index_dir)
    with pytest.raises(IndexCorruptError, match="vectors.faiss has changed"):
        QuoteEngine.open(settings, fake_embedder, build=True, repair=False)
    assert current_generation(settings.index_dir) == before


def test_an_index_answers_only_from_its_own_corpus_and_only_ingest_moves_it(settings, fake_embedder, tmp_path):
    ingest(settings, fake_embedder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "speech.txt").write_text("A speech about fishing rights and the open sea.", encoding="utf-8")
    elsewhere = dataclasses.replace(settings, corpus_dir=other)
    message = f"was built from {settings.corpus_dir.resolve()}, not {other.resolve()}"
    with pytest.raises(CorpusError, match=re.escape(message)):
        QuoteEngine.open(elsewhere, fake_embedder, build=True)
    assert indexed_corpus(settings.index_dir) == settings.corpus_dir.resolve()
    notices = []
    report = ingest(elsewhere, fake_embedder, notice=notices.append)
    assert notices == [
        f"The index in {settings.index_dir} was built from {settings.corpus_dir.resolve()}; "
        f"it now follows {other.resolve()}."
    ]
    assert report.added == ["speech"] and sorted(report.removed) == sorted([NOTE, PRESS])
    assert indexed_corpus(settings.index_dir) == other.resolve()
    assert [d.doc_id for d in QuoteEngine.open(elsewhere, fake_embedder).documents()] == ["speech"]


def test_settings_follow_the_index_corpus_unless_one_is_chosen(settings, fake_embedder, tmp_path, monkeypatch):
    ingest(settings, fake_embedder)
    monkeypatch.delenv("ASSISTANT_CORPUS", raising=False)
    assert settings_for(index=settings.index_dir).corpus_dir == settings.corpus_dir.resolve()
    assert settings_for(tmp_path / "chosen", settings.index_dir).corpus_dir == (tmp_path / "chosen").resolve()
    monkeypatch.setenv("ASSISTANT_CORPUS", str(tmp_path / "from-env"))
    assert settings_for(index=settings.index_dir).corpus_dir == (tmp_path / "from-env").resolve()
    monkeypatch.delenv("ASSISTANT_CORPUS")
    assert settings_for(index=tmp_path / "new-index").corpus_dir == DEFAULT_CORPUS.resolve()


@pytest.mark.parametrize("stranger", ["notes.txt", "photos"])
def test_a_folder_that_is_not_an_index_is_never_written(settings, fake_embedder, stranger):
    folder = settings.index_dir
    folder.mkdir()
    (folder / "README.md").write_text("ours, like embeddings/README.md", encoding="utf-8")
    if stranger == "photos":
        (folder / stranger).mkdir()
    else:
        (folder / stranger).write_text("someone's notes", encoding="utf-8")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(NotAnIndexError, match=f"{re.escape(str(folder))} is not an index folder .*{stranger}"):
        ingest(settings, fake_embedder)
    with pytest.raises(NotAnIndexError):
        QuoteEngine.open(settings, fake_embedder, build=True)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_model_cache_and_a_readme_do_not_make_a_folder_foreign(settings, fake_embedder):
    settings = dataclasses.replace(settings, model_cache=settings.index_dir / "models")
    (settings.index_dir / "models" / "some-model").mkdir(parents=True)
    (settings.index_dir / "README.md").write_text("what this folder is", encoding="utf-8")
    assert ingest(settings, fake_embedder).passages == 16


def test_an_up_to_date_run_removes_a_killed_ingests_leftovers(settings, fake_embedder):
    ingest(settings, fake_embedder)
    leftover, old_generation = settings.index_dir / "tmp-0123456789ab", settings.index_dir / "gen-old"
    for folder in (leftover, old_generation):
        folder.mkdir()
        (folder / "vectors.faiss").write_bytes(b"partial")
    report = ingest(settings, fake_embedder)
    assert report.up_to_date
    assert not leftover.exists() and not old_generation.exists()
    assert current_generation(settings.index_dir).is_dir()


def test_embeddings_of_finished_documents_survive_an_interrupted_ingest(settings, fake_embedder, monkeypatch):
    monkeypatch.setattr("assistant.ingest.CHECKPOINT_PASSAGES", 1)  # every document is its own batch

    class Interrupted(Exception):
        pass

    def crash_on_second_batch(stage, done, total):
        if stage == "embed" and len(fake_embedder.calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        ingest(settings, fake_embedder, progress=crash_on_second_batch)
    assert not (settings.index_dir / "CURRENT").exists()
    assert len(list((settings.index_dir / "work").glob("*.npy"))) == 1
    first_document_passages = fake_embedder.calls[0]
    fake_embedder.calls.clear()
    report = ingest(settings, fake_embedder)
    assert report.passages == 16 and fake_embedder.calls == [16 - first_document_passages]
    assert not (settings.index_dir / "work").exists(), "a completed ingest leaves nothing to resume"
    fresh = QuoteEngine.open(settings, fake_embedder).ask("countering violent terrorism").to_json()
    shutil.rmtree(settings.index_dir)
    ingest(settings, fake_embedder)
    assert QuoteEngine.open(settings, fake_embedder).ask("countering violent terrorism").to_json() == fresh


def test_refresh_follows_a_new_generation_and_corpus_changes(settings, fake_engine, fake_embedder):
    assert fake_engine.is_current() and fake_engine.refresh() is fake_engine
    path = settings.corpus_dir / f"{PRESS}.txt"
    os.utime(path, ns=(1, 1))  # touched, not changed: no new engine
    assert not fake_engine.is_current()
    assert fake_engine.refresh() is fake_engine and fake_engine.is_current()
    (settings.corpus_dir / "dropped.txt").write_text("A statement dropped into the folder.", encoding="utf-8")
    assert not fake_engine.is_current()
    updated = fake_engine.refresh()
    assert "dropped" in [d.doc_id for d in updated.documents()] and updated.is_current()
    (settings.corpus_dir / "other.txt").write_text("Another statement, indexed elsewhere.", encoding="utf-8")
    ingest(settings, fake_embedder)  # as another process would
    assert not updated.is_current()
    assert "other" in [d.doc_id for d in updated.refresh().documents()]


def test_an_index_from_before_corpora_were_recorded_is_known_by_its_documents_folder(settings, fake_embedder):
    ingest(settings, fake_embedder)
    generation = current_generation(settings.index_dir)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    del manifest["corpus"]
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (settings.index_dir / "CORPUS").unlink()
    assert indexed_corpus(settings.index_dir) == settings.corpus_dir
    report = ingest(settings, fake_embedder)  # records it, re-using every vector
    assert report.up_to_date and fake_embedder.calls == [16]
    assert (settings.index_dir / "CORPUS").read_text(encoding="utf-8") == f"{settings.corpus_dir.resolve()}\n"


def test_an_old_index_whose_corpus_cannot_be_told_is_refused_not_rebuilt_from_corpus(
    settings, fake_embedder, monkeypatch
):
    """Relative document paths (an index built with a relative --corpus before corpora were recorded)."""
    from pathlib import Path

    from assistant.engine import settings_for
    from assistant.errors import CorpusError

    monkeypatch.delenv("ASSISTANT_CORPUS", raising=False)
    ingest(settings, fake_embedder)
    generation = current_generation(settings.index_dir)
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    del manifest["corpus"]
    for entry in manifest["documents"].values():
        entry["path"] = f"relative/corpus/{Path(entry['path']).name}"
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (settings.index_dir / "CORPUS").unlink()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in settings.index_dir.rglob("*"))
    with pytest.raises(CorpusError, match="does not record which corpus"):
        settings_for(index=settings.index_dir)
    assert (
        settings_for(corpus=settings.corpus_dir, index=settings.index_dir).corpus_dir == settings.corpus_dir.resolve()
    )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in settings.index_dir.rglob("*")) == before
