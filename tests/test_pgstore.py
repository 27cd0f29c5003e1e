"""The PostgreSQL store against a real local PostgreSQL server (tests/pgfixtures.py), beside the embedded store.

The same corpus is ingested into both; what the engine reads through store.Store must agree: BM25 scores
(computed in SQL from term statistics), dense search, filters, phrases, passages and documents. Then the
writer's promises: incremental ingest by content, a reader never sees half an ingest, two ingests are
serialised, another model is refused, and a lost connection is said and recovered from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

from assistant import localpg, pgstore
from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.errors import IndexBusyError, IndexMissingError
from assistant.index import Index
from assistant.ingest import ingest
from assistant.keywords import content_words
from assistant.pgingest import LOCK_KEY, ingest_postgres
from assistant.pgstore import PostgresStore, StoreMismatchError, StoreUnavailableError
from assistant.store import Restriction
from tests.conftest import REPO, SEED_CORPUS, FakeEmbedder

BRIEFINGS = REPO.parent / "shared" / "data" / "whitehouse-briefings-2021" / "2021-03"
QUESTIONS = [
    "How many countries supported China's Xinjiang policy?",
    "What did the spokesperson say about forced labour in cotton?",
    "vaccine doses shipped to states this week",
    "What did Psaki say about the American Rescue Plan and checks?",
    "border unaccompanied children Mayorkas shelters",
    "infrastructure",
]


def _settings(corpus: Path, root: Path, store: str | None = None) -> Settings:
    return Settings(
        corpus_dir=corpus, index_dir=root, model="fake-bag-of-words", threshold=0.3, reranker="none", store=store
    )


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """The seeds and 16 real briefings of March 2021 (CC0, ../shared): turns, many speakers, long passages."""
    corpus = tmp_path_factory.mktemp("pg-collection") / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    for path in sorted(BRIEFINGS.glob("*.md"))[:16]:
        shutil.copy(path, corpus / path.name)
    return corpus


@pytest.fixture(scope="module")
def both(collection, postgres_server, tmp_path_factory):
    """(embedded store, PostgreSQL store) over the same collection, with the fake embedder."""
    from tests.pgfixtures import fresh_database

    root = tmp_path_factory.mktemp("pg-both")
    embedder = FakeEmbedder()
    ingest(_settings(collection, root / "embedded"), embedder)
    with fresh_database(postgres_server) as url:
        ingest_postgres(_settings(collection, root / "work", url), embedder)
        embedded, shared = Index.load(root / "embedded"), PostgresStore.open(url)
        yield embedded, shared, embedder
        shared.close()
        embedded.close()


@pytest.fixture
def open_store():
    """PostgresStore.open, each store closed when the test ends (an unclosed pool's threads outlive it)."""
    opened = []

    def open_(*args, **kwargs) -> PostgresStore:
        opened.append(PostgresStore.open(*args, **kwargs))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


def _same_ranking(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    """The same scores in the same order; passages of equal score may come in either order (bm25s breaks ties
    by its partition, SQL by id), and at the cut-off either of them may be the one kept."""
    assert len(a) == len(b)
    assert np.allclose([s for _, s in a], [s for _, s in b], rtol=1e-5)
    scores_a, scores_b = dict(a), dict(b)
    for pid in scores_a.keys() & scores_b.keys():
        assert scores_a[pid] == pytest.approx(scores_b[pid], rel=1e-5)
    last = a[-1][1] if a else 0.0
    for pid in scores_a.keys() ^ scores_b.keys():  # only ties at the cut-off may differ
        assert {**scores_a, **scores_b}[pid] == pytest.approx(last, rel=1e-5)
    for (pid_a, score), (pid_b, _) in zip(a, b):
        if pid_a != pid_b:  # a tie, in another order
            assert scores_b.get(pid_a, last) == pytest.approx(score, rel=1e-5)


def test_bm25_in_sql_equals_the_embedded_bm25s_index(both):
    embedded, shared, _ = both
    assert shared.size == embedded.size > 1000
    for question in QUESTIONS:
        terms = content_words(question)
        _same_ranking(embedded.keyword(terms, 50), shared.keyword(terms, 50))
        assert shared.known([*terms, "zzyzxq"]) == embedded.known([*terms, "zzyzxq"])
    allowed = np.arange(0, embedded.size, 7)
    terms = content_words(QUESTIONS[2])
    _same_ranking(embedded.keyword(terms, 20, allowed), shared.keyword(terms, 20, allowed))


def test_the_stores_hold_the_same_passages_documents_and_people(both):
    embedded, shared, _ = both
    assert shared.documents() == embedded.documents()
    ids = list(range(0, embedded.size, 97))
    assert shared.passages(ids) == embedded.passages(ids)
    assert np.allclose(shared.vectors(ids), embedded.vectors(ids), atol=1e-6)
    assert shared.people() == embedded.people()
    assert shared.questioners() == embedded.questioners()
    assert shared.authors() == embedded.authors()
    for info in embedded.documents()[:3]:
        text = shared.document_text(info.doc_id)
        assert text == embedded.document_text(info.doc_id)
        passages = shared.document_passages(info.doc_id)
        assert passages == embedded.document_passages(info.doc_id)
        assert all(text[p.start : p.end] == p.text for p in passages)  # verbatim, from the database too
        middle = passages[len(passages) // 2]
        assert shared.passages_overlapping(info.doc_id, middle.start, middle.end) == embedded.passages_overlapping(
            info.doc_id, middle.start, middle.end
        )


def test_filters_and_phrases_select_the_same_passages(both):
    embedded, shared, _ = both
    people = embedded.people()
    psaki = next(name for name in people if "Psaki" in name)
    restrictions = [
        Restriction(doc_ids=(embedded.documents()[0].doc_id,)),
        Restriction(authors=(psaki,), speakers=people[psaki]),
        Restriction(date_from="2021-03-05", date_to="2021-03"),
        Restriction(spoken_in=people[psaki], date_to="2021-03-03"),
    ]
    for restriction in restrictions:
        allowed = embedded.restricted(restriction)
        assert len(allowed) > 0
        assert np.array_equal(shared.restricted(restriction), allowed)
    for phrase in ("vocational education", "the American Rescue Plan", "Xinjiang"):
        found = {pid for pid in shared.phrase(phrase)}
        exact = {
            pid for pid, p in embedded.passages(range(embedded.size)).items() if phrase.casefold() in p.text.casefold()
        }
        assert exact <= found  # candidates: the searcher checks the text


def test_a_broad_restriction_is_applied_inside_the_queries_with_the_same_results(both, monkeypatch):
    """Over EXACT_BELOW allowed passages the store does not list their ids (seconds at 2,000,000 passages):
    it gives a Predicate that dense and keyword apply in SQL. The same passages, the same BM25 ranking."""
    embedded, shared, embedder = both
    people = embedded.people()
    psaki = next(name for name in people if "Psaki" in name)
    restrictions = [
        Restriction(authors=(psaki,), speakers=people[psaki]),
        Restriction(date_from="2021-03-05", date_to="2021-03"),
        Restriction(authors=(psaki,), speakers=people[psaki], date_from="2021-03-05"),
    ]
    monkeypatch.setattr(pgstore, "EXACT_BELOW", 50)
    for restriction in restrictions:
        allowed = embedded.restricted(restriction)
        predicate = shared.restricted(restriction)
        assert isinstance(predicate, pgstore.Predicate) and len(allowed) > 50 and len(predicate) > 0
        every_third = np.arange(0, embedded.size, 3)
        within = shared.restricted(restriction, within=every_third)
        assert np.array_equal(within, np.intersect1d(allowed, every_third))
        assert np.array_equal(within, embedded.restricted(restriction, within=every_third))
        for question in QUESTIONS:
            terms = content_words(question)
            _same_ranking(embedded.keyword(terms, 30, allowed), shared.keyword(terms, 30, predicate))
            query = embedder.encode_queries([question])[0]
            exact = allowed[np.argsort(-(embedded.matrix[allowed] @ query))][:10]
            found = shared.dense(query, 10, predicate)  # a small store: exact (equal scores in either order)
            assert set(found) <= set(allowed.tolist())
            assert np.allclose(embedded.matrix[found] @ query, embedded.matrix[exact] @ query, atol=1e-6)
            with monkeypatch.context() as patch:  # a larger one: the HNSW index, scanned iteratively
                patch.setitem(shared._meta, "index_kind", "hnsw")
                found = shared.dense(query, 10, predicate)
            assert len(found) == 10 and set(found) <= set(allowed.tolist())
            assert len(set(found) & set(exact.tolist())) >= 7


def test_dense_search_finds_the_exact_neighbours_and_a_tight_filter_still_returns_k(both, monkeypatch):
    embedded, shared, embedder = both
    assert shared.manifest["index_kind"] == "flat"  # exact up to 50,000 passages, as the embedded index
    for question in QUESTIONS:
        query = embedder.encode_queries([question])[0]
        scores = embedded.matrix @ query
        exact = list(np.argsort(-scores)[:10])
        found = shared.dense(query, 10)
        # the exact neighbours in order, up to near-ties (two passages within 1e-5 may come either way round)
        assert len(found) == 10 and np.allclose(scores[found], scores[exact], atol=1e-5), (found, exact)
        with monkeypatch.context() as patch:  # a larger store: the HNSW index, approximate
            patch.setitem(shared._meta, "index_kind", "hnsw")
            assert len(set(shared.dense(query, 10)) & set(exact)) >= 9
        allowed = np.sort(np.random.default_rng(0).choice(embedded.size, embedded.size // 100, replace=False))
        within = allowed[np.argsort(-(embedded.matrix[allowed] @ query))][:10]
        assert shared.dense(query, 10, allowed) == [int(i) for i in within]  # exact under a filter allowing 1%
        # over EXACT_BELOW allowed passages the HNSW index is scanned iteratively: still k results
        monkeypatch.setattr(pgstore, "EXACT_BELOW", 5)
        found = shared.dense(query, 10, allowed)
        monkeypatch.undo()
        assert len(found) == 10 and set(found) <= set(allowed.tolist())
        assert len(set(found) & set(within.tolist())) >= 8


def test_an_engine_on_either_store_gives_the_same_answers(both, collection, tmp_path):
    embedded, shared, embedder = both
    engines = [
        QuoteEngine(_settings(collection, tmp_path), embedded, embedder),
        QuoteEngine(_settings(collection, tmp_path, shared.url), shared, embedder),
    ]
    for question in [*QUESTIONS, '"vocational education"', "What did Mayorkas say about the border in March 2021?"]:
        a, b = (engine.ask(question) for engine in engines)
        assert (a.answered, a.message) == (b.answered, b.message)
        assert [(q.doc_id, q.start, q.end, q.speaker, q.highlight_start) for q in a.quotes] == [
            (q.doc_id, q.start, q.end, q.speaker, q.highlight_start) for q in b.quotes
        ]
    sentence = "Our position is clear and consistent"
    assert engines[0].check(sentence).verdict == engines[1].check(sentence).verdict


def test_ingest_is_incremental_and_keeps_bm25_statistics_exact(open_store, seed_corpus, postgres_url, tmp_path):
    embedder = FakeEmbedder()
    settings = _settings(seed_corpus, tmp_path / "work", postgres_url)
    first = ingest_postgres(settings, embedder)
    assert len(first.added) == 2 and not first.up_to_date
    assert ingest_postgres(settings, embedder).up_to_date
    embedder.calls.clear()
    note = seed_corpus / "2024-01-02-new-note.md"
    note.write_text("---\ntitle: A new note\ndate: 2024-01-02\n---\n\nCotton from Xinjiang is traded freely.\n")
    (seed_corpus / "2023-09-14-china-un-mission-note-verbale.txt").unlink()
    report = ingest_postgres(settings, embedder)
    assert report.added == ["2024-01-02-new-note"] and report.removed == ["2023-09-14-china-un-mission-note-verbale"]
    assert sum(embedder.calls) == 1  # only the new document's one passage was embedded
    ingest(_settings(seed_corpus, tmp_path / "embedded"), embedder)
    embedded, shared = Index.load(tmp_path / "embedded"), open_store(postgres_url)
    assert shared.generation == 2 and shared.size == embedded.size
    for question in ["cotton Xinjiang traded", *QUESTIONS]:  # df, lengths and N after a removal and an addition
        _same_ranking(embedded.keyword(content_words(question), 30), shared.keyword(content_words(question), 30))


def test_a_reader_never_sees_half_an_ingest(open_store, seed_corpus, postgres_url, tmp_path):
    embedder = FakeEmbedder()
    settings = _settings(seed_corpus, tmp_path / "work", postgres_url)
    ingest_postgres(settings, embedder)
    reader = open_store(postgres_url)
    before = [d.doc_id for d in reader.documents()]
    (seed_corpus / "2024-01-02-new-note.md").write_text("---\ntitle: New\ndate: 2024-01-02\n---\n\nA new text.\n")
    seen = []

    def progress(stage, done, total):
        if stage == "index":  # inside the writer's transaction, its rows written
            seen.append(([d.doc_id for d in reader.documents()], reader.is_current()))

    ingest_postgres(settings, embedder, progress)
    assert seen and all(documents == before and current for documents, current in seen)
    assert not reader.is_current()
    assert "2024-01-02-new-note" in [d.doc_id for d in open_store(postgres_url).documents()]


def test_an_engine_opened_before_an_ingest_answers_and_checks_through_it(seed_corpus, postgres_url, tmp_path):
    """What an app replica does in the seconds between the CLI's commit and its swap to the new generation: its
    searches already find the new generation's passages; a new document is cited with its own metadata, and
    passages that were removed or changed are left out, never an error."""
    embedder = FakeEmbedder()
    settings = _settings(seed_corpus, tmp_path / "work", postgres_url)
    ingest_postgres(settings, embedder)
    engine = QuoteEngine.open(settings, embedder)
    letter = "2023-09-14-china-un-mission-note-verbale"
    old_text = engine.document(letter).text
    (seed_corpus / "2024-01-02-grape-note.md").write_text(
        "---\ntitle: A grape note\nauthor: Turpan Grape Cooperative\ndate: 2024-01-02\n---\n\n"
        "The Turpan grape cooperative shipped seventeen tonnes of raisins to Almaty.\n"
    )
    (seed_corpus / f"{letter}.txt").unlink()
    ingest_postgres(settings, embedder)
    assert not engine.is_current()  # the app swaps in a fresh engine on its next check; until then:
    answer = engine.ask("How many tonnes of raisins did the Turpan grape cooperative ship to Almaty?", mode="hybrid")
    grape = [quote for quote in answer.quotes if quote.doc_id == "2024-01-02-grape-note"]
    assert grape and grape[0].author == "Turpan Grape Cooperative" and "seventeen tonnes" in grape[0].text
    assert all(quote.doc_id != letter for quote in answer.quotes)
    assert engine.document("2024-01-02-grape-note").text.endswith("to Almaty.\n")
    sentence = next(line for line in old_text.splitlines() if len(line) > 80)[:120]
    result = engine.check(sentence)  # its only source is gone: not found, not a KeyError
    assert result.verdict == "not_found", result
    assert all(match.doc_id != letter for match in result.matches)


#: A writer killed (SIGKILL) inside its transaction: it says INDEXING once its rows are written, then waits.
KILLED_WRITER = """
import sys, time
from pathlib import Path
from assistant.config import Settings
from assistant.pgingest import ingest_postgres
from tests.conftest import FakeEmbedder

def progress(stage, done, total):
    if stage == "index" and done:
        print("INDEXING", flush=True)
        time.sleep(120)

corpus, work, url = sys.argv[1:]
settings = Settings(corpus_dir=Path(corpus), index_dir=Path(work), model="fake-bag-of-words", threshold=0.3,
                    reranker="none", store=url)
ingest_postgres(settings, FakeEmbedder(), progress)
"""


def test_a_killed_ingest_leaves_the_store_as_it_was_and_the_next_loses_nothing(
    open_store, collection, postgres_url, tmp_path
):
    corpus = tmp_path / "corpus"
    shutil.copytree(collection, corpus)
    hidden = sorted(corpus.glob("2021-*.md"))[8:]  # half the briefings arrive later, in the killed ingest
    for path in hidden:
        path.rename(tmp_path / path.name)
    settings = _settings(corpus, tmp_path / "work", postgres_url)
    ingest_postgres(settings, FakeEmbedder())
    reader = open_store(postgres_url)
    before = (reader.generation, reader.size, [d.doc_id for d in reader.documents()])
    for path in hidden:
        (tmp_path / path.name).rename(path)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(corpus), str(tmp_path / "work"), postgres_url],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "INDEXING"
    finally:
        writer.kill()
        writer.wait(timeout=30)
    after = open_store(postgres_url)
    assert (after.generation, after.size, [d.doc_id for d in after.documents()]) == before
    assert reader.is_current()  # a replica has nothing to swap to
    embedder = FakeEmbedder()
    report = ingest_postgres(settings, embedder)
    assert sorted(report.added) == sorted(path.stem for path in hidden)
    assert not embedder.calls  # what the killed ingest embedded was kept (checkpoints) and reused
    ingest(_settings(corpus, tmp_path / "embedded"), FakeEmbedder())
    embedded, shared = Index.load(tmp_path / "embedded"), open_store(postgres_url)
    assert shared.size == embedded.size  # no passage lost
    for info in embedded.documents():
        assert shared.document_passages(info.doc_id) == embedded.document_passages(info.doc_id), info.doc_id


def test_two_ingests_are_serialised_with_the_lock_message(seed_corpus, postgres_url, tmp_path):
    settings = _settings(seed_corpus, tmp_path / "work", postgres_url)
    notices = []
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        busy = Settings(**{**settings.__dict__, "lock_timeout": 0.5})
        with pytest.raises(IndexBusyError, match="Another process has been updating the index .* nothing was changed"):
            ingest_postgres(busy, FakeEmbedder(), notice=notices.append)
        assert notices and notices[0].startswith("Waiting for another process to finish updating the index")
        released = threading.Timer(0.5, lambda: other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY]))
        released.start()
        report = ingest_postgres(Settings(**{**settings.__dict__, "lock_timeout": 30}), FakeEmbedder())
        released.join()
    assert len(report.added) == 2
    with pytest.raises(IndexMissingError):
        PostgresStore.open(_empty(postgres_url))


def _empty(url: str) -> str:
    """The URL of the same database, whose store schema a test dropped: used to see IndexMissingError."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {pgstore.SCHEMA_NAME} CASCADE")
    return url


def test_a_store_of_another_model_is_refused_until_rebuilt(open_store, seed_corpus, postgres_url, tmp_path):
    settings = _settings(seed_corpus, tmp_path / "work", postgres_url)
    ingest_postgres(settings, FakeEmbedder())
    other = FakeEmbedder(dimension=32, name="another-model")
    with pytest.raises(StoreMismatchError, match="built with fake-bag-of-words \\(64 dimensions\\).*--rebuild"):
        ingest_postgres(settings, other)
    with pytest.raises(StoreMismatchError, match="this app embeds questions with another-model"):
        PostgresStore.open(postgres_url, "another-model", 32)
    report = ingest_postgres(settings, other, rebuild=True)
    assert report.rebuilt == "rebuild asked for"
    assert open_store(postgres_url, "another-model", 32).dimension == 32


def test_a_lost_database_is_said_and_recovered_from_without_a_restart(seed_corpus, tmp_path):
    data = tmp_path / "pgdata"
    server = localpg.start(data)
    try:
        settings = _settings(seed_corpus, tmp_path / "work", server.url)
        embedder = FakeEmbedder()
        ingest_postgres(settings, embedder)
        engine = QuoteEngine.open(settings, embedder)
        assert engine.ask("How many countries supported China's Xinjiang policy?").answered
        server.stop()
        with pytest.raises(StoreUnavailableError, match="cannot be reached .* try again when it is back"):
            engine.ask("How many countries supported China's Xinjiang policy?")
        assert engine.is_current()  # the replica keeps its engine meanwhile
        server = localpg.start(data)
        assert engine.ask("How many countries supported China's Xinjiang policy?").answered
    finally:
        server.stop()


def test_the_cli_ingests_into_and_answers_from_a_store(seed_corpus, postgres_url, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_MODEL_CACHE": str(REPO / "embeddings" / "models")}
    env.pop("ASSISTANT_STORE", None)
    base = [sys.executable, "-m", "assistant"]
    common = ["--store", postgres_url, "--index", str(tmp_path / "work")]
    ingested = subprocess.run(
        [*base, "ingest", *common, "--corpus", str(seed_corpus)], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert ingested.returncode == 0, ingested.stderr
    assert "Indexed 2 documents" in ingested.stdout
    asked = subprocess.run(
        [*base, "ask", *common, "How many countries supported China's Xinjiang policy?"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert asked.returncode == 0, asked.stderr
    assert "2023-09-14-china-un-mission-note-verbale" in asked.stdout
    again = subprocess.run([*base, "ingest", *common], capture_output=True, text=True, env=env, cwd=REPO)
    assert again.returncode == 0 and "Index up to date" in again.stdout
