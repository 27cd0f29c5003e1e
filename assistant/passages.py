"""Passages: paragraphs, speaker turns and sentences, as character offsets into the document text.

Nothing here copies or cleans text: every span is (start, end) into the document's text,
so `document.text[start:end] == passage.text` holds by construction, and is tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.config import PassageSettings
from assistant.corpus import Document

# A blank line (possibly holding spaces or tabs), with any line-ending convention.
PARAGRAPH_BREAK = re.compile(r"(?:\r\n|\r|\n)[ \t\f\v]*(?:(?:\r\n|\r|\n)[ \t\f\v]*)+")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Ends a line that closes a paragraph in one-paragraph-a-line documents.
CLOSING_PUNCTUATION = tuple('.!?:;)"”’»。！？')
# Sentence end: punctuation, optional closing quotes/brackets, then whitespace; or CJK full stop.
SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]+[」』”’）]*")
SPEAKER_LABEL = re.compile(r"(?P<name>[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,4}):[ \t]+\S")
ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "nos",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "u.s",
        "u.n",
        "u.k",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "art",
        "arts",
        "para",
        "paras",
        "h.e",
        "gen",
        "sen",
        "rep",
        "gov",
        "inc",
        "ltd",
        "co",
        "jr",
        "sr",
        "p",
        "pp",
        "vol",
        "cf",
        "fig",
        "approx",
        "dept",
    ]
)


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) in a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval and quotation: one paragraph, or a window of sentences of a long one.

    `paragraph` is the 1-based paragraph number in the document, for citations;
    `speaker` is who speaks in it (the turn's label in a transcript, else the
    document's speaker, else None); `sentences` are spans inside [start, end).
    """

    doc_id: str
    start: int
    end: int
    paragraph: int
    speaker: str | None
    text: str
    sentences: tuple[Span, ...]


def passages_for(document: Document, settings: PassageSettings | None = None) -> list[Passage]:
    """Cut a document into passages, in document order."""
    settings = settings or PassageSettings()
    text = document.text
    paragraphs = paragraph_spans(text, document.body_start)
    labels = [SPEAKER_LABEL.match(text, span.start) for span in paragraphs]
    is_transcript = sum(label is not None for label in labels) >= 2
    speaker = document.metadata.speaker
    passages = []
    for number, (span, label) in enumerate(zip(paragraphs, labels), start=1):
        if is_transcript and label is not None:
            speaker = label.group("name")
        sentences = sentence_spans(text, span.start, span.end, settings.max_chars)
        for window in _windows(sentences, settings.max_chars):
            start, end = window[0].start, window[-1].end
            passages.append(Passage(document.doc_id, start, end, number, speaker, text[start:end], tuple(window)))
    return passages


def paragraph_spans(text: str, start: int = 0) -> list[Span]:
    """Paragraphs of text[start:], trimmed of surrounding whitespace.

    Blank lines always separate paragraphs. In documents written one paragraph a line
    (most characters on lines over 100 characters), a line break after closing
    punctuation does too; short lines without it (an address block) stay together.
    """
    blocks = _split(text, start, len(text), PARAGRAPH_BREAK)
    if _one_paragraph_a_line(text, start):
        blocks = [piece for block in blocks for piece in _split_lines_after_punctuation(text, block)]
    return [trimmed for block in blocks if (trimmed := _trim(text, block.start, block.end))]


def sentence_spans(text: str, start: int, end: int, max_chars: int = 1000) -> list[Span]:
    """Sentences of text[start:end], trimmed; none longer than max_chars (cut at a space if any)."""
    sentences = []
    cursor = start
    for match in SENTENCE_END.finditer(text, start, end):
        if match.group().startswith(".") and _is_abbreviation(text, start, match.start()):
            continue
        if (span := _trim(text, cursor, match.end())) is not None:
            sentences.append(span)
        cursor = match.end()
    if (span := _trim(text, cursor, end)) is not None:
        sentences.append(span)
    return [piece for sentence in sentences for piece in _cut_long(text, sentence, max_chars)]


def _windows(sentences: list[Span], max_chars: int) -> list[list[Span]]:
    """Group consecutive sentences into windows whose span is at most max_chars."""
    windows: list[list[Span]] = []
    for sentence in sentences:
        if windows and sentence.end - windows[-1][0].start <= max_chars:
            windows[-1].append(sentence)
        else:
            windows.append([sentence])
    return windows


def _split(text: str, start: int, end: int, separator: re.Pattern) -> list[Span]:
    spans, cursor = [], start
    for match in separator.finditer(text, start, end):
        spans.append(Span(cursor, match.start()))
        cursor = match.end()
    spans.append(Span(cursor, end))
    return spans


def _one_paragraph_a_line(text: str, start: int) -> bool:
    lines = LINE_BREAK.split(text[start:])
    long_chars = sum(len(line) for line in lines if len(line) > 100)
    return long_chars > 0.5 * max(1, sum(len(line) for line in lines))


def _split_lines_after_punctuation(text: str, block: Span) -> list[Span]:
    pieces, cursor = [], block.start
    for match in LINE_BREAK.finditer(text, block.start, block.end):
        before = text[cursor : match.start()].rstrip()
        if before.endswith(CLOSING_PUNCTUATION):
            pieces.append(Span(cursor, match.start()))
            cursor = match.end()
    pieces.append(Span(cursor, block.end))
    return pieces


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def _is_abbreviation(text: str, lower_bound: int, dot: int) -> bool:
    word_start = dot
    while word_start > lower_bound and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"“'‘":
        word_start -= 1
    word = text[word_start:dot].lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _cut_long(text: str, sentence: Span, max_chars: int) -> list[Span]:
    pieces, start = [], sentence.start
    while sentence.end - start > max_chars:
        limit = start + max_chars
        cut = max((text.rfind(ch, start + 1, limit) for ch in " \t\n"), default=-1)
        end = cut if cut > start else limit
        if (span := _trim(text, start, end)) is not None:
            pieces.append(span)
        start = end
        while start < sentence.end and text[start].isspace():
            start += 1
    if (span := _trim(text, start, sentence.end)) is not None:
        pieces.append(span)
    return pieces
