"""Keywords: the content words of questions and passages, and a BM25 index over them (bm25s).

Passages are ranked by BM25 with bm25s: it scores 200,000 passages in about 2 ms,
where the SQLite FTS5 OR-query it replaced took about 28 ms (docs/benchmarks.md,
"Keyword index"), with the same answer-in-top-1 on the labelled questions. FTS5 stays
in the passage store for exact phrases. Each passage is indexed twice, its text and
its context (who and what it comes from: document title, author, kind, place,
reference, speaker), so "the note verbale" or "the spokesperson" find the right
document's passages; the context counts CONTEXT_WEIGHT as much as the text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import snowballstemmer

WORD = re.compile(r"\w+")
# Question words that say nothing about what is asked ("What did they say about ..."), left out
# of both sides so a passage is not ranked for containing them.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves say said says tell told ever
    document documents text according
    """.split()  # noqa: SIM905 - a word list reads better as words
)
CONTEXT_WEIGHT = 0.3
BM25_K1, BM25_B = 1.2, 0.75  # SQLite FTS5's constants, which this index replaced for ranking
#: What save() writes in its folder: one bm25s index per field, and the passage count.
FIELDS = ("text", "context")
ABOUT = "keywords.json"

_stemmer = snowballstemmer.stemmer("english")


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Snowball stem of a word, cached: the pure-Python stemmer is otherwise a large part of an ask."""
    return _stemmer.stemWord(word)


def content_words(text: str) -> list[str]:
    """The words that carry meaning, case-folded, in order: no stop words, no single Latin letters."""
    return [w for w in WORD.findall(text.casefold()) if w not in STOPWORDS and (len(w) > 1 or not w.isascii())]


def tokens(text: str) -> list[str]:
    """The stems of a text's content words, as the index stores them."""
    return [stem(word) for word in content_words(text)]


class KeywordIndex:
    """BM25 over every passage's text and context; row i is passage id i. Read-only once built."""

    def __init__(self, size: int, fields: dict[str, bm25s.BM25]) -> None:
        self.size = size
        self._fields = fields

    @classmethod
    def build(cls, texts: Sequence[str], contexts: Sequence[str]) -> KeywordIndex:
        """Index passage texts and their contexts (same length, in passage id order)."""
        if len(texts) != len(contexts):
            raise ValueError("every passage needs a text and a context")
        fields = {}
        if texts:
            for name, column in zip(FIELDS, (texts, contexts)):
                retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
                # bm25s needs a token in every row; "" matches no question word.
                retriever.index([tokens(value) or [""] for value in column], show_progress=False)
                fields[name] = retriever
        return cls(len(texts), fields)

    def save(self, directory: Path) -> list[Path]:
        """Write the index into `directory` (created); return the files written."""
        directory.mkdir(parents=True)
        (directory / ABOUT).write_text(json.dumps({"passages": self.size}), encoding="utf-8")
        for name, retriever in self._fields.items():
            retriever.save(directory / name, show_progress=False)
        return sorted(path for path in directory.rglob("*") if path.is_file())

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        """Open an index written by save(), memory-mapped. Raises OSError or ValueError when damaged."""
        size = int(json.loads((directory / ABOUT).read_text(encoding="utf-8"))["passages"])
        fields = {name: bm25s.BM25.load(directory / name, mmap=True) for name in FIELDS} if size else {}
        if any(int(retriever.scores["num_docs"]) != size for retriever in fields.values()):
            raise ValueError("the keyword index and its passage count disagree")
        return cls(size, fields)

    def knows(self, word: str) -> bool:
        """Whether any passage's text or context has the word (by its stem)."""
        stemmed = stem(word.casefold())
        return any(stemmed in retriever.vocab_dict for retriever in self._fields.values())

    def scores(self, words: Sequence[str]) -> np.ndarray | None:
        """BM25 of every passage for these words (text + CONTEXT_WEIGHT × context); None when none is known."""
        stems = [stem(word.casefold()) for word in words]
        total = None
        for name, weight in zip(FIELDS, (1.0, CONTEXT_WEIGHT)):
            retriever = self._fields.get(name)
            ids = retriever.get_tokens_ids(stems) if retriever else []
            if ids:
                weighted = weight * retriever.get_scores_from_ids(ids)
                total = weighted if total is None else total + weighted
        return total

    def top(self, words: Sequence[str], depth: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `depth` best passages with a positive score, best first, among `allowed` ids if given."""
        scores = self.scores(words)
        if scores is None:
            return []
        candidates = allowed[scores[allowed] > 0] if allowed is not None else np.flatnonzero(scores > 0)
        if len(candidates) > depth:
            candidates = candidates[np.argpartition(-scores[candidates], depth - 1)[:depth]]
        best = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(i), float(scores[i])) for i in best]
