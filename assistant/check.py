"""Check a quotation: is it in the corpus verbatim, altered (with a word-level diff), or not at all; and who said it.

Chinese, written without spaces, is compared character by character: each CJK letter is a token,
so its diff is character-level; full-width and half-width forms count as the same ("，" and ",",
"。" and ".", "Ａ" and "A").

A quotation is cut into fragments at its ellipses ("...", "…", "[...]"). Candidate passages
come from the engine's own indexes: the hybrid search (dense + BM25) over the quotation, and
FTS5 exact phrases of the first and last words of each fragment, which find a verbatim
fragment wherever the ranking puts it. Each candidate is read with the passages on either
side of it (a quotation may cross a passage boundary), one document's windows together (an
ellipsis may join two places of one document). They are compared on *tokens* (words and
punctuation marks), ignoring case and typographic versus straight quotes, apostrophes and
dashes; whitespace only separates tokens. Every token keeps its offsets into the raw
document text, so a match is always `document_text[start:end]`, never cleaned text.

A fragment found token for token is verbatim. Otherwise rapidfuzz aligns it: partial_ratio
finds the best window of tokens, the window's ends are moved to maximise the Indel
similarity (the share of tokens in common), and Levenshtein opcodes give the word-level
diff. A fragment of several sentences that matches better sentence by sentence (sentences
reordered, or joined from two places without an ellipsis) is matched sentence by sentence.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, utils
from rapidfuzz.distance import Indel, Levenshtein

from assistant.answer import citation_for, format_date
from assistant.cjk import CJK_LETTER
from assistant.errors import QuotationError, UnknownDocumentError
from assistant.keywords import WORD, phrase_terms
from assistant.passages import Passage, sentence_spans
from assistant.search import MAX_QUESTION_CHARS, Question, Searcher
from assistant.store import DocumentInfo, Store

VERDICTS = ("verbatim", "altered", "not_found")
VERDICT_LABELS = {"verbatim": "Verbatim", "altered": "Altered", "not_found": "Not found"}
#: Whether a match's source says the claimed speaker said it: "confirmed" (a turn of theirs, or a document
#: whose speaker or author they are), "misattributed" (it names someone else, or another day), "unattributed"
#: (it names no one) or "upload" (an uploaded document, which is no evidence of who said anything).
ATTRIBUTIONS = ("confirmed", "misattributed", "unattributed", "upload")
MAX_QUOTATION_CHARS = 5000
#: A fragment is "altered" when at least this share of its tokens (words and punctuation) is shared with
#: its best-aligned span (Indel similarity). On tests/test_check.py's generated cases one word changed or
#: two or three dropped scored 0.93-0.98, and made-up sentences on the corpus's subjects at most 0.46.
ALTERED_MIN_SIMILARITY = 0.7
#: ...and shares at least this many tokens with it, so that a two-word quotation is not "altered" by chance.
ALTERED_MIN_SHARED = 3
#: Matching sentence by sentence must beat matching the whole fragment by this much to be used.
SPLIT_GAIN = 0.05
CANDIDATE_PASSAGES = 10  # from the hybrid search
PHRASE_WORDS = 8  # the words of each end of a fragment searched as an exact phrase
PHRASE_PASSAGES = 20  # passages taken from each phrase, and from all phrases
MAX_PHRASES = 12
MAX_DOCUMENTS = 8  # candidate documents aligned when none has the quotation verbatim
SHOWN_DOCUMENTS = 5  # documents whose matches are shown
MAX_MATCHES = 10
NEAREST = 3  # passages shown when nothing matches
MAX_SLACK = 20  # tokens an aligned span's ends may move
CLAIM_MATCH = 90  # rapidfuzz token_set_ratio from which a named speaker is taken to be the source
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A token: one CJK letter, a run of other word characters, or one punctuation mark.
TOKEN = re.compile(rf"{CJK_LETTER.pattern}|(?:(?!{CJK_LETTER.pattern})\w)+|[^\w\s]")
# "...", ". . .", "…", "[...]", "(…)". Spaced dots need single spaces, so that in "said. ... Then" the
# sentence keeps its full stop.
ELLIPSIS = re.compile(r"[\[(]\s*(?:…|\.{3,}|\.(?: \.){2,})\s*[\])]|…|\.{3,}|\.(?: \.){2,}")
OPENING_MARKS, CLOSING_MARKS = "\"'“‘«„", "\"'”’»“"
# Typographic characters and their plain forms, one character each so that offsets never move.
# Full-width forms (U+FF01-FF5E: "，", "：", "？", "Ａ", "１") are their ASCII characters, and CJK stops,
# commas and corner quotes the Latin ones: a Chinese quotation typed with either kind of punctuation matches.
_PLAIN = str.maketrans(
    {
        **{chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)},
        **dict.fromkeys("‘’‚‛′`´‹›", "'"),
        **dict.fromkeys("“”„‟″«»「」『』＂", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        **dict.fromkeys("。｡", "."),
        **dict.fromkeys("、､", ","),
        "\u3000": " ",
    }
)
# Each distinct token of a quotation becomes one private-use character, every other token of a
# document the same sentinel, so that token sequences compare as strings (str.find, rapidfuzz).
_FIRST_SYMBOL, _SENTINEL = 0xE000, "\uf8ff"


@dataclass(frozen=True)
class Claim:
    """Who a quotation is attributed to and when (ISO date), as the user gives them; both optional.

    Raises QuotationError for a date that is not YYYY-MM-DD.
    """

    speaker: str | None = None
    date: str | None = None

    def __post_init__(self) -> None:
        speaker = " ".join((self.speaker or "").split()) or None
        date = (self.date or "").strip() or None
        if date is not None:
            try:
                if not DATE.fullmatch(date):
                    raise ValueError(date)
                dt.date.fromisoformat(date)
            except ValueError:
                raise QuotationError(f"The date '{date}' is not a date written YYYY-MM-DD.") from None
        object.__setattr__(self, "speaker", speaker)
        object.__setattr__(self, "date", date)

    @property
    def given(self) -> bool:
        return bool(self.speaker or self.date)

    def describe(self) -> str:
        """E.g. 'Zhao Lijian on 14 September 2023'."""
        parts = [self.speaker, f"on {format_date(self.date)}" if self.date else None]
        return " ".join(part for part in parts if part)

    def contradicted_by(self, names: list[str], date: str | None) -> bool:
        """True when the record names someone else, or another day, than this claim (unknowns contradict nothing)."""
        if self.speaker and names:
            same = (fuzz.token_set_ratio(self.speaker, name, processor=utils.default_process) for name in names)
            if max(same) < CLAIM_MATCH:
                return True
        return bool(self.date and date and not (self.date.startswith(date) or date.startswith(self.date)))


@dataclass(frozen=True)
class DiffOp:
    """One step of a word-level diff from the source to the quotation.

    `op` is "equal", "insert" (words the quotation adds), "delete" (words it drops) or
    "replace". `quoted` is the quotation's text and `source` the document's exact text
    (document_text[source_start:source_end]); either is "" where the op has none.
    """

    op: str
    quoted: str
    source: str
    source_start: int
    source_end: int

    def describe(self) -> str:
        """The difference in words, e.g. 'quoted “ten” where the source says “six”'."""
        if self.op == "insert":
            return f"added “{self.quoted}”"
        if self.op == "delete":
            return f"left out “{self.source}”"
        if self.op == "replace":
            return f"quoted “{self.quoted}” where the source says “{self.source}”"
        return f"same: “{self.source}”"

    def to_json(self) -> dict:
        return {"op": self.op, "quoted": self.quoted, "source": self.source}


@dataclass(frozen=True)
class CheckMatch:
    """A place in a document that a quotation (or one fragment of it) matches, or a nearest passage.

    `text == document_text[start:end]`. `speaker` is who said it: the speaker of the passage
    (a transcript's turn, or the document's speaker), else the document's author. `quoted` is
    the part of the quotation matched here; `similarity` the share of its words and punctuation
    that the source shares (1.0: verbatim). `diff` is empty for a nearest passage (is_match False).
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
    citation: str
    similarity: float
    diff: tuple[DiffOp, ...]
    quoted: str
    is_match: bool = True
    misattributed: bool = False
    uploaded: bool = False
    attribution: str | None = None  # one of ATTRIBUTIONS when the claim names a speaker and this is a match

    @property
    def is_verbatim(self) -> bool:
        return self.is_match and all(op.op == "equal" for op in self.diff)

    @property
    def differences(self) -> list[DiffOp]:
        return [op for op in self.diff if op.op != "equal"]

    @property
    def said(self) -> str:
        """Who said it and when, e.g. 'Zhao Lijian on 28 July 2022'."""
        return f"{self.speaker or self.title} on {format_date(self.date) or 'an unknown date'}"

    def to_json(self) -> dict:
        return {
            "doc_id": self.doc_id,
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "speaker": self.speaker,
            "date": self.date,
            "citation": self.citation,
            "similarity": round(self.similarity, 4),
            "diff": [op.to_json() for op in self.diff],
            "quoted": self.quoted,
            "misattributed": self.misattributed,
            "uploaded": self.uploaded,
            "attribution": self.attribution,
        }


@dataclass(frozen=True)
class CheckResult:
    """A quotation, its verdict and its matches, best first (the nearest passages when not found)."""

    text: str
    verdict: str
    matches: tuple[CheckMatch, ...]
    claim: Claim = Claim()

    @property
    def misattributed(self) -> bool:
        """True when the quotation was found but its best source is not who, or when, the claim says."""
        return self.verdict != "not_found" and bool(self.matches) and self.matches[0].misattributed

    @property
    def attribution(self) -> str | None:
        """Whether the best source says the claimed speaker said it (one of ATTRIBUTIONS); None without a
        claimed speaker, or when nothing was found."""
        if self.verdict == "not_found" or not self.matches:
            return None
        return self.matches[0].attribution

    @property
    def unattributed(self) -> bool:
        """True when the words were found but no source says the claimed speaker said them (nor anyone else)."""
        return self.attribution in ("unattributed", "upload")

    @property
    def status(self) -> str:
        """What a badge shows: the verdict, or "unattributed" for words found that no source gives the claimed
        speaker (a quotation is Verbatim only when its source says who said it)."""
        return "unattributed" if self.verdict == "verbatim" and self.unattributed else self.verdict

    @property
    def label(self) -> str:
        """The verdict for people: 'Verbatim', 'Altered', 'Not found', or 'Unattributed'."""
        return "Unattributed" if self.status == "unattributed" else VERDICT_LABELS[self.verdict]

    @property
    def attribution_note(self) -> str | None:
        """Why the claimed speaker is not confirmed when no source names them (nor anyone else); else None."""
        if not self.unattributed:
            return None
        if self.attribution == "upload":
            return (
                "These words are only in an uploaded document, which is no evidence of who said them; "
                f"it does not confirm they are {self.claim.speaker}'s."
            )
        return f"The source does not say who said this; it does not confirm these words are {self.claim.speaker}'s."

    @property
    def explanation(self) -> str:
        """What the verdict means for this quotation, e.g. 'these words are in the corpus.'"""
        documents = len({m.doc_id for m in self.matches})
        parts = len({m.quoted for m in self.matches if m.doc_id == self.matches[0].doc_id})
        if self.status == "unattributed":
            return f"these words are in the corpus, but {self.attribution_note[0].lower()}{self.attribution_note[1:]}"
        if self.verdict != "not_found" and all(m.uploaded for m in self.matches):
            return (
                "these words are only in an uploaded document (its text and metadata are the uploader's, not verified)."
            )
        if self.verdict == "verbatim":
            where = f"{documents} documents" if documents > 1 else "the corpus"
            joined = f", joined from {parts} places of one document" if parts > 1 else ""
            return f"these words are in {where}{joined}."
        if self.verdict == "altered" and all(m.is_verbatim for m in self.matches):
            return "these words are in the corpus, but not as quoted: in another order, or joined without an ellipsis."
        if self.verdict == "altered":
            return "a passage says nearly the same; the differences are marked."
        return "nothing in the corpus is close enough to this quotation."

    @property
    def summary(self) -> str:
        """The verdict in a sentence, e.g. 'Verbatim: these words are in the corpus.'"""
        return f"{self.label}: {self.explanation}"

    @property
    def misattribution(self) -> str | None:
        """E.g. 'Misattributed: attributed to X on 1 May 2024, but said by Y on 28 July 2022.'"""
        if not self.misattributed:
            return None
        return f"Misattributed: attributed to {self.claim.describe()}, but said by {self.matches[0].said}."

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "verdict": self.verdict,
            "misattributed": self.misattributed,
            "attribution": self.attribution,
            "matches": [match.to_json() for match in self.matches],
        }


@dataclass(frozen=True)
class Tokens:
    """A text's tokens (words, punctuation marks): folded keys and [start, end) offsets into the raw text."""

    keys: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def fold(text: str) -> str:
    """Lower case, with typographic quotes, apostrophes and dashes made plain; one character per character."""
    folded = text.translate(_PLAIN).lower()
    if len(folded) != len(text):  # a few characters lower-case to two ("İ" -> "i̇"): keep the first
        folded = "".join(ch.translate(_PLAIN).lower()[0] for ch in text)
    return folded


def tokenize(text: str, start: int = 0, end: int | None = None) -> Tokens:
    """The tokens of text[start:end], with offsets into text."""
    keys, starts, ends = [], [], []
    for match in TOKEN.finditer(fold(text), start, len(text) if end is None else end):
        keys.append(match.group())
        starts.append(match.start())
        ends.append(match.end())
    return Tokens(tuple(keys), tuple(starts), tuple(ends))


@dataclass(frozen=True)
class Fragment:
    """A piece of a quotation between ellipses (or one sentence of one), as offsets into the quotation."""

    start: int
    end: int
    tokens: Tokens


@dataclass(frozen=True)
class Quotation:
    """A quotation to check and its fragments, in order."""

    text: str
    fragments: tuple[Fragment, ...]

    def fragment_text(self, fragment: Fragment) -> str:
        return self.text[fragment.start : fragment.end]


def parse_quotation(text: str) -> Quotation:
    """Validate a quotation and cut it at its ellipses; one enclosing pair of quotation marks is not matched.

    Raises QuotationError when it is empty, has no word, or is longer than MAX_QUOTATION_CHARS.
    """
    if not isinstance(text, str):
        raise QuotationError("The quotation must be text.")
    text = text.strip()
    if len(text) > MAX_QUOTATION_CHARS:
        raise QuotationError(
            f"The quotation is {len(text):,} characters long; the limit is {MAX_QUOTATION_CHARS:,}. "
            "Check one passage at a time."
        )
    first, last = 0, len(text)
    if len(text) > 1 and text[0] in OPENING_MARKS and text[-1] in CLOSING_MARKS:
        first, last = 1, len(text) - 1
    cuts = [(m.start(), m.end()) for m in ELLIPSIS.finditer(text, first, last)]
    fragments = []
    for start, end in zip([first, *(e for _, e in cuts)], [*(s for s, _ in cuts), last]):
        fragment = _fragment(text, start, end)
        if fragment is not None:
            fragments.append(fragment)
    if not fragments:
        raise QuotationError("The quotation is empty. Paste the words you want to check.")
    return Quotation(text, tuple(fragments))


def _fragment(text: str, start: int, end: int) -> Fragment | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if not WORD.search(text, start, end):
        return None
    return Fragment(start, end, tokenize(text, start, end))


@dataclass(frozen=True)
class _Haystack:
    """Where one document may hold the quotation: windows of consecutive passages around its candidate passages.

    The windows' tokens follow each other in document order, with a token that equals no
    other (key "") between two windows, so that nothing matches across the text left out.
    """

    info: DocumentInfo
    passages: tuple[Passage, ...]
    tokens: Tokens
    windows: tuple[tuple[int, int], ...]  # each window's token range [first, last)

    def passage_at(self, offset: int) -> Passage:
        """The passage holding (or, between passages, just before) a character offset."""
        starts = [p.start for p in self.passages]
        return self.passages[max(0, bisect.bisect_right(starts, offset) - 1)]


@dataclass(frozen=True)
class _Part:
    """A fragment matched in a haystack: its token range [first, last), similarity and tokens in common."""

    fragment: Fragment
    first: int
    last: int
    similarity: float
    shared: int


@dataclass(frozen=True)
class _DocumentCheck:
    haystack: _Haystack
    symbols: str  # the haystack's tokens as symbols of the quotation's tokens
    verdict: str
    parts: tuple[_Part, ...]
    score: float
    order: int


class QuoteChecker:
    """Checks quotations against one passage store, with its Searcher for candidates. Safe to share between threads."""

    def __init__(
        self,
        store: Store,
        searcher: Searcher,
        documents: dict[str, DocumentInfo],
        cache: int = 512,
        uploaded: frozenset[str] = frozenset(),
    ) -> None:
        self.store = store
        self.uploaded = uploaded  # the doc_ids of uploaded documents: never evidence of who said something
        self.searcher = searcher
        self.documents = documents
        self._first_passages = sorted((info.first_passage, info.doc_id) for info in documents.values())
        # A check reads up to ~90 passages; about 130 bytes a token, so 512 passages take ~15 MB.
        self._passage_tokens = functools.lru_cache(maxsize=cache)(_passage_tokens)
        self._text = functools.lru_cache(maxsize=32)(store.document_text)

    def check(self, text: str, claim: Claim | None = None) -> CheckResult:
        """The verdict on a quotation, with its matches best first.

        Raises QuotationError for an empty or too long quotation.
        """
        claim = claim or Claim()
        quotation = parse_quotation(text)
        symbols = _symbols(quotation)
        hits = self._search(quotation)
        candidates = list(dict.fromkeys([*(hit.passage_id for hit in hits), *self._phrase_passages(quotation)]))
        haystacks = [(h, _as_symbols(h.tokens.keys, symbols)) for h in self._haystacks(candidates)]
        # Every candidate is searched for the quotation verbatim (cheap); only the first few are aligned.
        checks = [self._verbatim(h, string, quotation, symbols, order) for order, (h, string) in enumerate(haystacks)]
        checks = [check for check in checks if check is not None]
        if not checks:
            checks = [
                self._aligned(h, string, quotation, symbols, order)
                for order, (h, string) in enumerate(haystacks[:MAX_DOCUMENTS])
            ]
        verdict = min((c.verdict for c in checks), key=VERDICTS.index, default="not_found")
        if verdict == "not_found":
            nearest = self._nearest(quotation, symbols, hits, [h for h, _ in haystacks])
            return CheckResult(quotation.text, verdict, nearest, claim)
        matches = []
        for check in self._best(checks, verdict, claim):
            matches += self._matches(check, quotation, claim)
        return CheckResult(quotation.text, verdict, tuple(matches[:MAX_MATCHES]), claim)

    def document_text(self, doc_id: str) -> str:
        """The exact text a document's offsets point into (cached). Raises UnknownDocumentError."""
        return self._text(doc_id)

    def span_match(self, doc_id: str, start: int, end: int, quoted: str, claim: Claim | None = None) -> CheckMatch:
        """A verbatim match for document_text[start:end] of an indexed document, which the caller has found
        holds `quoted` token for token (paste.py joins sentences found one after the other into one).

        Raises UnknownDocumentError for a document not in the index.
        """
        if doc_id not in self.documents:
            raise UnknownDocumentError(f"There is no document '{doc_id}' in the index.")
        claim = claim or Claim()
        info, text = self.documents[doc_id], self._text(doc_id)
        ids = self.store.passages_overlapping(doc_id, start, end) or [info.first_passage]
        haystack = self._haystack(info, ids, self.store.passages(ids))
        diff = (DiffOp("equal", quoted, text[start:end], start, end),)
        return self._located(haystack, text, start, end, 1.0, diff, quoted, claim)

    # --- candidates ---------------------------------------------------------------------------------

    def _search(self, quotation: Quotation) -> list:
        """Passages whose words are nearest the quotation's: hybrid retrieval, not the question–sentence model.

        The model judges whether a sentence answers a question; a quotation is matched by its words, and
        the model would cost about 130 ms per check without changing which passages are candidates.
        """
        words = " ".join(" ".join(quotation.fragment_text(f).split()) for f in quotation.fragments)
        question = Question(words[:MAX_QUESTION_CHARS])
        return self.searcher.search(question, top_k=CANDIDATE_PASSAGES, mode="hybrid").hits

    def _phrase_passages(self, quotation: Quotation) -> list[int]:
        """Passages holding the first or the last words of a fragment as an exact phrase (FTS5).

        A fragment across a passage boundary has one of its ends (up to half of it) inside
        one passage. The rarest phrases come first; PHRASE_PASSAGES passages in all.
        """
        phrases = []
        for fragment in quotation.fragments:
            words = phrase_terms(quotation.fragment_text(fragment))
            size = min(PHRASE_WORDS, (len(words) + 1) // 2)
            phrases += [" ".join(words[:size]), " ".join(words[-size:])]
        found = [self._phrase_hits(phrase) for phrase in list(dict.fromkeys(phrases))[:MAX_PHRASES]]
        ranked = [passage_id for ids in sorted(found, key=len) for passage_id in ids]
        return list(dict.fromkeys(ranked))[:PHRASE_PASSAGES]

    def _phrase_hits(self, phrase: str) -> list[int]:
        # a phrase the full-text index cannot read gives none: the hybrid search still gives candidates
        return self.store.phrase(phrase, PHRASE_PASSAGES)

    def _haystacks(self, candidates: list[int]) -> list[_Haystack]:
        """The candidates' documents, in order of their first candidate, each with its candidates' windows."""
        wanted: dict[str, set[int]] = {}
        for passage_id in candidates:
            doc_id = self._document_of(passage_id)
            if doc_id is None:
                continue
            info = self.documents[doc_id]
            first, last = info.first_passage, info.first_passage + info.passage_count - 1
            wanted.setdefault(doc_id, set()).update(range(max(first, passage_id - 1), min(last, passage_id + 1) + 1))
        passages = self.store.passages(sorted(set().union(*wanted.values()))) if wanted else {}
        # A document whose passages are gone was changed or removed since this engine opened (a shared store's
        # concurrent ingest): it is left out until the engine on the new generation checks it.
        return [
            self._haystack(self.documents[doc_id], sorted(ids), passages)
            for doc_id, ids in wanted.items()
            if ids <= passages.keys()
        ]

    def _haystack(self, info: DocumentInfo, ids: list[int], passages: dict[int, Passage]) -> _Haystack:
        keys, starts, ends, windows, window_start = [], [], [], [], 0
        for position, passage_id in enumerate(ids):
            if position and passage_id != ids[position - 1] + 1:  # a new window: close the last one
                windows.append((window_start, len(keys)))
                keys.append("")
                starts.append(ends[-1])
                ends.append(ends[-1])
                window_start = len(keys)
            tokens = self._passage_tokens(passages[passage_id])
            keys += tokens.keys
            starts += tokens.starts
            ends += tokens.ends
        windows.append((window_start, len(keys)))
        return _Haystack(
            info, tuple(passages[i] for i in ids), Tokens(tuple(keys), tuple(starts), tuple(ends)), tuple(windows)
        )

    def _document_of(self, passage_id: int) -> str | None:
        position = bisect.bisect_right(self._first_passages, (passage_id, "\uffff")) - 1
        if position < 0:
            return None
        first, doc_id = self._first_passages[position]
        return doc_id if passage_id < first + self.documents[doc_id].passage_count else None

    # --- matching in one document -------------------------------------------------------------------

    def _verbatim(self, haystack: _Haystack, string: str, quotation, symbols, order) -> _DocumentCheck | None:
        """The fragments found token for token, in order, in the haystack; None when they are not."""
        needles = [_as_symbols(f.tokens.keys, symbols) for f in quotation.fragments]
        chain = _in_order(string, needles)
        if chain is None:
            return None
        parts = tuple(
            _Part(f, first, first + len(needle), 1.0, len(needle))
            for f, needle, first in zip(quotation.fragments, needles, chain)
        )
        return _DocumentCheck(haystack, string, "verbatim", parts, 1.0, order)

    def _aligned(self, haystack: _Haystack, string: str, quotation, symbols, order) -> _DocumentCheck:
        """Each fragment at its most similar place in the haystack; "altered" when every one is close enough."""
        parts = []
        for fragment in quotation.fragments:
            parts += self._match_fragment(fragment, haystack, string, quotation, symbols)
        altered = all(p.similarity >= ALTERED_MIN_SIMILARITY and p.shared >= ALTERED_MIN_SHARED for p in parts)
        weights = [len(p.fragment.tokens.keys) for p in parts]
        score = sum(p.similarity * w for p, w in zip(parts, weights)) / max(1, sum(weights))
        verdict = "altered" if altered else "not_found"
        return _DocumentCheck(haystack, string, verdict, tuple(parts), score, order)

    def _match_fragment(self, fragment, haystack: _Haystack, string: str, quotation, symbols) -> list[_Part]:
        """The fragment's best place in the haystack; sentence by sentence when that matches clearly better."""
        whole = _best_part(fragment, _as_symbols(fragment.tokens.keys, symbols), string, haystack.windows)
        if whole.similarity == 1.0:
            return [whole]
        sentences = sentence_spans(quotation.text, fragment.start, fragment.end)
        if len(sentences) < 2:
            return [whole]
        pieces = [p for p in (_fragment(quotation.text, s.start, s.end) for s in sentences) if p is not None]
        split = [_best_part(p, _as_symbols(p.tokens.keys, symbols), string, haystack.windows) for p in pieces]
        weights = [len(p.fragment.tokens.keys) for p in split]
        score = sum(p.similarity * w for p, w in zip(split, weights)) / max(1, sum(weights))
        return split if score >= whole.similarity + SPLIT_GAIN else [whole]

    # --- results ------------------------------------------------------------------------------------

    def _best(self, checks: list[_DocumentCheck], verdict: str, claim: Claim) -> list[_DocumentCheck]:
        """The documents with the verdict, best first; among equals, those agreeing with the claim first."""
        chosen = [c for c in checks if c.verdict == verdict]

        def attribution(check: _DocumentCheck) -> int:
            """Confirming the claim first, then contradicting it (the source names someone), then naming no one."""
            starts = check.haystack.tokens.starts
            found = [self._attribution(check.haystack, starts[part.first], claim) for part in check.parts]
            return max(ATTRIBUTIONS.index(a) if a else 0 for a in found)

        chosen.sort(key=lambda c: (-round(c.score, 6), attribution(c), c.order))
        return chosen[:SHOWN_DOCUMENTS]

    def _matches(self, check: _DocumentCheck, quotation: Quotation, claim: Claim) -> list[CheckMatch]:
        """One match per part; a one-fragment verbatim quotation also at its other places in the haystack."""
        parts = list(check.parts)
        if check.verdict == "verbatim" and len(parts) == 1:
            parts = _occurrences(check.symbols, parts[0])
        return [self._match(check.haystack, part, quotation, claim) for part in parts]

    def _match(self, haystack: _Haystack, part: _Part, quotation: Quotation, claim: Claim) -> CheckMatch:
        tokens, text = haystack.tokens, self._text(haystack.info.doc_id)
        start, end = tokens.starts[part.first], tokens.ends[part.last - 1]
        diff = _diff(text, tokens, part, quotation)
        quoted = quotation.fragment_text(part.fragment)
        return self._located(haystack, text, start, end, part.similarity, diff, quoted, claim)

    def _located(self, haystack, text, start, end, similarity, diff, quoted, claim, is_match=True) -> CheckMatch:
        first, last = haystack.passage_at(start), haystack.passage_at(max(start, end - 1))
        citation = citation_for(haystack.info, first)
        if last.paragraph != first.paragraph:
            citation += f"–{last.paragraph}"
        meta = haystack.info.metadata
        attribution = self._attribution(haystack, start, claim) if is_match else None
        return CheckMatch(
            doc_id=haystack.info.doc_id,
            path=haystack.info.path,
            title=meta.title,
            author=meta.author,
            speaker=first.speaker or meta.author,
            date=meta.date,
            paragraph=first.paragraph,
            start=start,
            end=end,
            text=text[start:end],
            citation=citation,
            similarity=similarity,
            diff=tuple(diff),
            quoted=quoted,
            is_match=is_match,
            misattributed=is_match and self._contradicts(haystack, start, claim),
            uploaded=haystack.info.doc_id in self.uploaded,
            attribution=attribution if claim.speaker else None,
        )

    def _contradicts(self, haystack: _Haystack, start: int, claim: Claim) -> bool:
        if not claim.given:
            return False
        return claim.contradicted_by(_said_by(haystack, start), haystack.info.metadata.date)

    def _attribution(self, haystack: _Haystack, start: int, claim: Claim) -> str | None:
        """One of ATTRIBUTIONS for the words at `start` and the claim; None when the claim names no speaker
        (a date alone is checked by _contradicts)."""
        if not claim.given:
            return None
        if self._contradicts(haystack, start, claim):
            return "misattributed"
        if not claim.speaker:
            return None
        if haystack.info.doc_id in self.uploaded:
            return "upload"
        return "confirmed" if _said_by(haystack, start) else "unattributed"

    def _nearest(self, quotation: Quotation, symbols: dict, hits: list, haystacks: list[_Haystack]):
        """The closest passages, not a match, each with the similarity of its best-aligned span."""
        needle = "".join(_as_symbols(f.tokens.keys, symbols) for f in quotation.fragments)
        by_doc = {haystack.info.doc_id: haystack for haystack in haystacks}
        nearest = []
        for hit in hits:
            if hit.passage.doc_id not in by_doc:  # ingested into a shared store since this engine opened
                continue
            passage, haystack = hit.passage, by_doc[hit.passage.doc_id]
            tokens = haystack.tokens
            first = bisect.bisect_left(tokens.starts, passage.start)
            last = bisect.bisect_left(tokens.starts, passage.end)
            string = _as_symbols(tokens.keys[first:last], symbols)
            similarity = _align(needle, string)[2] if string else 0.0
            text = self._text(passage.doc_id)
            match = self._located(
                haystack, text, passage.start, passage.end, similarity, (), quotation.text, Claim(), is_match=False
            )
            nearest.append(match)
        nearest.sort(key=lambda match: -match.similarity)
        return tuple(nearest[:NEAREST])


def _said_by(haystack: _Haystack, start: int) -> list[str]:
    """Who the source says spoke the words at `start`: in a transcript, a turn's words are its speaker's alone;
    otherwise the document's speaker or author. Empty when it names no one."""
    passage, meta = haystack.passage_at(start), haystack.info.metadata
    if passage.speaker and passage.speaker != meta.speaker:
        return [passage.speaker]
    return [name for name in (meta.speaker, meta.author) if name]


def _passage_tokens(passage: Passage) -> Tokens:
    """A passage's tokens, with offsets into its document."""
    tokens = tokenize(passage.text)
    offset = passage.start
    return Tokens(tokens.keys, tuple(s + offset for s in tokens.starts), tuple(e + offset for e in tokens.ends))


def _symbols(quotation: Quotation) -> dict[str, str]:
    """One private-use character for each distinct token of the quotation."""
    keys = dict.fromkeys(key for fragment in quotation.fragments for key in fragment.tokens.keys)
    return {key: chr(_FIRST_SYMBOL + number) for number, key in enumerate(keys)}


def _as_symbols(keys, symbols: dict[str, str]) -> str:
    return "".join([symbols.get(key, _SENTINEL) for key in keys])


def _in_order(haystack: str, needles: list[str]) -> list[int] | None:
    """Where each needle first occurs after the previous one, or None when one does not."""
    found, position = [], 0
    for needle in needles:
        first = haystack.find(needle, position)
        if first < 0:
            return None
        found.append(first)
        position = first + len(needle)
    return found


def _best_part(fragment: Fragment, needle: str, haystack: str, windows) -> _Part:
    """The fragment where it occurs verbatim, else at its most similar span within one window."""
    first = haystack.find(needle)
    if first >= 0:
        return _Part(fragment, first, first + len(needle), 1.0, len(needle))
    best = (0, 0, -1.0)
    for start, end in windows:
        if end > start:
            first, last, similarity = _align(needle, haystack[start:end])
            if similarity > best[2]:
                best = (start + first, start + last, similarity)
    first, last, similarity = best
    shared = (len(needle) + (last - first) - Indel.distance(haystack[first:last], needle)) // 2
    return _Part(fragment, first, last, max(0.0, similarity), shared)


def _align(needle: str, haystack: str) -> tuple[int, int, float]:
    """The span [first, last) of haystack most similar to needle (Indel similarity), and that similarity."""
    if len(needle) <= len(haystack):
        window = fuzz.partial_ratio_alignment(needle, haystack)
        first, last = window.dest_start, window.dest_end
    else:
        first, last = 0, len(haystack)
    slack = min(MAX_SLACK, max(3, len(needle) // 2))

    def similarity(a: int, b: int) -> float:
        return Indel.normalized_similarity(haystack[a:b], needle)

    for _ in range(2):  # move each end to where it gives the best similarity, twice
        first = max(range(max(0, first - slack), min(last, first + slack + 1)), key=lambda a: similarity(a, last))
        last = max(
            range(max(first + 1, last - slack), min(len(haystack), last + slack) + 1),
            key=lambda b: similarity(first, b),
        )
    return first, last, similarity(first, last)


def _diff(text: str, tokens: Tokens, part: _Part, quotation: Quotation) -> list[DiffOp]:
    """Word-level differences between the document's span and the fragment, with exact texts from both."""
    quoted = part.fragment.tokens
    symbols = {key: chr(_FIRST_SYMBOL + n) for n, key in enumerate(dict.fromkeys(quoted.keys))}
    source = _as_symbols(tokens.keys[part.first : part.last], symbols)
    target = _as_symbols(quoted.keys, symbols)
    ops = []
    for opcode in Levenshtein.opcodes(source, target):
        s1, s2 = part.first + opcode.src_start, part.first + opcode.src_end
        q1, q2 = opcode.dest_start, opcode.dest_end
        if s2 > s1:
            source_start, source_end = tokens.starts[s1], tokens.ends[s2 - 1]
        else:  # an insertion: an empty range where the quotation adds words
            source_start = source_end = tokens.starts[s1] if s1 < part.last else tokens.ends[part.last - 1]
        ops.append(
            DiffOp(
                op=opcode.tag,
                quoted=quotation.text[quoted.starts[q1] : quoted.ends[q2 - 1]] if q2 > q1 else "",
                source=text[source_start:source_end],
                source_start=source_start,
                source_end=source_end,
            )
        )
    return ops


def _occurrences(string: str, part: _Part) -> list[_Part]:
    """Every place of the haystack where a verbatim fragment occurs, up to MAX_MATCHES."""
    needle = string[part.first : part.last]
    found, first = [], string.find(needle)
    while first >= 0 and len(found) < MAX_MATCHES:
        found.append(_Part(part.fragment, first, first + len(needle), 1.0, len(needle)))
        first = string.find(needle, first + len(needle))
    return found
