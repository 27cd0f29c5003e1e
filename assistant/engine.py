"""The engine: one object that opens the index and answers questions; the CLI and the app use only this."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from assistant.answer import Answer, build_answer
from assistant.check import CheckResult, Claim, QuoteChecker
from assistant.config import Settings, chosen_corpus, dense_scale
from assistant.corpus import load_uploads
from assistant.embedding import Embedder, model_label
from assistant.errors import CorpusError, IndexCorruptError, IndexMissingError, UnknownDocumentError
from assistant.index import DocumentInfo, Index, has_documents, indexed_corpus
from assistant.ingest import IngestReport, ProgressCallback, ingest, stale_reason
from assistant.passages import Passage
from assistant.paste import PasteCheck, check_paste
from assistant.search import (
    MAX_QUESTION_CHARS,
    Filters,
    Question,
    Searcher,
    SearchResult,
    by_named,
    is_follow_up,
    is_quotation,
    parse_question,
)
from assistant.steering import Steerer, Steering, asks_about_reporters
from assistant.store import Store

Notice = Callable[[str], None]  # one line a person should see now (rebuilding, waiting for a lock)


def settings_for(corpus: Path | None = None, index: Path | None = None, store: str | None = None) -> Settings:
    """Settings for a command or the app, with absolute folders.

    The index folder is `index`, else $ASSISTANT_INDEX, else embeddings/. The corpus is the one
    chosen (`corpus`, else $ASSISTANT_CORPUS), else the one that index was built from, else
    corpus/. An index answers only from its own corpus: QuoteEngine.open refuses a chosen corpus
    that differs, and only `ingest` moves an index to another corpus. `store` (else $ASSISTANT_STORE) is
    a PostgreSQL URL: the passages are read from there, and the corpus matters only to its ingest.
    """
    base = Settings(index_dir=index) if index else Settings()
    if store:
        base = replace(base, store=store)
    if base.store is not None:
        folder = corpus or chosen_corpus() or base.corpus_dir
        return replace(base, corpus_dir=Path(folder).resolve(), index_dir=Path(base.index_dir).resolve())
    recorded = indexed_corpus(base.index_dir)
    if not (corpus or chosen_corpus() or recorded) and has_documents(base.index_dir):
        # An old index whose corpus cannot be told: guessing corpus/ would rebuild it from other documents.
        raise CorpusError(
            f"The index in {base.index_dir} does not record which corpus it was built from. Choose it once with "
            f"`python -m assistant ingest --corpus DIR --index {base.index_dir}`, or pass --corpus."
        )
    folder = corpus or chosen_corpus() or recorded or base.corpus_dir
    return replace(base, corpus_dir=Path(folder).resolve(), index_dir=Path(base.index_dir).resolve())


def check_corpus(settings: Settings) -> None:
    """Raise CorpusError when the index in settings.index_dir was built from another corpus folder."""
    recorded = indexed_corpus(settings.index_dir)
    wanted = Path(settings.corpus_dir).resolve()
    if recorded is not None and recorded != wanted:
        raise CorpusError(
            f"The index in {settings.index_dir} was built from {recorded}, not {wanted}; it answers only from "
            f"its own corpus. Leave out --corpus (and $ASSISTANT_CORPUS) to use it, choose another --index, or run "
            f"`python -m assistant ingest --corpus {wanted} --index {settings.index_dir}` to rebuild it from {wanted}."
        )


def corpus_listing(corpus_dir: Path) -> frozenset[tuple[str, int, int]]:
    """Every file under the corpus folder with its size and modification time (empty when it is missing).

    Cheap to take (stat calls, no reading), and different whenever a file is added, removed,
    replaced or edited: what tells a long-running engine to look for corpus changes.
    """
    listing = set()
    for root, _, files in os.walk(corpus_dir):
        for name in files:
            path = os.path.join(root, name)
            try:
                stat = os.stat(path)
            except OSError:  # removed while we looked
                continue
            listing.add((path, stat.st_size, stat.st_mtime_ns))
    return frozenset(listing)


@dataclass(frozen=True)
class DocumentView:
    """A whole document for reading: metadata, exact text and its passages."""

    info: DocumentInfo
    text: str
    passages: list[Passage]


class DocumentCatalog(dict):
    """The documents an engine cites, by id, read from its store when it opens.

    A shared store changes under a running engine: the CLI's ingest commits a new generation, and a search can
    find its passages before the app swaps in an engine on it (keep_current, every few seconds). On a shared
    store, a document added since is therefore read from the store when first cited, and kept; one that is
    not in the store either is a KeyError, as in a plain dict. The embedded index cannot change under its
    engine (a new generation is new files), so there a missing id is always a KeyError.
    """

    def __init__(self, store: Store, shared: bool) -> None:
        super().__init__((info.doc_id, info) for info in store.documents())
        self._store = store
        self._shared = shared

    def __missing__(self, doc_id: str) -> DocumentInfo:
        if not self._shared:
            raise KeyError(doc_id)
        try:
            info = self._store.document(doc_id)
        except UnknownDocumentError:
            raise KeyError(doc_id) from None
        self[doc_id] = info
        return info


class QuoteEngine:
    """Answers questions with verbatim, cited passages from one index.

    Build with `QuoteEngine.open(settings)`; safe to share between threads.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        reranker=None,
        listing: frozenset | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # The corpus as it was when this engine's index was last brought up to date (see is_current).
        if settings.store is not None:  # a shared store follows its own ingest, not this machine's corpus folder
            listing = frozenset()
        self._listing = corpus_listing(settings.corpus_dir) if listing is None else listing
        self.embedder = embedder
        self.reranker = reranker
        scale = dense_scale(settings.model)
        self.searcher = Searcher(
            store,
            embedder,
            settings.threshold,
            reranker,
            settings.confident_relevance,
            settings.cjk_threshold,
            cross_threshold=scale.cross_threshold,
            dense_weight=scale.dense_weight,
            hybrid_weight=scale.hybrid_weight,
        )
        self._documents = DocumentCatalog(store, shared=settings.store is not None)
        self._steerer: Steerer | None = None
        self.checker = QuoteChecker(store, self.searcher, self._documents, uploaded=self._uploaded_ids())

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        build: bool = False,
        progress: ProgressCallback | None = None,
        reranker=None,
        notice: Notice | None = None,
        repair: bool = True,
    ) -> QuoteEngine:
        """Load the index and the reranker; with build=True, first build or update the index if missing or stale.

        With build and `repair`, a damaged index is rebuilt (`notice` is told, in one line); without
        `repair` the damage is raised, for the caller to offer the rebuild. `reranker` reuses an
        already loaded model; by default the one settings.reranker names is loaded.
        Raises CorpusError when the index was built from another corpus than settings.corpus_dir (and,
        with build, when the corpus is missing or unreadable), IndexMissingError (without build),
        IndexCorruptError (without build or repair), RerankerError (a missing or damaged model file).
        """
        settings = settings or Settings()
        if settings.store is not None:
            return cls._open_shared(settings, embedder, build, progress, reranker, notice)
        check_corpus(settings)
        reranker = reranker or settings.load_reranker()
        embedder = embedder or settings.embedder()
        listing = corpus_listing(settings.corpus_dir)  # before updating: a change from now on is seen later
        if build:
            try:
                stale = stale_reason(settings, embedder) is not None
            except IndexCorruptError:
                if not repair:
                    raise
                stale = True
            if stale:
                ingest(settings, embedder, progress, notice)
        try:
            index = Index.load(settings.index_dir)
        except IndexCorruptError:
            if not (build and repair):
                raise
            ingest(settings, embedder, progress, notice)  # damage only reading the files could see: rebuild
            index = Index.load(settings.index_dir)
        return cls(settings, index, embedder, reranker, listing)

    @classmethod
    def _open_shared(cls, settings, embedder, build, progress, reranker, notice) -> QuoteEngine:
        """An engine on the PostgreSQL store settings.store. It is only read: `python -m assistant ingest
        --store` writes it. With build, a store that holds no index yet is first built from settings.corpus_dir
        (what a first `make run-postgres` does); one that exists is never ingested into here."""
        from assistant.pgingest import ingest_postgres
        from assistant.pgstore import PostgresStore

        reranker = reranker or settings.load_reranker()
        embedder = embedder or settings.embedder()
        label = model_label(embedder.name)
        try:
            store = PostgresStore.open(settings.store, label, embedder.dimension)
        except IndexMissingError:
            if not build:
                raise
            check_corpus(settings)
            ingest_postgres(settings, embedder, progress, notice)
            store = PostgresStore.open(settings.store, label, embedder.dimension)
        return cls(settings, store, embedder, reranker, frozenset())

    def is_current(self) -> bool:
        """Whether this engine still serves the newest index of an unchanged corpus.

        Cheap (stat calls only): for a server to ask every few seconds. False when another process
        wrote a new index generation, the index files changed or were found damaged, or a corpus
        file was added, removed or edited.
        """
        if self.settings.store is not None:
            return self.store.is_current()
        return self.store.is_current() and corpus_listing(self.settings.corpus_dir) == self._listing

    def pending_changes(self) -> tuple[int, int] | None:
        """(added or changed, removed): corpus files that differ from when this engine's index was last
        brought up to date (stat calls only), for a server to say what an update is about; None when
        that is not known (after forget_corpus)."""
        if self.settings.store is not None:
            return (0, 0)  # a shared store changes by its own ingest: the page says a newer index is loading
        if not self._listing:
            return None
        before = {path: (size, mtime) for path, size, mtime in self._listing}
        now = {path: (size, mtime) for path, size, mtime in corpus_listing(self.settings.corpus_dir)}
        changed = sum(1 for path, stat in now.items() if before.get(path) != stat)
        return changed, len(before.keys() - now.keys())

    def forget_corpus(self) -> None:
        """Treat the corpus as not yet compared with the index: is_current() is then False and the next
        refresh() checks the index against the corpus files. For an engine opened without build, whose
        index may be stale, so that a server can update it in the background instead of before serving."""
        self._listing = frozenset()

    def refresh(self, progress: ProgressCallback | None = None, notice: Notice | None = None) -> QuoteEngine:
        """This engine when nothing changed; else an engine on the newest index, first updated from its corpus.

        A damaged index is not rebuilt here. Raises IndexCorruptError (the message names the file),
        CorpusError (the corpus folder is gone or has no readable document), IndexBusyError.
        """
        if self.settings.store is not None:
            if self.store.is_current():
                return self
            return QuoteEngine.open(self.settings, self.embedder, reranker=self.reranker)
        listing = corpus_listing(self.settings.corpus_dir)
        if self.store.is_current():
            if listing == self._listing:
                return self
            if stale_reason(self.settings, self.embedder) is None:  # touched or copied over, but the same
                self._listing = listing
                return self
        return QuoteEngine.open(
            self.settings,
            self.embedder,
            build=True,
            progress=progress,
            reranker=self.reranker,
            notice=notice,
            repair=False,
        )

    def ask(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        previous: str | None = None,
        strict: bool = False,
        mode: str | None = None,
        steer: bool = True,
    ) -> Answer:
        """Quote the passages that answer a question.

        `previous` is the question before it in a conversation, used when this one
        is a short follow-up. With `steer`, people and dates the question names restrict the
        search (assistant/steering.py); the answer says so in `restricted_to`, and when nothing
        within them answers, the whole collection is searched and `restriction_note` says that. When
        nothing there answers either, the closest passages shown are those within the restriction. A date
        no document is from restricts nothing; `restriction_note` says so too.
        `mode` is "reranked" (the default with a reranker), "hybrid" (the default without), or a
        baseline, "dense" or "keyword". Raises QuestionError for an empty or too long question and
        ValueError for a top_k outside 1..100.
        """
        parsed = parse_question(question)
        previous = previous if previous and is_follow_up(parsed.text) else None  # only a follow-up carries it
        searched = self._searched(parsed.text, parsed.phrases, previous)
        steering = self.steerer.read(parsed.text) if steer else Steering()
        steered = _with_steering(filters or Filters(), steering)
        search = partial(self.searcher.search, top_k=top_k, mode=mode, reporters=self._reporters(parsed.text, steering))

        def run(question: Question) -> tuple[SearchResult, str | None, str | None]:
            if steered is None:
                return search(question, filters=filters), None, None
            return self._steered_search(search, steering, steered, question, previous, filters)

        result, restricted_to, note = run(searched)
        if not result.hits and any(is_quotation(phrase) for phrase in searched.phrases):
            # A quotation remembered with a word or two wrong holds no exact phrase: its closest passages are
            # what the reader is looking for (claims set: 8 of 8 near-quotes found nothing). A short phrase
            # ("genocide convention") stays a constraint: that nothing holds it is the answer.
            result, restricted_to, loose_note = run(replace(searched, phrases=()))
            quoted = ", ".join(f'"{phrase}"' for phrase in searched.phrases)
            inexact = (
                f"No passage holds the exact words {quoted}, so they were searched for as words; "
                "check a quotation to see what differs."
            )
            note = f"{inexact} {loose_note}" if loose_note else inexact
        if steering.unplaced:
            unplaced = (
                f"No document in the collection is from {steering.unplaced}, so that date was searched for as words."
            )
            note = f"{unplaced} {note}" if note else unplaced
        answer = build_answer(parsed.text, result, self._documents, self._sentence_scores, strict=strict)
        # What was searched is said only for a follow-up, as the whole question read with the one before it:
        # the text searched within a restriction leaves out the names and dates that made it, and is not shown.
        searched_for = searched.text if previous else None
        return replace(answer, restricted_to=restricted_to, restriction_note=note, searched_for=searched_for)

    def _steered_search(
        self,
        search: Callable[..., SearchResult],
        steering: Steering,
        steered: Filters,
        searched: Question,
        previous: str | None,
        filters: Filters | None,
    ) -> tuple[SearchResult, str | None, str | None]:
        """The search within the question's restriction, else the whole collection's when that answers:
        (result, the restriction applied or None, the note saying what was done or None).

        `search(question, filters=...)` is the searcher's search with this question's settings."""
        # Within the restriction, the names and dates that made it only pull towards passages that
        # mention them: search for the rest of the question (briefings: top-1 0.587 -> 0.673).
        has_rest = steering.topic and steering.rest
        within = self._searched(steering.rest, searched.phrases, previous) if has_rest else searched
        result = search(within, filters=steered)
        if not steering.topic:
            result = by_named(result)
        if result.answered:
            return result, steering.description, None
        everywhere = search(searched, filters=filters)
        if everywhere.answered or not result.hits:
            note = f"Nothing from {steering.description} answers this question, so the whole collection was searched."
            return everywhere, None, note
        # The closest passages within what the question asked for: the whole collection's closest only
        # share its names and dates (on the briefings, bare date lines).
        note = (
            f"Nothing from {steering.description} answers this question, nor anything in the whole "
            f"collection; the closest passages shown are from {steering.description}."
        )
        return result, None, note

    def _reporters(self, question: str, steering: Steering) -> tuple[str, ...]:
        """The speaker values of reporters' turns, to rank below the officials' (they may still answer); none when
        the question asks what a reporter asked, or names one of them as its speaker ("According to China
        Daily")."""
        reporters = self.steerer.reporter_values
        if asks_about_reporters(question) or set(steering.people) & set(reporters):
            return ()
        return reporters

    @staticmethod
    def _searched(text: str, phrases: tuple[str, ...], previous: str | None) -> Question:
        """The question as searched: with the previous question before it when there is one (a follow-up),
        within the length limit (the context is trimmed), keeping only this question's "phrases"."""
        if not previous:
            return Question(text, phrases)
        room = MAX_QUESTION_CHARS - len(text) - 1
        context = " ".join(previous.split())[-room:] if room > 0 else ""
        return Question(f"{context} {text}".strip(), phrases)

    def _uploaded_ids(self) -> frozenset[str]:
        """The doc_ids of the documents the upload register lists (none when it cannot be read)."""
        try:
            uploads = load_uploads(self.settings.corpus_dir)
        except CorpusError:
            return frozenset()
        corpus = Path(self.settings.corpus_dir).resolve()
        return frozenset(
            info.doc_id
            for info in self._documents.values()
            if Path(info.path).resolve().is_relative_to(corpus)
            and Path(info.path).resolve().relative_to(corpus).as_posix() in uploads
        )

    @property
    def steerer(self) -> Steerer:
        """Reads people and dates in questions against this index's speakers, titles and dates (built once)."""
        if self._steerer is None:
            documents = self._documents.values()
            dates = [d.metadata.date for d in documents if d.metadata.date]
            titles = [d.metadata.title for d in documents]
            self._steerer = Steerer(self.store.people(), titles, dates, self.store.questioners())
        return self._steerer

    def check(self, quotation: str, speaker: str | None = None, date: str | None = None) -> CheckResult:
        """Whether a quotation is in the corpus verbatim, altered, or not at all; and, given who said it
        and when (ISO date), whether the record agrees.

        Raises QuotationError for an empty or too long quotation, or a date not written YYYY-MM-DD.
        """
        return self.checker.check(quotation, Claim(speaker, date))

    def check_paste(self, text: str, speaker: str | None = None, date: str | None = None) -> PasteCheck:
        """Check a pasted text of any length (paste.check_paste): markup removed, cut at MAX_PASTE_CHARS,
        one verdict for a sentence or a verbatim passage, else one per sentence.

        Raises QuotationError for a text with no word, or a date not written YYYY-MM-DD.
        """
        return check_paste(self.checker, text, Claim(speaker, date))

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents with their metadata and passage counts."""
        return list(self._documents.values())

    def document(self, doc_id: str) -> DocumentView:
        """A document's metadata, text and passages. Raises UnknownDocumentError."""
        try:
            info = self._documents[doc_id]
        except KeyError:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.") from None
        return DocumentView(info, self.store.document_text(doc_id), self.store.document_passages(doc_id))

    def neighbours(self, doc_id: str, start: int) -> tuple[Passage | None, Passage | None]:
        """The passages just before and after the one starting at `start` in a document."""
        passages = self.store.document_passages(doc_id)
        for i, passage in enumerate(passages):
            if passage.start == start:
                return (passages[i - 1] if i > 0 else None, passages[i + 1] if i + 1 < len(passages) else None)
        return None, None

    def people(self) -> list[str]:
        """Every author and speaker across documents, each person once (not each label), for filters."""
        return sorted(self.store.authors() | set(self.store.people()))

    def update(
        self, progress: ProgressCallback | None = None, notice: Notice | None = None
    ) -> tuple[IngestReport, QuoteEngine]:
        """Ingest changes in the corpus (rebuilding a damaged index); return the report and an engine on it."""
        if self.settings.store is not None:
            from assistant.pgingest import ingest_postgres

            report = ingest_postgres(self.settings, self.embedder, progress, notice)
            return report, QuoteEngine.open(self.settings, self.embedder, reranker=self.reranker)
        listing = corpus_listing(self.settings.corpus_dir)
        report = ingest(self.settings, self.embedder, progress, notice)
        index = Index.load(self.settings.index_dir)
        return report, QuoteEngine(self.settings, index, self.embedder, self.reranker, listing)

    def _sentence_scores(self, question: str, sentences: list[str]) -> list[float]:
        query = self.embedder.encode_queries([question])[0]
        return list(np.asarray(self.embedder.encode(sentences) @ query, dtype=float))


def _with_steering(filters: Filters, steering: Steering) -> Filters | None:
    """The filters with the question's people and dates added; None when that restricts nothing more.

    People the question has spoken to restrict the documents to those they speak in. The user's own
    choices win: people or documents chosen in the filters are not replaced, nor a chosen date range.
    """
    if not steering.active:
        return None
    people = filters.people or steering.people
    date_from = filters.date_from or steering.date_from
    date_to = filters.date_to or steering.date_to
    spoken_in = () if filters.doc_ids else steering.addressed
    steered = replace(filters, people=tuple(people), spoken_in=spoken_in, date_from=date_from, date_to=date_to)
    return steered if steered != filters else None
