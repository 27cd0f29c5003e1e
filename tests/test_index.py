"""Index: build, incremental update, rebuild on settings change, atomic swap, corruption detection."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from assistant.config import PassageSettings
from assistant.engine import QuoteEngine
from assistant.errors import CorpusError, IndexCorruptError, IndexMissingError
from assistant.index import Index, current_generation, ingest, is_stale

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
    assert QuoteEngine.open(settings, fake_embedder, build=True).index.size == 16


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
