"""The engine: one object that opens the index and answers questions; the CLI and the app use only this."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from assistant.answer import Answer, build_answer
from assistant.check import CheckResult, Claim, QuoteChecker
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.errors import IndexCorruptError, UnknownDocumentError
from assistant.index import DocumentInfo, Index, IngestReport, ProgressCallback, ingest, is_stale
from assistant.passages import Passage
from assistant.search import MAX_QUESTION_CHARS, Filters, Question, Searcher, contextualize, parse_question
from assistant.steering import Steerer, Steering


@dataclass(frozen=True)
class DocumentView:
    """A whole document for reading: metadata, exact text and its passages."""

    info: DocumentInfo
    text: str
    passages: list[Passage]


class QuoteEngine:
    """Answers questions with verbatim, cited passages from one index.

    Build with `QuoteEngine.open(settings)`; safe to share between threads.
    """

    def __init__(self, settings: Settings, index: Index, embedder: Embedder, reranker=None) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.searcher = Searcher(index, embedder, settings.threshold, reranker)
        self._documents = {info.doc_id: info for info in index.documents()}
        self._steerer: Steerer | None = None
        self.checker = QuoteChecker(index, self.searcher, self._documents)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        build: bool = False,
        progress: ProgressCallback | None = None,
        reranker=None,
    ) -> QuoteEngine:
        """Load the index and the reranker; with build=True, first build or update the index if missing or stale.

        `reranker` reuses an already loaded model; by default the one settings.reranker names is loaded.
        Raises IndexMissingError / IndexCorruptError (without build), CorpusError (with build),
        RerankerError (a missing or damaged model file).
        """
        settings = settings or Settings()
        reranker = reranker or settings.load_reranker()
        embedder = embedder or settings.embedder()
        if build and is_stale(settings, embedder):
            ingest(settings, embedder, progress)
        try:
            index = Index.load(settings.index_dir)
        except IndexCorruptError:
            if not build:
                raise
            ingest(settings, embedder, progress)  # damage only loading could see: rebuild
            index = Index.load(settings.index_dir)
        return cls(settings, index, embedder, reranker)

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
        within them answers, the whole collection is searched and `restriction_note` says that.
        `mode` is "reranked" (the default with a reranker), "hybrid" (the default without), or a
        baseline, "dense" or "keyword". Raises QuestionError for an empty or too long question and
        ValueError for a top_k outside 1..100.
        """
        parsed = parse_question(question)
        searched = parsed
        if previous:
            # Search the follow-up with the previous question as context, but keep only this
            # question's "phrases", and stay within the length limit by trimming the context.
            room = MAX_QUESTION_CHARS - len(parsed.text) - 1
            context = " ".join(previous.split())[-room:] if room > 0 else ""
            searched = Question(contextualize(parsed.text, context).strip(), parsed.phrases)
        steering = self.steerer.read(parsed.text) if steer else Steering()
        steered = _with_steering(filters or Filters(), steering)
        restricted_to = note = None
        if steered is not None:
            result = self.searcher.search(searched, top_k=top_k, filters=steered, mode=mode)
            if result.answered:
                restricted_to = steering.description
            else:
                note = (
                    f"Nothing from {steering.description} answers this question, so the whole collection was searched."
                )
                result = self.searcher.search(searched, top_k=top_k, filters=filters, mode=mode)
        else:
            result = self.searcher.search(searched, top_k=top_k, filters=filters, mode=mode)
        answer = build_answer(parsed.text, result, self._documents, self._sentence_scores, strict=strict)
        return replace(answer, restricted_to=restricted_to, restriction_note=note)

    @property
    def steerer(self) -> Steerer:
        """Reads people and dates in questions against this index's speakers, titles and dates (built once)."""
        if self._steerer is None:
            documents = self._documents.values()
            years = [int(d.metadata.date[:4]) for d in documents if d.metadata.date and d.metadata.date[:4].isdigit()]
            self._steerer = Steerer(self.index.people(), [d.metadata.title for d in documents], years)
        return self._steerer

    def check(self, quotation: str, speaker: str | None = None, date: str | None = None) -> CheckResult:
        """Whether a quotation is in the corpus verbatim, altered, or not at all; and, given who said it
        and when (ISO date), whether the record agrees.

        Raises QuotationError for an empty or too long quotation, or a date not written YYYY-MM-DD.
        """
        return self.checker.check(quotation, Claim(speaker, date))

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents with their metadata and passage counts."""
        return list(self._documents.values())

    def document(self, doc_id: str) -> DocumentView:
        """A document's metadata, text and passages. Raises UnknownDocumentError."""
        if doc_id not in self._documents:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        return DocumentView(
            self._documents[doc_id], self.index.document_text(doc_id), self.index.document_passages(doc_id)
        )

    def neighbours(self, doc_id: str, start: int) -> tuple[Passage | None, Passage | None]:
        """The passages just before and after the one starting at `start` in a document."""
        passages = self.index.document_passages(doc_id)
        for i, passage in enumerate(passages):
            if passage.start == start:
                return (passages[i - 1] if i > 0 else None, passages[i + 1] if i + 1 < len(passages) else None)
        return None, None

    def people(self) -> list[str]:
        """Every author and speaker across documents, each person once (not each label), for filters."""
        authors = {row[0] for row in self.index.query("SELECT author FROM documents WHERE author IS NOT NULL")}
        return sorted(authors | set(self.index.people()))

    def update(self, progress: ProgressCallback | None = None) -> tuple[IngestReport, QuoteEngine]:
        """Ingest changes in the corpus; return the report and an engine on the new index."""
        report = ingest(self.settings, self.embedder, progress)
        return report, QuoteEngine(self.settings, Index.load(self.settings.index_dir), self.embedder, self.reranker)

    def _sentence_scores(self, question: str, sentences: list[str]) -> list[float]:
        vectors = self.embedder.encode([question, *sentences])
        return list(np.asarray(vectors[1:] @ vectors[0], dtype=float))


def _with_steering(filters: Filters, steering: Steering) -> Filters | None:
    """The filters with the question's people and dates added; None when that restricts nothing more.

    The user's own choices win: people chosen in the filters are not replaced, nor a chosen date range.
    """
    if not steering.active:
        return None
    people = filters.people or steering.people
    date_from = filters.date_from or steering.date_from
    date_to = filters.date_to or steering.date_to
    steered = replace(filters, people=tuple(people), date_from=date_from, date_to=date_to)
    return steered if steered != filters else None
