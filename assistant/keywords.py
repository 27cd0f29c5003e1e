"""Keywords: the content words of questions and passages, and a BM25 index over them (bm25s).

Passages are ranked by BM25 with bm25s: it scores 200,000 passages in about 2 ms,
where the SQLite FTS5 OR-query it replaced took about 28 ms (docs/benchmarks.md,
"Keyword index"), with the same answer-in-top-1 on the labelled questions. FTS5 stays
in the passage store for exact phrases. Each passage is indexed twice, its text and
its context (who and what it comes from: document title, author, kind, place,
reference, speaker), so "the note verbale" or "the spokesperson" find the right
document's passages; the context counts CONTEXT_WEIGHT as much as the text.

Chinese writes no spaces: a run of Han characters is cut into words by jieba (its bundled
dictionary, loaded on the first Chinese text, about a second), which found the answer first
more often than overlapping character bigrams on a Chinese check (bench/zh_keywords.py).
Every other word is read as before.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import snowballstemmer

from assistant.cjk import CJK_LETTER, HAN, HAN_RUN

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
# The same for Chinese, as jieba cuts them: particles, pronouns and question words ("……是什么？").
CHINESE_STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 对 就 都 也 而 并 把 被 让 给 从 向 于 以 之 其 这 那 这个 那个 这些 那些 这样 那样
    什么 哪些 哪个 哪里 怎么 怎样 怎么样 如何 为什么 为何 何时 多少 几 谁 吗 呢 吧 啊 呀 有 没有 有没有 说 讲 谈
    表示 称 我 你 他 她 它 我们 你们 他们 她们 它们 请问 关于 一下 曾 曾经 能 会 要 可以 是否 还是
    """.split()  # noqa: SIM905 - a word list reads better as words
)
CONTEXT_WEIGHT = 0.3
BM25_K1, BM25_B = 1.2, 0.75  # SQLite FTS5's constants, which this index replaced for ranking
#: What save() writes in its folder: one bm25s index per field, and the passage count.
FIELDS = ("text", "context")
ABOUT = "keywords.json"

_stemmer = snowballstemmer.stemmer("english")
_segmenter_lock = threading.Lock()
_segmenters: list = []  # the one jieba word cutter, once built


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Snowball stem of a word, cached: the pure-Python stemmer is otherwise a large part of an ask."""
    return _stemmer.stemWord(word)


def content_words(text: str) -> list[str]:
    """The words that carry meaning, case-folded, in order: no stop words, no single Latin letters.

    A run of Han characters gives its words (han_words), without CHINESE_STOPWORDS; a word mixing
    Han and other letters ('新冠covid') is read as its Han and other parts.
    """
    words = []
    for word in WORD.findall(text.casefold()):
        if HAN.search(word) is None:
            if word not in STOPWORDS and (len(word) > 1 or not word.isascii()):
                words.append(word)
            continue
        cursor = 0
        for run in HAN_RUN.finditer(word):
            words += content_words(word[cursor : run.start()]) if run.start() > cursor else []
            words += [w for w in han_words(run.group()) if w not in CHINESE_STOPWORDS]
            cursor = run.end()
        words += content_words(word[cursor:]) if cursor < len(word) else []
    return words


def phrase_terms(text: str) -> list[str]:
    """The terms of an exact phrase as FTS5 matches them: its words, each CJK letter a term of its own.

    A word segmenter may cut a phrase differently from the passage holding it; single characters
    cannot be cut differently, so the passage store indexes CJK letters one by one (fts_text).
    """
    return WORD.findall(_spaced_cjk(text))


def fts_text(text: str) -> str:
    """A passage's text as the passage store's FTS5 table indexes it: each CJK letter its own token."""
    return _spaced_cjk(text)


def fts_phrase(text: str, column: str = "text") -> str:
    """An FTS5 query for `text` as an exact phrase in `column`, e.g. 'text : "涉 疆 问 题"'."""
    return f'{column} : "' + " ".join(phrase_terms(text)).replace('"', '""') + '"'


def _spaced_cjk(text: str) -> str:
    return CJK_LETTER.sub(r" \g<0> ", text) if CJK_LETTER.search(text) else text


def han_words(run: str) -> list[str]:
    """The words of a run of Han characters, by jieba's dictionary (and its HMM for words it lacks)."""
    return [word for word in _segmenter().cut(run) if word.strip()]


def han_bigrams(run: str) -> list[str]:
    """The overlapping character pairs of a run of Han characters (one character alone stays one): the
    other way to read Chinese without a dictionary, measured against han_words in bench/zh_keywords.py."""
    return [run[i : i + 2] for i in range(len(run) - 1)] or [run]


def _segmenter():
    """jieba's word cutter with its bundled dictionary, built once per process and never written to disk.

    jieba would cache the dictionary in the temp folder, but reading that cache took as long as building
    it (1.4 s and 1.3 s here), and a file in a shared folder is one another user could replace. Its
    progress lines go to the 'jieba' logger (warnings only), not straight to stderr.
    """
    with _segmenter_lock:  # the keyword search's thread and the caller's may both ask first
        if not _segmenters:
            import jieba

            jieba.default_logger.removeHandler(jieba.log_console)
            jieba.default_logger.setLevel(logging.WARNING)
            segmenter = jieba.Tokenizer()
            segmenter.FREQ, segmenter.total = segmenter.gen_pfdict(segmenter.get_dict_file())
            segmenter.initialized = True  # what initialize() sets after loading, minus its cache file
            _segmenters.append(segmenter)
        return _segmenters[0]


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
