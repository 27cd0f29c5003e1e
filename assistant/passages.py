"""Passages: paragraphs, speaker turns and sentences, as character offsets into the document text.

Nothing here copies or cleans text: every span is (start, end) into the document's text,
so `document.text[start:end] == passage.text` holds by construction, and is tested.

Transcripts mark a turn with a label at the start of a line: `MS. PSAKI:`, `Zhao Lijian:`,
`China Daily:`, `QUESTION:`, `A:`, or a bare `Q` (a reporter). Every passage of a turn gets its
speaker, resolved to a name where the document's title or opening lines give one
("Press Secretary Jen Psaki" makes `MS. PSAKI` Jen Psaki); the label stays as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from assistant.cjk import CJK_LETTER, columns, reach, weighted_length
from assistant.config import PassageSettings
from assistant.corpus import Document

# Horizontal whitespace: anything \s matches except line ends (so non-breaking spaces count).
_SPACE = r"[^\S\r\n]"
# A blank line (possibly holding spaces, tabs or non-breaking spaces), with any line-ending convention.
PARAGRAPH_BREAK = re.compile(rf"(?:\r\n|\r|\n){_SPACE}*(?:(?:\r\n|\r|\n){_SPACE}*)+")
LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Ends a line that closes a paragraph in one-paragraph-a-line documents.
CLOSING_PUNCTUATION = tuple('.!?:;)"”’»。！？；：」』）》')
# Where a sentence's closing quotes and brackets may follow its end mark, Latin and CJK.
_CLOSERS = "\"'”’»)\\]」』）》〕】"
# Sentence end: punctuation, optional closing quotes/brackets, then whitespace (or, after ! and ?, a CJK
# letter: '他说!我们'); or a CJK full stop, exclamation or question mark or semicolon, with no space needed
# (Chinese sets none), and any closing quotes after it ('。”', '？」').
SENTENCE_END = re.compile(
    rf"[.!?…]+[{_CLOSERS}]*(?=\s)|[!?]+[{_CLOSERS}]*(?={CJK_LETTER.pattern})|[。！？；｡]+[{_CLOSERS}]*"
)
# Where a sentence too long for a passage may be cut: after a CJK comma, enumeration comma or colon.
CJK_PAUSES = "，、：､"
# A turn label: a bare Q (a reporter, no colon: `Q    Thanks, Jen.`), or capitalised words and a
# colon (`MS. PSAKI:`, `MS.  PSAKI:`, `Zhao Lijian:`, `Q:`), then text on the same line.
# An honorific written with a colon for its full stop (`MR: ZIENTS:`) is part of the label, not a label.
SPEAKER_LABEL = re.compile(
    rf"(?P<name>Q(?={_SPACE}+(?!&|and\b)\S)|(?:MRS?|MS|DR):{_SPACE}{{1,2}}[A-Z][A-Z'’-]+(?=:)"
    rf"|[A-Z][\w.'’-]*(?:{_SPACE}{{1,2}}[A-Z][\w.'’-]*){{0,5}}(?=:))"
    rf":?(?={_SPACE}+\S)"
)
# Paragraphs that belong to no one: `(Laughter.)`, `3:31 P.M. EDT`, `END`, `END  1:32 P.M. EST`.
_TIME = r"\d{1,2}:\d{2}\s*[AaPp]\.?\s*[Mm]\.?(?:\s+[A-Z]{2,4})?"
STAGE_NOTE = re.compile(rf"(?:\([^()]*\)\.?\s*)+|{_TIME}|(?P<end>END)(?:\s+{_TIME})?")
REPORTER_LABELS = frozenset(["q", "question", "reporter", "reporters", "journalist", "photojournalist", "press"])
ANSWER_LABELS = frozenset(["a", "answer"])
#: What a passage in a reporter's turn is attributed to when the transcript does not name the outlet.
REPORTER = "a reporter"
#: What a turn whose label is only a title (`MR:`, `MS.:`) is attributed to: someone, but no one by name.
UNNAMED = "an unnamed speaker"
#: Titles that say how to address a person, not what they do; `MR` and `MS` tell two people apart.
HONORIFICS = {"mr": "m", "mrs": "f", "ms": "f", "miss": "f", "dr": None, "prof": None}
#: How alike two spellings of a word must be to be one word misspelt (rapidfuzz fuzz.ratio, 0-100, on folded
#: words): 'WALESNKY' and 'WALENSKY' score 87.5, 'MODEARTOR' and 'MODERATOR' 88.9, 'OFFIAL' and 'OFFICIAL'
#: 85.7; 'MURPHY' and 'MURTHY' 83.3. Only words of MIN_TYPO_LENGTH letters or more are read as misspelt
#: ('RICE' and 'PRICE', 'KLAIN' and 'KLEIN' are other people).
TYPO_SIMILARITY = 85.0
MIN_TYPO_LENGTH = 6
#: A label is read as a misspelling of another label of the same transcript only where that one is used at
#: least this many times as often ('DR. WALESNKY' once beside 'DR. WALENSKY' five times).
TYPO_RARITY = 3
# Words that name a role, not a person: they end a name when reading back from a surname in a title,
# and a label ending in one (`SENIOR ADMINISTRATION OFFICIAL:`) is never resolved to a name.
ROLE_WORDS = frozenset(
    [
        "a",
        "acting",
        "administration",
        "administrator",
        "adviser",
        "advisers",
        "advisor",
        "aide",
        "ambassador",
        "and",
        "assistant",
        "at",
        "attorney",
        "briefing",
        "by",
        "call",
        "chair",
        "chairman",
        "chairwoman",
        "chief",
        "commissioner",
        "coordinator",
        "council",
        "counselor",
        "deputy",
        "director",
        "doctor",
        "dr",
        "envoy",
        "first",
        "for",
        "general",
        "governor",
        "house",
        "in",
        "lady",
        "mayor",
        "member",
        "minister",
        "moderator",
        "mr",
        "mrs",
        "ms",
        "national",
        "of",
        "office",
        "official",
        "officials",
        "on",
        "operator",
        "president",
        "presidential",
        "press",
        "principal",
        "representative",
        "response",
        "secretary",
        "security",
        "senator",
        "senior",
        "special",
        "spokesman",
        "spokesperson",
        "spokeswoman",
        "staff",
        "surgeon",
        "team",
        "the",
        "to",
        "vice",
        "with",
    ]
)
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
    `speaker` is who speaks in it: in a transcript the turn's speaker, resolved to a name
    where the document gives one ("Jen Psaki"), REPORTER for a reporter's turn, else the
    label itself; outside turns the document's speaker, else None. `speaker_label` is the
    turn's label exactly as written ("MS. PSAKI", "Q"), None outside turns.
    `sentences` are spans inside [start, end).
    """

    doc_id: str
    start: int
    end: int
    paragraph: int
    speaker: str | None
    text: str
    sentences: tuple[Span, ...]
    speaker_label: str | None = None

    @property
    def cited_speaker(self) -> str | None:
        """The speaker as a citation names them: 'Jen Psaki (MS. PSAKI)', 'a reporter (Q)', 'Zhao Lijian'."""
        return cited_speaker(self.speaker, self.speaker_label)


@dataclass(frozen=True)
class Turn:
    """Whose words a run of paragraphs are: the label as written (None outside turns) and the speaker."""

    label: str | None
    speaker: str | None


def cited_speaker(speaker: str | None, label: str | None) -> str | None:
    """'Jen Psaki (MS. PSAKI)' when the label was resolved to a name, else the speaker alone."""
    if speaker and label and _fold(label) != _fold(speaker):
        return f"{speaker} ({label})"
    return speaker


def passages_for(document: Document, settings: PassageSettings | None = None) -> list[Passage]:
    """Cut a document into passages, in document order, each with its turn's speaker."""
    settings = settings or PassageSettings()
    text = document.text
    paragraphs = paragraph_spans(text, document.body_start)
    labels = [label_at(text, span.start) for span in paragraphs]
    in_capitals = _labels_in_capitals(labels)
    labels = _in_style(labels, in_capitals)
    is_transcript = sum(label is not None for label in labels) >= 2
    if is_transcript:  # a label may also open a line inside a paragraph
        paragraphs = _split_at_turns(text, paragraphs, [label for label in labels if label], in_capitals)
        labels = _in_style([label_at(text, span.start) for span in paragraphs], in_capitals)
    first_turn = next((span.start for span, label in zip(paragraphs, labels) if label), len(text))
    variants = label_variants(Counter(label for label in labels if label)) if is_transcript else {}
    resolve = SpeakerResolver(document, text[document.body_start : first_turn], variants)
    turn = Turn(None, document.metadata.speaker)  # before the first label: the document's speaker
    passages = []
    for number, (span, label) in enumerate(zip(paragraphs, labels), start=1):
        note = STAGE_NOTE.fullmatch(text, span.start, span.end) if is_transcript else None
        if note is not None:  # belongs to no one; the turn goes on after it, unless it is the END
            owner = Turn(None, None)
            turn = owner if note.group("end") else turn
        else:
            turn = resolve(label) if is_transcript and label else turn
            owner = turn
        sentences = sentence_spans(text, span.start, span.end, settings.max_chars)
        for window in _windows(text, sentences, settings.max_chars):
            start, end = window[0].start, window[-1].end
            passages.append(
                Passage(document.doc_id, start, end, number, owner.speaker, text[start:end], tuple(window), owner.label)
            )
    return passages


def label_at(text: str, position: int) -> str | None:
    """The turn label starting at `position` (after any spaces on its line), exactly as written; else None."""
    while position < len(text) and text[position] in " \t\xa0":
        position += 1
    match = SPEAKER_LABEL.match(text, position)
    return match.group("name") if match else None


class SpeakerResolver:
    """Who a turn label stands for in one document: `resolver(label) -> Turn`.

    Reporters' labels (`Q`, `QUESTION:`) stand for REPORTER; answers (`A:`) for the document's
    speaker or author; a bare title (`MR:`) for UNNAMED; a label in capitals (or opening with a
    title, `Ms. Psaki:`) whose last word is a surname named in the document's title, speaker field
    or opening lines, all naming one person (`MS. PSAKI` and "Press Secretary Jen Psaki"), for that
    name, and failing that a surname one letter off from one name there (`SECRETARY MAYORAKAS` and
    "Secretary of Homeland Security Alejandro Mayorkas"); any other label (`SENIOR ADMINISTRATION
    OFFICIAL`, `Zhao Lijian`, `China Daily`) for itself. `variants` maps a misspelt label to the
    label it stands for (label_variants): its turns are that label's speaker's, the label as written.
    """

    def __init__(self, document: Document, opening: str, variants: dict[str, str] | None = None) -> None:
        meta = document.metadata
        self._sources = [s for s in (meta.title, meta.citation_title, meta.speaker, opening[:1000]) if s]
        self._answerer = meta.speaker or meta.author
        self._variants = variants or {}
        self._turns: dict[str, Turn] = {}

    def __call__(self, label: str) -> Turn:
        if label not in self._turns:
            self._turns[label] = Turn(label, self._speaker(self._variants.get(label, label)))
        return self._turns[label]

    def _speaker(self, label: str) -> str:
        words = label.split()
        if _fold(label) in REPORTER_LABELS:
            return REPORTER
        if _fold(label) in ANSWER_LABELS:
            return self._answerer or label
        if is_bare_title(label):
            return UNNAMED
        surname = words[-1]
        titled = label.isupper() or _fold(words[0]).strip(".:") in ROLE_WORDS
        if not titled or _fold(surname).strip(".") in ROLE_WORDS:
            return label
        names = {_fold(n): n for source in self._sources for n in names_ending_in(source, surname)}
        if not names:  # a misspelt surname: the one name in the title whose surname is one typo away
            names = {_fold(n): n for source in self._sources for n in _names_like(source, surname)}
        return names.popitem()[1] if len(names) == 1 else label


def is_bare_title(label: str) -> bool:
    """Whether a label is only a title, naming no one: `MR`, `MS.`, `DR.`."""
    return all(_fold(word).strip(".:") in HONORIFICS for word in label.split())


def is_typo_of(word: str, other: str) -> bool:
    """Whether two words are one word, however misspelt: the same when folded, or both MIN_TYPO_LENGTH
    letters or more and TYPO_SIMILARITY alike (fuzz.ratio: 'WALESNKY' and 'WALENSKY')."""
    a, b = _fold(word).strip(".:"), _fold(other).strip(".:")
    return a == b or (min(len(a), len(b)) >= MIN_TYPO_LENGTH and fuzz.ratio(a, b) >= TYPO_SIMILARITY)


def label_variants(counts: Counter) -> dict[str, str]:
    """Which labels of one transcript are another label of it written otherwise: {variant: label}.

    Takes each label's number of turns. A label is a variant of one used TYPO_RARITY times as often
    or more, the only such label that is either the same words, some misspelt (is_typo_of:
    `DR. WALESNKY` and `DR. WALENSKY`, `MODEARTOR` and `MODERATOR`, `ACTING ADMINSTRATOR SLAVITT`),
    or the same surname under another title (`MR. SLAVITT` and `ACTING ADMINISTRATOR SLAVITT`, `MR.
    FAUCI` and `DR. FAUCI`), unless the titles make them two people (`MS. ZAIDI` and `MR. ZAIDI`).
    Reporters' and answers' labels and bare titles are never variants.
    """
    people = [label for label in counts if not _is_generic(label)]
    variants = {}
    for label in people:
        targets = [
            other
            for other in people
            if other != label and counts[other] >= TYPO_RARITY * counts[label] and _same_label(label, other)
        ]
        if len(targets) == 1:
            variants[label] = targets[0]
    return {label: variants.get(target, target) for label, target in variants.items()}


def _same_label(label: str, other: str) -> bool:
    words, others = label.split(), other.split()
    if len(words) == len(others) and all(map(is_typo_of, words, others)):
        return True
    surname = _fold(words[-1]).strip(".:")
    if surname in ROLE_WORDS or len(words) < 2 or len(others) < 2 or surname != _fold(others[-1]).strip(".:"):
        return False
    genders = {HONORIFICS.get(_fold(word).strip(".:")) for word in words[:-1] + others[:-1]} - {None}
    return len(genders) < 2


def _is_generic(label: str) -> bool:
    return _fold(label) in REPORTER_LABELS or _fold(label) in ANSWER_LABELS or is_bare_title(label)


def _names_like(text: str, surname: str) -> list[str]:
    """Personal names in `text` whose surname is `surname` misspelt (is_typo_of), with their given names."""
    words = {m.group() for m in re.finditer(r"[^\W\d_][\w’'-]*", text)}
    alike = [word for word in words if word[0].isupper() and is_typo_of(word, surname)]
    return [name for word in alike for name in names_ending_in(text, word)]


def names_ending_in(text: str, surname: str) -> list[str]:
    """Personal names in `text` ending in `surname` (case and accents ignored), with their given names.

    'Press Secretary Jen Psaki, March 2' and 'PSAKI' give ['Jen Psaki']; a surname with no
    given name before it ('Secretary Buttigieg') gives nothing.
    """
    words = [m.group() for m in re.finditer(r"[^\W\d_][\w’'-]*\.?", text)]
    wanted = _fold(surname).strip(".")
    names = []
    for i, word in enumerate(words):
        if _fold(word).strip(".") != wanted or not word[0].isupper():
            continue
        given: list[str] = []
        j = i - 1
        while j >= 0 and _is_given_name(words[j]) and (not given or _is_initial(given[0])):
            given.insert(0, words[j])
            j -= 1
        if given:
            names.append(" ".join([*given, word.rstrip(".")]))
    return names


def people_from_speakers(rows: Iterable[tuple[str, str | None, int]]) -> dict[str, tuple[str, ...]]:
    """Each person once, with every speaker value that stands for them across documents.

    Takes (speaker, speaker_label, passage count) rows, one per distinct pair. Returns
    {name: (speaker values, ...)} sorted by name, the values being what `passages.speaker`
    holds, for a filter. One person, however written:
    - a name with or without middle initials ('Vivek H. Murthy', 'Vivek Murthy');
    - a label where it stayed unresolved ('MS. PSAKI', 'MS.  PSAKI') and the one name it
      resolved to elsewhere ('Jen Psaki'); failing that, the one resolved name sharing its
      surname ('DR. MURTHY' and 'Vivek H. Murthy'). Two names for a label or surname (two
      ambassadors Jacobson) merge nothing;
    - a label that a transcript wrote otherwise (label_variants: `DR. WALESNKY` is `DR. WALENSKY`),
      through the label it stands for.
    The name shown is the most used spelling. UNNAMED (a bare title) is no one, and not listed.
    """
    rows = [row for row in rows if row[0] != UNNAMED]
    by_label: dict[str, set[str]] = defaultdict(set)
    by_surname: dict[str, set[str]] = defaultdict(set)
    for speaker, label, _ in rows:
        if _resolved(speaker, label):
            by_label[_fold(label)].add(_name_key(speaker))
            by_surname[_fold(speaker.split()[-1])].add(_name_key(speaker))
    values: dict[str, set[str]] = defaultdict(set)
    spellings: dict[str, Counter] = defaultdict(Counter)
    for speaker, label, count in rows:
        key = _name_key(speaker)
        if label is not None and not _resolved(speaker, label) and speaker != REPORTER:
            # the label as the transcript meant it: itself, or the label a misspelt one stands for
            meant = speaker if _label_like(speaker) else label
            surname = _fold(meant.split()[-1]).strip(".:")
            same = by_label.get(_fold(meant)) or (by_surname.get(surname) if meant.isupper() else None)
            key = next(iter(same)) if same and len(same) == 1 else key
        values[key].add(speaker)
        spellings[key][speaker] += count
    people = {}
    for key, group in values.items():
        # the most used spelling of the name itself, not of a label merged into it
        name = next((name for name, _ in spellings[key].most_common() if _name_key(name) == key), min(group))
        people[name] = tuple(sorted(group))
    return dict(sorted(people.items(), key=lambda item: item[0].casefold()))


def same_person(people: dict[str, tuple[str, ...]], names: Iterable[str]) -> set[str]:
    """Every speaker value that is the same person as one of `names` (a name or a label as written).

    `people` is what people_from_speakers returns; a name it does not know stands for itself.
    """
    found = set()
    for name in names:
        group = people.get(name) or next((g for g in people.values() if _fold(name) in map(_fold, g)), ())
        found |= {name, *group}
    return found


def _resolved(speaker: str, label: str | None) -> bool:
    """Whether a turn label was resolved to a person's name (not a reporter, not an answer, not a label)."""
    if not label or speaker == REPORTER or _fold(label) in ANSWER_LABELS or _fold(label) == _fold(speaker):
        return False
    return not _label_like(speaker)


def _label_like(speaker: str) -> bool:
    """Whether a speaker value is a turn label (`DR. WALENSKY`, `MODERATOR`), not a name ('Rochelle Walensky')."""
    return speaker.isupper() or _fold(speaker.split()[0]).strip(".:") in ROLE_WORDS


def _name_key(name: str) -> str:
    """A name for comparing: folded, middle initials dropped ('Vivek H. Murthy' == 'VIVEK MURTHY')."""
    return _fold(" ".join(word for word in name.split() if not _is_initial(word)))


#: Letters that end a sentence or a clause, in English and CJK text: a line without any is a heading or a letterhead.
_CLAUSE_END = re.compile(r"[.!?;:。！？；：…]")


def is_heading(text: str) -> bool:
    """Whether a passage is a short line that states nothing: a title, a letterhead, a dateline.

    Such a line answers no question, but a multilingual model finds it close in meaning to any short question
    in its language (the seed note's Chinese letterhead to every Chinese question, by cosine alone).
    """
    stripped = text.strip()
    return len(stripped) <= 60 and "\n" not in stripped and _CLAUSE_END.search(stripped) is None


def paragraph_spans(text: str, start: int = 0) -> list[Span]:
    """Paragraphs of text[start:], trimmed of surrounding whitespace.

    Blank lines (which may hold spaces) always separate paragraphs; lines hard-wrapped
    inside a paragraph, Markdown line breaks included, stay together. In documents written
    one paragraph a line (most characters on lines over 100 characters), a line break after
    closing punctuation separates paragraphs too; short lines without it (an address block)
    stay together. A line's length is in columns, a CJK character taking two (cjk.columns).
    """
    blocks = _split(text, start, len(text), PARAGRAPH_BREAK)
    if _one_paragraph_a_line(text, start):
        blocks = [piece for block in blocks for piece in _split_lines_after_punctuation(text, block)]
    return [trimmed for block in blocks if (trimmed := _trim(text, block.start, block.end))]


def sentence_spans(text: str, start: int, end: int, max_chars: int = 1000) -> list[Span]:
    """Sentences of text[start:end], trimmed; none longer than max_chars, a CJK letter counting as
    CJK_CHAR_WEIGHT characters (cut at a space or a CJK comma if any)."""
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


def _windows(text: str, sentences: list[Span], max_chars: int) -> list[list[Span]]:
    """Group consecutive sentences into windows whose span is at most max_chars (cjk.weighted_length)."""
    windows: list[list[Span]] = []
    for sentence in sentences:
        if windows and weighted_length(text, windows[-1][0].start, sentence.end) <= max_chars:
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
    widths = [columns(line) for line in LINE_BREAK.split(text[start:])]
    long_columns = sum(width for width in widths if width > 100)
    return long_columns > 0.5 * max(1, sum(widths))


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
    """A sentence over max_chars (weighted) in pieces: cut at the last space, else after the last CJK comma."""
    pieces, start = [], sentence.start
    while weighted_length(text, start, sentence.end) > max_chars:
        limit = reach(text, start, max_chars, sentence.end)
        cut = max((text.rfind(ch, start + 1, limit) for ch in " \t\n"), default=-1)
        if cut <= start:
            cut = max((text.rfind(ch, start, limit) + 1 for ch in CJK_PAUSES), default=0)
        end = cut if cut > start else limit
        if (span := _trim(text, start, end)) is not None:
            pieces.append(span)
        start = end
        while start < sentence.end and text[start].isspace():
            start += 1
    if (span := _trim(text, start, sentence.end)) is not None:
        pieces.append(span)
    return pieces


def _labels_in_capitals(labels: list[str | None]) -> set[str] | None:
    """The labels (folded) of a transcript that writes them in capitals, like `MS. PSAKI:`; else None.

    Such a transcript writes 'Second:' or 'Dr. Walensky: “...”' (a quotation read out) only
    as prose.
    """
    capitals = [_fold(label) for label in labels if label and label.isupper()]
    return set(capitals) if len(capitals) * 2 > sum(label is not None for label in labels) else None


def _in_style(labels: list[str | None], in_capitals: set[str] | None) -> list[str | None]:
    """Labels that are turns: in a capitals transcript, mixed case only as another spelling ('Moderator:')."""
    if in_capitals is None:
        return labels
    return [label if label and (label.isupper() or _fold(label) in in_capitals) else None for label in labels]


def _split_at_turns(
    text: str, paragraphs: list[Span], opening_labels: list[str], in_capitals: set[str] | None
) -> list[Span]:
    """Start a new paragraph where a line inside one opens with a turn label.

    Counted there: a label that opens a paragraph elsewhere in the document, and a label in
    capitals that is a reporter's or shares a surname with one of those (`PSAKI:` after a line
    ending 'MS.'). In a capitals transcript only capitals count, so 'First, for\nDr. Walensky:'
    in a reporter's question, or a wrapped line starting 'COVID-19: Wear a mask', stays put.
    """
    known = {_fold(label) for label in opening_labels}
    surnames = {_fold(label.split()[-1]) for label in opening_labels if label.isupper()}
    pieces = []
    for paragraph in paragraphs:
        cursor = paragraph.start
        for line_break in LINE_BREAK.finditer(text, paragraph.start, paragraph.end):
            label = label_at(text, line_break.end())
            if label is None or (in_capitals is not None and not label.isupper()):
                continue
            folded, surname = _fold(label), _fold(label.split()[-1])
            if folded in known or (label.isupper() and (folded in REPORTER_LABELS or surname in surnames)):
                if (span := _trim(text, cursor, line_break.start())) is not None:
                    pieces.append(span)
                cursor = line_break.end()
        if (span := _trim(text, cursor, paragraph.end)) is not None:
            pieces.append(span)
    return pieces


def _fold(text: str) -> str:
    """For comparing names and labels: accents, case and runs of spaces ignored ('MUNOZ' == 'Muñoz')."""
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).casefold().split())


def _is_given_name(word: str) -> bool:
    if _is_initial(word):
        return True
    return word[0].isupper() and not word.isupper() and _fold(word).strip(".") not in ROLE_WORDS


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word[0].isupper() and word[1] == "."
