"""The engine: one object that opens the index and answers questions; the CLI and the app use only this."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.answer import Answer, build_answer
from assistant.check import CheckResult, Claim, QuoteChecker
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.errors import IndexCorruptError, UnknownDocumentError
from assistant.index import DocumentInfo, Index, IngestReport, ProgressCallback, ingest, is_stale
from assistant.passages import Passage
from assistant.search import MAX_QUESTION_CHARS, Filters, Question, Searcher, contextualize, parse_question


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

    def __init__(self, settings: Settings, index: Index, embedder: Embedder) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.searcher = Searcher(index, embedder, settings.threshold)
        self._documents = {info.doc_id: info for info in index.documents()}
        self.checker = QuoteChecker(index, self.searcher, self._documents)

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        build: bool = False,
        progress: ProgressCallback | None = None,
    ) -> QuoteEngine:
        """Load the index; with build=True, first build or update it if it is missing or stale.

        Raises IndexMissingError / IndexCorruptError (without build), CorpusError (with build).
        """
        settings = settings or Settings()
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
        return cls(settings, index, embedder)

    def ask(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        previous: str | None = None,
        strict: bool = False,
        mode: str = "hybrid",
    ) -> Answer:
        """Quote the passages that answer a question.

        `previous` is the question before it in a conversation, used when this one
        is a short follow-up. Raises QuestionError for an empty or too long question
        and ValueError for a top_k outside 1..100.
        """
        parsed = parse_question(question)
        searched = parsed
        if previous:
            # Search the follow-up with the previous question as context, but keep only this
            # question's "phrases", and stay within the length limit by trimming the context.
            room = MAX_QUESTION_CHARS - len(parsed.text) - 1
            context = " ".join(previous.split())[-room:] if room > 0 else ""
            searched = Question(contextualize(parsed.text, context).strip(), parsed.phrases)
        result = self.searcher.search(searched, top_k=top_k, filters=filters, mode=mode)
        answer = build_answer(parsed.text, result, self._documents, self._sentence_scores, strict=strict)
        return answer

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
        """Every author and speaker, for filters."""
        rows = self.index.query(
            "SELECT author FROM documents WHERE author IS NOT NULL UNION "
            "SELECT speaker FROM passages WHERE speaker IS NOT NULL"
        )
        return sorted(row[0] for row in rows)

    def update(self, progress: ProgressCallback | None = None) -> tuple[IngestReport, QuoteEngine]:
        """Ingest changes in the corpus; return the report and an engine on the new index."""
        report = ingest(self.settings, self.embedder, progress)
        return report, QuoteEngine(self.settings, Index.load(self.settings.index_dir), self.embedder)

    def _sentence_scores(self, question: str, sentences: list[str]) -> list[float]:
        vectors = self.embedder.encode([question, *sentences])
        return list(np.asarray(vectors[1:] @ vectors[0], dtype=float))
