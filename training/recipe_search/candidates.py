"""Write out, for every labelled question, the hybrid candidates the engine hands the reranker.

    python -m training.recipe_search.candidates --out candidates.jsonl.gz \
        --set seed corpus embeddings tests/data/seed_questions.jsonl ...

Each line: the question, whether it is answerable, and its candidates (document, hybrid score, cosine,
sentences, whether the passage and each sentence hold the labelled answer). Scoring these with a
trained model (`metrics`) ranks them exactly as `Searcher._rerank` does, without the index, so recipe
variants can be compared on a GPU machine that has no FAISS.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from assistant import search
from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.evaluate import _same_document, load_labelled


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", nargs=4, action="append", metavar=("NAME", "CORPUS", "INDEX", "QUESTIONS"))
    args = parser.parse_args(argv)
    seen: list[dict] = []
    rerank = search.Searcher._rerank

    def spy(self, question, candidates, phrase_matched, cosine_floor, *more, **options):
        seen.append({"phrase": phrase_matched, "floor": cosine_floor, "hits": candidates})
        return rerank(self, question, candidates, phrase_matched, cosine_floor, *more, **options)

    search.Searcher._rerank = spy
    engine = None
    with gzip.open(args.out, "wt", encoding="utf-8") as out:
        for name, corpus, index, questions in args.set:
            shared = {} if engine is None else {"embedder": engine.embedder, "reranker": engine.reranker}
            engine = QuoteEngine.open(Settings(corpus_dir=Path(corpus), index_dir=Path(index)), build=True, **shared)
            for labelled in load_labelled(Path(questions)):
                seen.clear()
                engine.ask(labelled.question, top_k=10, mode="reranked")
                record = seen[0] if seen else {"phrase": False, "floor": 1.0, "hits": []}
                out.write(
                    json.dumps(
                        {
                            "set": name,
                            "id": labelled.id,
                            "question": labelled.question,
                            "answerable": labelled.answerable,
                            "phrase": record["phrase"],
                            "floor": record["floor"],
                            "cands": [_candidate(hit, labelled) for hit in record["hits"]],
                        }
                    )
                    + "\n"
                )


def _candidate(hit, labelled) -> dict:
    passage = hit.passage
    sentences = [passage.text[s.start - passage.start : s.end - passage.start] for s in passage.sentences]
    sentences = sentences or [passage.text]
    has = bool(
        labelled.answerable and _same_document(passage.doc_id, labelled.doc_id) and labelled.answer in passage.text
    )
    return {
        "doc": passage.doc_id,
        "hybrid": hit.score,
        "cos": hit.relevance,
        "sents": sentences,
        "has": has,
        "hsent": [has and labelled.answer in s for s in sentences],
    }


if __name__ == "__main__":
    main()
