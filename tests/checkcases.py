"""Generated quotation checks from real sentences of the seed documents and the held-out UN speeches.

Each case is a quotation made from one or two real sentences (changed the way quotations
get changed in reports), with the verdict the checker must give and the exact places of
the source it must cite. Generation is deterministic (a seeded random.Random) and needs no
model: documents and sentences come from the engine's own corpus and passage code.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from assistant.check import ELLIPSIS, fold
from assistant.corpus import read_document, scan_corpus
from assistant.passages import passages_for

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
HELDOUT_CORPUS = REPO / "tests" / "data" / "heldout" / "corpus"
NOTE = "2023-09-14-china-un-mission-note-verbale"
PRESS = "2022-07-28-mfa-press-conference-zhao-lijian"

#: Sentences no document says, on the corpus's own subjects and in its register (hard negatives).
FABRICATED = [
    "China will open a new consulate in Nairobi to strengthen trade ties with East Africa.",
    "The Government of Chile has decided to withdraw from the Paris Agreement by the end of the decade.",
    "Xinjiang's cotton exports doubled last year thanks to new irrigation projects in Kashgar.",
    "The High Commissioner praised the transparency of the Chinese authorities during her visit to Urumqi.",
    "Our delegation calls for an immediate ban on all commercial fishing in the Indian Ocean.",
    "Nigeria will host the next United Nations climate summit in Lagos in two years' time.",
    "The Security Council must expel any member State that violates the Charter twice in one year.",
    "Estonia proposes a global tax on cryptocurrencies to pay for peacekeeping in Africa.",
    "We thank the Atlantic Council for organizing this important and balanced event on Xinjiang.",
    "Zhao Lijian said the assessment was welcome and that China accepts its findings in full.",
]
#: Replacements for a changed word: each differs from any word it replaces.
SUBSTITUTES = ["seven", "purple", "entirely", "Canada", "never", "minor", "tomorrow", "ancient", "wooden", "silent"]
TYPOGRAPHIC = str.maketrans({"'": "’", "’": "'", '"': "“", "“": '"', "”": '"', "-": "–", "–": "-"})


@dataclass(frozen=True)
class Place:
    """Where the checker must find (part of) a quotation: a document and exact offsets."""

    doc_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Case:
    """A quotation, the verdict it must get, and what else must be true of the result."""

    kind: str
    quotation: str
    verdict: str
    places: tuple[Place, ...] = ()  # every one must be a match, at exactly these offsets
    speaker: str | None = None  # the claim, for misattribution
    date: str | None = None
    misattributed: bool = False
    said_by: str | None = None  # who the record says said it, when misattributed
    differences: tuple[tuple[str, str, str], ...] = field(default=())  # (op, quoted, source) expected in the diff

    @property
    def name(self) -> str:
        doc = self.places[0].doc_id if self.places else "none"
        return f"{self.kind}-{doc}-{zlib.crc32(self.quotation.encode()) % 10_000:04d}"


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    passage: int  # index of its passage in the document
    start: int
    end: int
    text: str
    speaker: str | None
    author: str | None
    date: str | None

    @property
    def place(self) -> Place:
        return Place(self.doc_id, self.start, self.end)


@cache
def documents() -> dict[str, str]:
    """Every test document's text by id (seeds and held-out speeches)."""
    return {doc_id: text for doc_id, (text, _) in _read().items()}


@cache
def sentences() -> tuple[Sentence, ...]:
    """Sentences of 10 to 45 words found once in all the test documents, without an ellipsis or an opening quote."""
    folded = {doc_id: " ".join(fold(text).split()) for doc_id, text in documents().items()}
    found = []
    for doc_id, (text, passages) in _read().items():
        for number, passage in enumerate(passages):
            for span in passage.sentences:
                sentence = text[span.start : span.end]
                words = sentence.split()
                if not 10 <= len(words) <= 45 or ELLIPSIS.search(sentence) or sentence[0] in "\"“‘'(":
                    continue
                needle = " ".join(fold(sentence).split())
                if sum(doc.count(needle) for doc in folded.values()) != 1:
                    continue
                found.append(Sentence(doc_id, number, span.start, span.end, sentence, passage.speaker, *_meta(doc_id)))
    return tuple(found)


def generated_cases() -> list[Case]:
    """The cases, in a fixed order: at least 60, of every kind."""
    rng = random.Random(12)
    pool = list(sentences())
    seeds = [s for s in pool if s.doc_id in (NOTE, PRESS)]
    speeches = [s for s in pool if s.doc_id not in (NOTE, PRESS)]
    cases = []
    cases += [_typographic(s, rng) for s in rng.sample(seeds, 4) + rng.sample(speeches, 8)]
    cases += [_one_word_changed(s, rng) for s in rng.sample(seeds, 3) + rng.sample(speeches, 7)]
    cases += [_words_dropped(s, rng) for s in rng.sample([s for s in pool if len(s.text.split()) >= 15], 10)]
    cases += [_ellipsis_joined(a, b, rng) for a, b in _pairs(pool, rng, 8, adjacent=False)]
    cases += [_reordered(a, b) for a, b in _pairs(pool, rng, 8, adjacent=True)]
    cases += _misattributed(seeds, rng)
    cases += [Case("fabricated", text, "not_found") for text in FABRICATED]
    cases += [_word_salad(pool, rng) for _ in range(4)]
    return cases


def _typographic(sentence: Sentence, rng: random.Random) -> Case:
    """Straight and typographic quotes, apostrophes and dashes swapped, case and spacing changed."""
    text = sentence.text.translate(TYPOGRAPHIC)
    text = text.upper() if rng.random() < 0.3 else text.lower() if rng.random() < 0.5 else text
    words = text.split()
    text = "".join(word + rng.choice([" ", "  ", "\n", " \t"]) for word in words[:-1]) + words[-1]
    return Case("verbatim_typographic", text, "verbatim", (sentence.place,))


def _one_word_changed(sentence: Sentence, rng: random.Random) -> Case:
    """One word inside the sentence (not the first three or last three) replaced by another."""
    words = sentence.text.split(" ")
    choices = [i for i in range(3, len(words) - 3) if words[i].isalpha() and len(words[i]) >= 4]
    i = rng.choice(choices)
    new = rng.choice([w for w in SUBSTITUTES if w.lower() != words[i].lower()])
    old, words[i] = words[i], new
    return Case("one_word_changed", " ".join(words), "altered", (sentence.place,), differences=(("replace", new, old),))


def _words_dropped(sentence: Sentence, rng: random.Random) -> Case:
    """Two or three consecutive words inside the sentence left out."""
    words = sentence.text.split(" ")
    count = rng.choice([2, 3])
    i = rng.randrange(3, len(words) - 3 - count)
    dropped = " ".join(words[i : i + count])
    kept = " ".join(words[:i] + words[i + count :])
    return Case("words_dropped", kept, "altered", (sentence.place,), differences=(("delete", "", dropped),))


def _ellipsis_joined(first: Sentence, second: Sentence, rng: random.Random) -> Case:
    """Two sentences of one document, in order, with the text between them left out at an ellipsis."""
    mark = rng.choice([" ... ", " … ", " [...] ", "… ", " […] "])
    return Case("ellipsis_joined", first.text + mark + second.text, "verbatim", (first.place, second.place))


def _reordered(first: Sentence, second: Sentence) -> Case:
    """Two consecutive sentences quoted in the opposite order."""
    return Case("sentences_reordered", second.text + " " + first.text, "altered", (second.place, first.place))


def _misattributed(seeds: list[Sentence], rng: random.Random) -> list[Case]:
    """Seed sentences attributed to someone else or to another day; and a few rightly attributed."""
    others = ["Wang Yi", "Michelle Bachelet", "Human Rights Watch", "Antonio Guterres"]
    cases = []
    for sentence in rng.sample(seeds, 8):
        who = sentence.speaker or sentence.author
        if rng.random() < 0.5:
            claim = {"speaker": rng.choice(others)}
        else:
            claim = {"date": "2021-03-0" + str(rng.randint(1, 9))}
        case = Case("misattributed", sentence.text, "verbatim", (sentence.place,), **claim, misattributed=True)
        cases.append(replace(case, said_by=who))
    for sentence in rng.sample(seeds, 4):
        who = sentence.speaker or sentence.author
        case = Case("rightly_attributed", sentence.text, "verbatim", (sentence.place,), speaker=who, date=sentence.date)
        cases.append(case)
    return cases


def _word_salad(pool: list[Sentence], rng: random.Random) -> Case:
    """Twelve words from sentences of different documents: every word is in the corpus, the sentence is not."""
    words = [rng.choice(s.text.split()) for s in rng.sample(pool, 12)]
    return Case("fabricated", " ".join(words), "not_found")


def _pairs(pool: list[Sentence], rng: random.Random, count: int, adjacent: bool) -> list[tuple[Sentence, Sentence]]:
    """Pairs of sentences of one document: consecutive in one passage, or at least one sentence apart."""
    by_doc: dict[str, list[Sentence]] = {}
    for sentence in pool:
        by_doc.setdefault(sentence.doc_id, []).append(sentence)
    candidates = []
    for items in by_doc.values():
        for a, b in zip(items, items[1:]):
            text = documents()[a.doc_id]
            between = text[a.end : b.start]
            consecutive = a.passage == b.passage and not between.strip()
            if consecutive if adjacent else bool(between.strip()):
                candidates.append((a, b))
    return rng.sample(candidates, count)


@cache
def _read() -> dict:
    read = {}
    for folder in (SEED_CORPUS, HELDOUT_CORPUS):
        sources, _ = scan_corpus(folder)
        for source in sources:
            document = read_document(source)
            read[document.doc_id] = (document.text, passages_for(document))
    return read


@cache
def _metadata() -> dict:
    sources, _ = scan_corpus(SEED_CORPUS)
    return {source.doc_id: read_document(source).metadata for source in sources}


def _meta(doc_id: str) -> tuple[str | None, str | None]:
    meta = _metadata().get(doc_id)
    return (meta.author, meta.date) if meta else (None, None)
