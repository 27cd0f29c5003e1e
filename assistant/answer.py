"""Answers: verbatim quotes with highlights and citations, worded as what each source says."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from assistant.corpus import Metadata
from assistant.index import DocumentInfo
from assistant.keywords import stem, tokens
from assistant.passages import Passage, Span
from assistant.search import CONTINUES, Hit, Question, SearchResult


@dataclass(frozen=True)
class Quote:
    """One verbatim passage with where it comes from.

    `text == document_text[start:end]`, and the highlight is a sub-range of it.
    `speaker` is who says it ('Jen Psaki', 'a reporter'), `speaker_label` the transcript's label
    for them exactly as written ('MS. PSAKI', 'Q'); `url` the document's source, if known.
    `is_match` is False for a closest passage shown when nothing answers (`matched_by` None).
    """

    doc_id: str
    path: str
    title: str
    author: str | None
    speaker: str | None
    date: str | None
    paragraph: int
    start: int
    end: int
    text: str
    highlight_start: int
    highlight_end: int
    score: float
    citation: str
    speaker_label: str | None = None
    url: str | None = None
    #: What `score` is: "probability" (the reranker's calibrated probability that the passage answers) or
    #: "cosine" (the passage's cosine to the question, without a reranker).
    score_kind: str = "cosine"
    #: Why the passage counts as an answer (search.Hit.matched_by): "model", "meaning" (its cosine), "phrase" or
    #: "named" (within the restriction a who-and-when question asks for); None when it does not.
    matched_by: str | None = None

    @property
    def is_match(self) -> bool:
        """Whether the passage answers the question (for one reason, `matched_by`), not just the closest."""
        return self.matched_by is not None

    @property
    def source(self) -> str:
        """Who is quoted: the speaker when one person speaks, else the author institution."""
        return self.speaker or self.author or self.title

    @property
    def attribution(self) -> str:
        """The line that presents the quote as its source's words, never the assistant's (no link)."""
        link = f", {self.url}"
        citation = self.citation[: -len(link)] if self.url and self.citation.endswith(link) else self.citation
        return f"According to {citation}:"

    @property
    def highlight(self) -> str:
        return self.text[self.highlight_start - self.start : self.highlight_end - self.start]

    def to_json(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "path": self.path,
            "title": self.title,
            "author": self.author,
            "speaker": self.speaker,
            "speaker_label": self.speaker_label,
            "date": self.date,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "highlight": {"start": self.highlight_start, "end": self.highlight_end},
            "score": round(self.score, 4),
            "score_kind": self.score_kind,
            "matched_by": self.matched_by,
            "citation": self.citation,
            "url": self.url,
        }


@dataclass(frozen=True)
class Answer:
    """A question and the quotes that answer it (or, when `answered` is False, the closest ones)."""

    question: str
    answered: bool
    quotes: list[Quote] = field(default_factory=list)
    message: str | None = None
    #: The question as searched when it was read as a follow-up (the previous question, then this one); else None.
    searched_for: str | None = None
    #: The restriction read from the question and applied ('Jen Psaki, 4 March 2021'), if any.
    restricted_to: str | None = None
    #: Said when the question named people or dates but nothing from them answered, so all was searched.
    restriction_note: str | None = None

    @property
    def summary(self) -> str:
        """E.g. '3 passages from 2 documents'."""
        shown = [q for q in self.quotes if q.is_match] if self.answered else []
        documents = len({q.doc_id for q in shown})
        return f"{plural(len(shown), 'passage')} from {plural(documents, 'document')}"

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answered": self.answered,
            "restricted_to": self.restricted_to,
            "restriction_note": self.restriction_note,
            "quotes": [quote.to_json() for quote in self.quotes],
        }


def build_answer(
    question: str,
    result: SearchResult,
    documents: dict[str, DocumentInfo],
    sentence_scorer=None,
    strict: bool = False,
) -> Answer:
    """Turn search hits into quotes with highlights and citations.

    `sentence_scorer(question, [sentence texts]) -> [scores]` breaks ties when no
    sentence shares a word with the question (the engine passes a dense scorer).
    With strict, passages that are not matches are left out.
    """
    hits = [h for h in result.hits if h.is_match] if strict else result.hits
    kind = "probability" if result.mode == "reranked" else "cosine"
    quotes = [
        replace(_quote(hit, documents[hit.passage.doc_id], result.question, sentence_scorer), score_kind=kind)
        for hit in hits
    ]
    return Answer(question, result.answered, quotes, result.reason, result.question.text)


def highlight_span(passage: Passage, question: Question, sentence_scorer=None, answer_span: Span | None = None) -> Span:
    """The best-matching sentence (or run of sentences) of a passage, in document offsets.

    A sentence holding a quoted phrase wins; then the sentence the reranker found answers
    (answer_span); otherwise the one sharing the most (stemmed, rarer-is-better) words with
    the question; when none shares a word, the sentence_scorer decides, else the first sentence.
    """
    sentences = list(passage.sentences) or [Span(passage.start, passage.end)]
    texts = [passage.text[s.start - passage.start : s.end - passage.start] for s in sentences]
    if question.phrases:
        phrase_span = _phrase_span(passage, question.phrases)
        if phrase_span is not None:
            return phrase_span
    if answer_span is not None and passage.start <= answer_span.start <= answer_span.end <= passage.end:
        return answer_span
    scores = _lexical_scores(texts, question)
    if max(scores) <= 0 and sentence_scorer is not None and len(texts) > 1:
        scores = list(sentence_scorer(question.text, texts))
        best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
        if best + 1 < len(sentences) and CONTINUES.match(texts[best + 1]):
            # Chosen by meaning alone (a Chinese question over English text: no shared words), the next sentence
            # that continues this one ("They are about ...") is part of the same statement, as in best_sentences.
            return Span(sentences[best].start, sentences[best + 1].end)
        return sentences[best]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    return sentences[best]


def citation_for(document: DocumentInfo, passage: Passage) -> str:
    """Who, in which document, when, which paragraph, and the source link when there is one.

    E.g. 'Zhao Lijian, Ministry of Foreign Affairs regular press conference, 28 July 2022, ¶3', or
    'Jen Psaki (MS. PSAKI), Press Briefing by Press Secretary Jen Psaki, March 2, 2021, ¶12, https://...':
    a speaker resolved from a transcript's label shows the label as written; a title that already gives
    the document's date ("March 2, 2021") is not followed by it again.
    """
    meta = document.metadata
    who = passage.cited_speaker or meta.author
    what = meta.citation_title or meta.title
    when = None if names_date(what, meta.date) else format_date(meta.date) or "undated"
    parts = [who, what if what != who else None, when, f"¶{passage.paragraph}", meta.url]
    return ", ".join(part for part in parts if part)


def names_date(title: str | None, iso: str | None) -> bool:
    """Whether the title gives this day already: 'March 2, 2021', 'Mar. 2nd, 2021', '2 March 2021' or '2021-03-02'."""
    if not title or not iso or len(iso) != 10:
        return False
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return False
    month = rf"(?:{day:%B}|{day:%b}\.?)"
    number = rf"0?{day.day}(?:st|nd|rd|th)?"
    forms = [rf"{month}\s+{number},?\s+{day.year}", rf"{number}\s+{month},?\s+{day.year}", re.escape(iso)]
    return any(re.search(rf"\b{form}\b", title, re.IGNORECASE) for form in forms)


def metadata_rows(metadata: Metadata) -> list[tuple[str, str]]:
    """A document's known metadata as (label, readable value) pairs, for the CLI and the app."""
    rows = [
        ("Author", metadata.author),
        ("Speaker", metadata.speaker),
        ("Kind", metadata.kind),
        ("Date", format_date(metadata.date)),
        ("Place", metadata.place),
        ("Reference", metadata.reference),
        ("Published", metadata.published_time),
        ("Source", metadata.url),
    ]
    return [(label, value) for label, value in rows if value]


def format_date(iso: str | None) -> str | None:
    """'2023-09-14' -> '14 September 2023'; partial dates as far as they go."""
    if not iso:
        return None
    try:
        if len(iso) == 10:
            day = dt.date.fromisoformat(iso)
            return f"{day.day} {day:%B %Y}"
        if len(iso) == 7:
            return dt.date.fromisoformat(iso + "-01").strftime("%B %Y")
    except ValueError:
        return iso
    return iso


def _quote(hit: Hit, document: DocumentInfo, question: Question, sentence_scorer) -> Quote:
    passage = hit.passage
    highlight = highlight_span(passage, question, sentence_scorer, hit.answer_span)
    return Quote(
        doc_id=passage.doc_id,
        path=document.path,
        title=document.metadata.title,
        author=document.metadata.author,
        speaker=passage.speaker,
        date=document.metadata.date,
        paragraph=passage.paragraph,
        start=passage.start,
        end=passage.end,
        text=passage.text,
        highlight_start=highlight.start,
        highlight_end=highlight.end,
        score=hit.relevance,
        citation=citation_for(document, passage),
        matched_by=hit.matched_by,
        speaker_label=passage.speaker_label,
        url=document.metadata.url,
    )


def _lexical_scores(texts: list[str], question: Question) -> list[float]:
    terms = {stem(t) for t in question.terms}
    scores = []
    for text in texts:
        words = set(tokens(text))
        scores.append(sum(1.0 + 0.1 * min(len(t), 10) for t in terms & words))
    return scores


def _phrase_span(passage: Passage, phrases: tuple[str, ...]) -> Span | None:
    """The sentences covering the first occurrence of a quoted phrase in the passage."""
    for phrase in phrases:
        pattern = r"\s+".join(re.escape(word) for word in phrase.split())
        found = re.search(pattern, passage.text, re.IGNORECASE)
        if found:
            start, end = passage.start + found.start(), passage.start + found.end()
            covering = [s for s in passage.sentences if s.end > start and s.start < end]
            if covering:
                return Span(covering[0].start, covering[-1].end)
            return Span(start, end)
    return None


def plural(count: int, noun: str) -> str:
    """'1 passage', '2 passages', '20,145 passages': a count with its noun, for every message that counts."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
