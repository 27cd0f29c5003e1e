"""Chinese keyword retrieval: jieba words against character bigrams, on tests/data/zh/retrieval.json.

Run as `python -m bench.zh_keywords`; it prints, for each way of cutting runs of Han characters
(keywords.han_words, the one the index uses, and keywords.han_bigrams), how often a question's
passage is first and in the first three by BM25 alone, the mean reciprocal rank, and the mean
number of index terms per passage, and how many of these answerable questions have most of their
terms unknown to the index (search.UNKNOWN_WORDS_SHARE: such a question is answered only with high
confidence). No model: the dense side cannot read Chinese yet.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

from assistant import keywords
from assistant.search import UNKNOWN_WORDS_SHARE

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "zh" / "retrieval.json"
CUTTERS = {"jieba words": keywords.han_words, "character bigrams": keywords.han_bigrams}


def measure(cut) -> dict:
    """Top-1, top-3 and MRR of the question's passage, BM25 over the passages cut with `cut`."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    with mock.patch.object(keywords, "han_words", cut):
        index = keywords.KeywordIndex.build(data["passages"], [""] * len(data["passages"]))
        ranks, mostly_unknown = [], 0
        for question, answer in data["questions"]:
            terms = list(dict.fromkeys(keywords.content_words(question)))
            mostly_unknown += sum(not index.knows(term) for term in terms) >= UNKNOWN_WORDS_SHARE * len(terms)
            ranked = [pid for pid, _ in index.top(keywords.content_words(question), depth=len(data["passages"]))]
            ranks.append(ranked.index(answer) + 1 if answer in ranked else None)
        terms = sum(len(keywords.tokens(p)) for p in data["passages"]) / len(data["passages"])
    count = len(ranks)
    return {
        "questions": count,
        "top1": round(sum(rank == 1 for rank in ranks) / count, 3),
        "top3": round(sum(rank is not None and rank <= 3 for rank in ranks) / count, 3),
        "mrr": round(sum(1 / rank for rank in ranks if rank) / count, 3),
        "terms_per_passage": round(terms, 1),
        "mostly_unknown_questions": mostly_unknown,
        "missed": [data["questions"][i][0] for i, rank in enumerate(ranks) if rank != 1],
    }


def main() -> int:
    for name, cut in CUTTERS.items():
        print(name, json.dumps(measure(cut), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
