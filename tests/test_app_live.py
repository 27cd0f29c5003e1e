"""The running app keeps up with its index: another process's ingest, files dropped into the corpus, and
damage, shown with a rebuild button; all without a restart (AppTest, real FAISS and SQLite, fake embedder)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import DAMAGED, REFRESH_EVERY
from assistant.config import Settings
from assistant.index import current_generation
from assistant.ingest import ingest
from tests.apphelpers import APP, FAKE_THRESHOLD, REPO, BagOfWordsEmbedder, point_app_at, use_fake_embedder

#: `ingest` as another process runs it (the CLI, or another app), with the app tests' embedder.
OTHER_PROCESS_INGEST = """
import sys
from assistant.config import Settings
from assistant.ingest import ingest
from tests.apphelpers import BagOfWordsEmbedder

ingest(Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2], reranker="none"), BagOfWordsEmbedder())
"""
FISHING = "The delegation spoke about fishing quotas in the northern sea."


def start_app(query: dict[str, str] | None = None) -> AppTest:
    """A new browser session (the engine is shared by the process's sessions, as in the real server)."""
    assert not Path(os.environ["ASSISTANT_INDEX"]).resolve().is_relative_to(REPO)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def rerun_after_the_check_interval(at: AppTest) -> AppTest:
    """Rerun once the app looks for changes again, then until the background update it started is done."""
    time.sleep(REFRESH_EVERY + 0.2)
    at.run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 60
    while updating_note(at):
        assert time.monotonic() < deadline, "the background update did not finish in 60 s"
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    at.run()  # the run after the swap shows the new engine's corpus everywhere
    return at


def updating_note(at: AppTest) -> str | None:
    return next((c.value for c in at.main.caption if c.value.startswith("Updating the index")), None)


def corpus_label(at: AppTest) -> str:
    return at.sidebar.expander[0].label


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_an_ingest_by_another_process_reaches_open_and_new_sessions_without_a_restart(corpus: Path, tmp_path: Path):
    at = start_app()
    assert corpus_label(at) == "Corpus: 2 documents, 16 passages"
    (corpus / "fishing.txt").write_text(FISHING, encoding="utf-8")
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS_INGEST, corpus, tmp_path / "index"], cwd=REPO, capture_output=True
    )
    assert other.returncode == 0, other.stderr
    written = current_generation(tmp_path / "index")

    rerun_after_the_check_interval(at)
    assert corpus_label(at) == "Corpus: 3 documents, 17 passages"
    assert current_generation(tmp_path / "index") == written, "the app read the new index, it did not rebuild it"
    ask(at, "What about fishing quotas?")
    assert "fishing quotas in the northern sea" in "\n".join(element.value for element in at.html)
    document = start_app({"doc": "fishing"})
    assert not document.error and "northern sea" in "\n".join(element.value for element in document.html)


def test_a_file_dropped_into_the_corpus_is_indexed_within_seconds(corpus: Path, tmp_path: Path):
    at = start_app()
    before = current_generation(tmp_path / "index")
    (corpus / "fishing.txt").write_text(FISHING, encoding="utf-8")
    rerun_after_the_check_interval(at)
    assert corpus_label(at) == "Corpus: 3 documents, 17 passages"
    assert current_generation(tmp_path / "index") != before
    assert corpus_label(start_app()) == "Corpus: 3 documents, 17 passages"


def test_damage_to_the_live_index_is_a_message_with_a_rebuild_button_then_recovers(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    at = start_app()
    database = current_generation(tmp_path / "index") / "passages.sqlite"
    with open(database, "r+b") as handle:  # what the user did: the first 100 bytes of the live file
        handle.write(b"\0" * 100)

    ask(at, "What about terrorism?")
    assert [e.value for e in at.error] == [DAMAGED]  # in the chat, where the answer would be
    at.run()  # the next run: no traceback, the damage and a way out
    assert not at.exception
    assert [e.value for e in at.error] == [DAMAGED]  # the page stops there: no chat
    assert not at.chat_input, "nothing is asked of a damaged index"
    assert str(tmp_path) not in page_text(at), "no server path in the page"
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "quotefirst.app")
    assert f"{database}: file is not a database" in logged and f"{database} has changed since it was written" in logged
    other_session = start_app()
    assert [e.value for e in other_session.error] == [DAMAGED]

    at.button(key="rebuild_index").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [DAMAGED], "only the earlier question's message, in the chat"
    assert corpus_label(at) == "Corpus: 2 documents, 16 passages"
    ask(at, "What about terrorism?")
    assert [e.value for e in at.error] == [DAMAGED]
    assert "countering violent terrorism" in "\n".join(element.value for element in at.html)


def test_an_index_damaged_before_the_app_starts_is_not_rebuilt_until_asked(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    index = tmp_path / "index"
    ingest(Settings(corpus_dir=corpus, index_dir=index, reranker="none"), BagOfWordsEmbedder())
    vectors = current_generation(index) / "vectors.faiss"
    with open(vectors, "r+b") as handle:
        handle.seek(vectors.stat().st_size // 2)
        handle.write(b"\1" * 64)

    at = start_app()
    assert [e.value for e in at.error] == [DAMAGED]
    assert str(tmp_path) not in page_text(at)
    assert any(f"The index in {index} is unreadable" in record.getMessage() for record in caplog.records)
    assert at.button(key="rebuild_index").label == "Rebuild the index"
    at.button(key="rebuild_index").click().run()
    assert not at.exception and not at.error
    assert corpus_label(at) == "Corpus: 2 documents, 16 passages"


def page_text(at: AppTest) -> str:
    """Every message, caption, text and HTML element of the page (main area and sidebar)."""
    elements = [*at.error, *at.warning, *at.info, *at.caption, *at.markdown, *at.html, *at.text]
    return "\n".join(str(element.value) for element in elements)


def test_without_a_chosen_corpus_the_app_serves_the_corpus_its_index_was_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    speeches = tmp_path / "speeches"
    speeches.mkdir()
    (speeches / "fishing.txt").write_text(FISHING, encoding="utf-8")
    index = tmp_path / "index"
    ingest(Settings(corpus_dir=speeches, index_dir=index, reranker="none"), BagOfWordsEmbedder())
    point_app_at(monkeypatch, REPO / "corpus", index, threshold=FAKE_THRESHOLD)
    monkeypatch.delenv("ASSISTANT_CORPUS")  # as when started from the project folder, whose corpus/ has the seeds
    use_fake_embedder(monkeypatch)

    at = start_app()
    assert corpus_label(at) == "Corpus: 1 document, 1 passage"
    assert (index / "CORPUS").read_text(encoding="utf-8") == f"{speeches.resolve()}\n"


class GatedEmbedder(BagOfWordsEmbedder):
    """The app tests' embedder, but embedding a passage about fishing waits until `gate` is set; it records
    whether the index's ingest lock was held while it embedded."""

    gate = threading.Event()
    embedded_under_lock: list[bool] = []

    def encode(self, texts, progress=None):
        if any("fishing" in text for text in texts):
            self.embedded_under_lock.append(ingest_lock_held(Path(os.environ["ASSISTANT_INDEX"])))
            assert self.gate.wait(60), "the test never let the update go on"
        return super().encode(texts, progress)


def ingest_lock_held(index: Path) -> bool:
    with open(index / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_page_loaded_during_an_update_gets_a_chat_box_and_answers_from_the_current_index(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("assistant.config.Settings.embedder", lambda settings: GatedEmbedder())
    GatedEmbedder.gate.clear()
    GatedEmbedder.embedded_under_lock.clear()
    at = start_app()
    (corpus / "fishing.txt").write_text(FISHING, encoding="utf-8")
    time.sleep(REFRESH_EVERY + 0.2)
    started = time.monotonic()
    at.run()  # starts the update, which now waits in the embedder
    assert not at.exception
    try:
        visitor = start_app()  # a reload, a new tab, another visitor
        assert time.monotonic() - started < 20, "a page waited on the update"
        note = "Updating the index: 1 new or changed document; answers use the current index until it is done."
        assert updating_note(visitor) == note
        assert visitor.chat_input(key="question") is not None
        ask(visitor, "What about terrorism?")
        assert "countering violent terrorism" in "\n".join(element.value for element in visitor.html)
        assert corpus_label(visitor) == "Corpus: 2 documents, 16 passages"  # still the current generation
        # Another writer (the CLI) is not kept waiting by the app's embedding: the lock is free meanwhile.
        assert GatedEmbedder.embedded_under_lock == [False]
        assert not ingest_lock_held(tmp_path / "index")
    finally:
        GatedEmbedder.gate.set()
    rerun_after_the_check_interval(visitor)
    assert corpus_label(visitor) == "Corpus: 3 documents, 17 passages"
    assert updating_note(visitor) is None
    assert GatedEmbedder.embedded_under_lock == [False], "ingest reused what was embedded before it took the lock"
