"""Check a pasted text, however long: markup removed, cut at MAX_PASTE_CHARS, then sentence by sentence.

A paste of one sentence, or one the corpus has verbatim as a whole (one passage, or places
joined by ellipses), gets one verdict, as check.QuoteChecker gives it. Any other paste is cut
into sentences (passages.sentence_spans: Latin and Chinese 。！？；) and each is checked on its
own; sentences found verbatim one right after the other in one document, by one speaker, are
joined into one verbatim part whose match is that whole span of the document. So a paste of a
whole statement reads as one verbatim passage, and an edited one as its verbatim stretches
with the altered and made-up sentences between them.

HTML tags (read with BeautifulSoup, as corpus.py reads HTML documents) and entities, and
Markdown quote markers and emphasis are removed before matching, and the result says so. The
text as pasted is checked too when the markup-free text is not all verbatim, and kept when it
matches better (a Markdown document in the corpus has its asterisks in its text). Either way
every match is `document_text[start:end]`: markup is only ever removed from the quotation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.check import (
    MAX_QUOTATION_CHARS,
    VERDICT_LABELS,
    VERDICTS,
    CheckMatch,
    CheckResult,
    Claim,
    QuoteChecker,
)
from assistant.corpus import HTML_BLOCKS
from assistant.errors import QuotationError
from assistant.keywords import WORD
from assistant.passages import Span, paragraph_spans, sentence_spans

#: The most characters (after markup is removed) checked from one paste; a longer one is cut at the end of
#: its last whole sentence before the limit, and the result says so. About five pages, and at most ~200
#: sentence checks (~10 s with the real model).
MAX_PASTE_CHARS = 20_000
#: The overall verdict of a paste whose sentences do not all have the same one.
MIXED = "mixed"
LABELS = {**VERDICT_LABELS, MIXED: "Mixed"}
HTML_TAG = re.compile(r"<(?:[A-Za-z][\w:-]*(?:\s[^<>]*)?/?|/[A-Za-z][\w:-]*\s*|!--.*?--)>", re.DOTALL)
HTML_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# "> " (or "> > ") opening a line: a Markdown block quote.
QUOTE_MARKERS = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+", re.MULTILINE)
# Markdown emphasis: *, **, ***, _, __, ___ opening a word (after no word character) or closing one (before
# none), and ** inside a word; a lone * or _ between spaces, or the _ of snake_case, is text.
EMPHASIS = re.compile(
    r"(?<![\w*_])(?:\*{1,3}|_{1,3})(?=[^\s*_])|(?<=[^\s*_])(?:\*{1,3}|_{1,3})(?![\w*_])|(?<=\w)\*\*(?=\w)"
)
_UNSEEN_HTML = ["script", "style", "noscript", "template", "head"]


@dataclass(frozen=True)
class PastePart:
    """One checked part of a paste: a sentence, or sentences found verbatim one after the other.

    `start` and `end` are offsets into PasteCheck.text (result.text is that span, trimmed);
    `first` is the number of its first sentence (from 1) and `sentences` how many it holds.
    """

    start: int
    end: int
    first: int
    sentences: int
    result: CheckResult

    @property
    def label(self) -> str:
        """'Sentence 3' or 'Sentences 3–14'."""
        if self.sentences == 1:
            return f"Sentence {self.first}"
        return f"Sentences {self.first}–{self.first + self.sentences - 1}"

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "first": self.first, "sentences": self.sentences}


@dataclass(frozen=True)
class PasteCheck:
    """A pasted text as checked (markup removed, cut at MAX_PASTE_CHARS), its parts in order, and notes
    on what was done to it before matching (markup removed, the text cut)."""

    text: str
    parts: tuple[PastePart, ...]
    claim: Claim = Claim()
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, result: CheckResult) -> PasteCheck:
        """A quotation checked whole, as a paste of one part."""
        sentences = max(1, len(paste_sentences(result.text)))
        return cls(result.text, (PastePart(0, len(result.text), 1, sentences, result),), result.claim)

    @property
    def single(self) -> CheckResult | None:
        """The one result when the paste was checked as a whole, else None."""
        return self.parts[0].result if len(self.parts) == 1 else None

    @property
    def sentences(self) -> int:
        return sum(part.sentences for part in self.parts)

    @property
    def verdict(self) -> str:
        """One of check.VERDICTS when every part has it, else MIXED."""
        verdicts = {part.result.verdict for part in self.parts}
        return verdicts.pop() if len(verdicts) == 1 else MIXED

    @property
    def label(self) -> str:
        return self.single.label if self.single else LABELS[self.verdict]

    @property
    def status(self) -> str:
        """What the overall badge shows (a CSS class): the single result's status, else the verdict."""
        return self.single.status if self.single else self.verdict

    @property
    def misattributed(self) -> bool:
        return any(part.result.misattributed for part in self.parts)

    @property
    def score(self) -> float:
        """How much of the paste matches, 0-1: each part's best similarity (0 when not found), by length."""
        weights = [max(1, part.end - part.start) for part in self.parts]
        found = [_similarity(part.result) for part in self.parts]
        return sum(w * f for w, f in zip(weights, found)) / sum(weights)

    @property
    def counts(self) -> str:
        """E.g. '12 verbatim (as 2 passages), 1 altered, 3 not found' (sentences)."""
        described = []
        for verdict in VERDICTS:
            parts = [part for part in self.parts if part.result.verdict == verdict]
            number = sum(part.sentences for part in parts)
            if not number:
                continue
            joined = len(parts) < number
            runs = f" (as {len(parts)} passage{'s' if len(parts) > 1 else ''})" if joined else ""
            described.append(f"{number} {VERDICT_LABELS[verdict].lower()}{runs}")
        return ", ".join(described)

    @property
    def finding(self) -> str:
        """What the verdict means: the one result's explanation, else how many sentences have which verdict."""
        if self.single:
            return self.single.explanation
        return f"{self.sentences} sentences, checked one by one: {self.counts}."

    @property
    def explanation(self) -> str:
        """The finding, then the notes (markup removed, text cut)."""
        return " ".join([self.finding, *self.notes])

    @property
    def summary(self) -> str:
        """The verdict in a sentence or two, e.g. 'Verbatim: these words are in the corpus. Markup removed ...'"""
        return f"{self.label}: {self.explanation}"

    def to_json(self) -> dict:
        """One result's JSON (with "notes") for a paste checked whole; else the overall verdict and each part."""
        if self.single:
            return {**self.single.to_json(), "notes": list(self.notes)}
        return {
            "text": self.text,
            "verdict": self.verdict,
            "misattributed": self.misattributed,
            "sentences": self.sentences,
            "notes": list(self.notes),
            "parts": [{**part.to_json(), **part.result.to_json()} for part in self.parts],
        }


def check_paste(checker: QuoteChecker, text: str, claim: Claim | None = None) -> PasteCheck:
    """Check a pasted text: whole when it is one sentence or verbatim as a whole, else sentence by sentence.

    Raises QuotationError when it is not text or holds no word.
    """
    if not isinstance(text, str):
        raise QuotationError("The quotation must be text.")
    claim = claim or Claim()
    pasted = text.strip()
    if not WORD.search(pasted):
        raise QuotationError("The quotation is empty. Paste the words you want to check.")
    cleaned, removed = strip_markup(pasted)
    if not removed or not WORD.search(cleaned):
        return _checked(checker, pasted, claim)
    without = _checked(checker, cleaned, claim, (f"Markup removed before matching: {', '.join(removed)}.",))
    if without.score == 1.0:
        return without
    as_pasted = _checked(checker, pasted, claim)
    return as_pasted if as_pasted.score > without.score else without


def strip_markup(text: str) -> tuple[str, tuple[str, ...]]:
    """The text without HTML tags, HTML entities (decoded), Markdown quote markers and emphasis; and what
    kinds of markup were removed (none: the text as it is)."""
    removed = []
    if HTML_TAG.search(text) or HTML_ENTITY.search(text):
        removed += ["HTML tags"] if HTML_TAG.search(text) else []
        removed += ["HTML entities decoded"] if HTML_ENTITY.search(text) else []
        text = html_text(text)
    if QUOTE_MARKERS.search(text):
        removed.append("Markdown > quote markers")
        text = QUOTE_MARKERS.sub("", text)
    if EMPHASIS.search(text):
        removed.append("Markdown emphasis (* and _)")
        text = EMPHASIS.sub("", text)
    return text.strip(), tuple(removed)


def html_text(html: str) -> str:
    """The visible text of HTML (entities decoded), a blank line around each block element as corpus.py
    reads HTML documents, and its whitespace otherwise as it is (matching ignores it)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for element in soup(_UNSEEN_HTML):
        element.decompose()
    for element in soup.find_all(HTML_BLOCKS):
        element.insert_before("\n\n")
        element.insert_after("\n\n")
    return soup.get_text()


def paste_sentences(text: str) -> list[Span]:
    """The sentences of a paste that hold a word: paragraph by paragraph, each cut by sentence_spans."""
    spans = [s for p in paragraph_spans(text) for s in sentence_spans(text, p.start, p.end)]
    return [span for span in spans if WORD.search(text, span.start, span.end)]


def cut_paste(text: str) -> tuple[str, str | None]:
    """The text up to MAX_PASTE_CHARS, cut at the end of its last whole sentence before the limit (of a
    sentence too long for one check, at a space; else at the limit), and the note saying so; the text
    itself and None when it fits."""
    if len(text) <= MAX_PASTE_CHARS:
        return text, None
    # A sentence is at most 1,000 characters (sentence_spans), so these are whole up to the limit.
    window = paste_sentences(text[: MAX_PASTE_CHARS + 1_000])
    cut = max((span.end for span in window if span.end <= MAX_PASTE_CHARS), default=MAX_PASTE_CHARS)
    note = (
        f"The text is {len(text):,} characters long and the limit is {MAX_PASTE_CHARS:,}: only its first "
        f"{cut:,} characters were checked, the rest ({len(text) - cut:,} characters) was not."
    )
    return text[:cut], note


def _checked(checker: QuoteChecker, text: str, claim: Claim, notes: tuple[str, ...] = ()) -> PasteCheck:
    text, cut = cut_paste(text)
    notes = (*notes, cut) if cut else notes
    sentences = paste_sentences(text) or [Span(0, len(text))]
    if len(text) <= MAX_QUOTATION_CHARS:
        whole = checker.check(text, claim)
        if len(sentences) == 1 or whole.verdict == "verbatim":
            return PasteCheck(whole.text, (PastePart(0, len(text), 1, len(sentences), whole),), claim, notes)
    results = [checker.check(text[s.start : s.end], claim) for s in sentences]
    return PasteCheck(text, tuple(_joined(checker, text, sentences, results, claim)), claim, notes)


def _joined(checker, text: str, sentences: list[Span], results: list[CheckResult], claim: Claim) -> list[PastePart]:
    """A part for each sentence, except that sentences verbatim one right after the other make one part.

    From the last sentence back, each verbatim match learns how many sentences follow on from it
    (`chain`) and which match of the next sentence continues it; then, from the first sentence on,
    a sentence starts at its match with the longest chain, and takes the sentences that continue it.
    """
    chain = [[1] * len(result.matches) for result in results]
    following: list[list[int | None]] = [[None] * len(result.matches) for result in results]
    for i in range(len(results) - 2, -1, -1):
        if results[i].verdict != "verbatim" or results[i + 1].verdict != "verbatim":
            continue
        for j, match in enumerate(results[i].matches):
            for k, after in enumerate(results[i + 1].matches):
                if chain[i + 1][k] + 1 > chain[i][j] and _follows(checker, match, after):
                    chain[i][j], following[i][j] = chain[i + 1][k] + 1, k
    parts, i = [], 0
    while i < len(results):
        result, span = results[i], sentences[i]
        best = max(range(len(result.matches)), key=chain[i].__getitem__, default=None)
        if result.verdict != "verbatim" or best is None or chain[i][best] == 1:
            parts.append(PastePart(span.start, span.end, i + 1, 1, result))
            i += 1
            continue
        last, k = i, best
        while following[last][k] is not None:
            last, k = last + 1, following[last][k]
        first_match, last_match = result.matches[best], results[last].matches[k]
        start, end = span.start, sentences[last].end
        match = checker.span_match(first_match.doc_id, first_match.start, last_match.end, text[start:end], claim)
        joined = CheckResult(text[start:end], "verbatim", (match,), claim)
        parts.append(PastePart(start, end, i + 1, last - i + 1, joined))
        i = last + 1
    return parts


def _follows(checker: QuoteChecker, match: CheckMatch, after: CheckMatch) -> bool:
    """Whether `after` starts where `match` ends in one document, by the same speaker, with only whitespace
    between them."""
    if after.doc_id != match.doc_id or after.start < match.end or after.speaker != match.speaker:
        return False
    return not checker.document_text(match.doc_id)[match.end : after.start].strip()


def _similarity(result: CheckResult) -> float:
    found = [match.similarity for match in result.matches if match.is_match]
    return max(found, default=0.0) if result.verdict != "not_found" else 0.0
