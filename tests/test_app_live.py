"""The running app keeps up with its index: another process's ingest, files dropped into the corpus, and
damage, shown with a rebuild button; all without a restart (AppTest, real FAISS and SQLite, fake embedder)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import REFRESH_EVERY
from assistant.config import Settings
from assistant.export import markdown_escape
from assistant.index import current_generation, ingest
from tests.apphelpers import APP, FAKE_THRESHOLD, REPO, BagOfWordsEmbedder, point_app_at, use_fake_embedder

#: `ingest` as another process runs it (the CLI, or another app), with the app tests' embedder.
OTHER_PROCESS_INGEST = """
import sys
from assistant.config import Settings
from assistant.index import ingest
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
    time.sleep(REFRESH_EVERY + 0.2)
    at.run()
    assert not at.exception, at.exception
    return at


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


def test_damage_to_the_live_index_is_a_message_with_a_rebuild_button_then_recovers(corpus: Path, tmp_path: Path):
    at = start_app()
    database = current_generation(tmp_path / "index") / "passages.sqlite"
    with open(database, "r+b") as handle:  # what the user did: the first 100 bytes of the live file
        handle.write(b"\0" * 100)

    ask(at, "What about terrorism?")
    failed_turn = markdown_escape(
        f"The index in {tmp_path / 'index'} is unreadable ({database}: file is not a database). "
        "Run `python -m assistant ingest` to rebuild it."
    )
    assert [e.value for e in at.error] == [failed_turn]  # in the chat, where the answer would be
    at.run()  # the next run: no traceback, the damage and a way out
    assert not at.exception
    (message,) = [e.value for e in at.error]
    assert markdown_escape(f"{database} has changed since it was written") in message
    assert not at.chat_input, "nothing is asked of a damaged index"
    other_session = start_app()
    assert [e.value for e in other_session.error] == [message]

    at.button(key="rebuild_index").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [failed_turn], "only the earlier question's message, in the chat"
    assert corpus_label(at) == "Corpus: 2 documents, 16 passages"
    ask(at, "What about terrorism?")
    assert [e.value for e in at.error] == [failed_turn]
    assert "countering violent terrorism" in "\n".join(element.value for element in at.html)


def test_an_index_damaged_before_the_app_starts_is_not_rebuilt_until_asked(corpus: Path, tmp_path: Path):
    index = tmp_path / "index"
    ingest(Settings(corpus_dir=corpus, index_dir=index, reranker="none"), BagOfWordsEmbedder())
    vectors = current_generation(index) / "vectors.faiss"
    with open(vectors, "r+b") as handle:
        handle.seek(vectors.stat().st_size // 2)
        handle.write(b"\1" * 64)

    at = start_app()
    assert [e.value for e in at.error][0].startswith(markdown_escape(f"The index in {index} is unreadable"))
    assert at.button(key="rebuild_index").label == "Rebuild the index"
    at.button(key="rebuild_index").click().run()
    assert not at.exception and not at.error
    assert corpus_label(at) == "Corpus: 2 documents, 16 passages"


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
