"""Ranking metrics on written-out engine candidates (candidates.py), for any scorer of (question, sentences,
previous sentences): each sentence goes with the one before it in its passage, as in the engine.

A passage's score is its best sentence's logit plus `weight` × its hybrid score, as in the engine.
Per set: top-1 and top-3 (the answer's passage ranks first / in the first three), highlight (the
best sentence of the answer's passage holds the answer) and AUC of the best logit between answerable
and unanswerable questions (how well the logit alone could decline).
"""

from __future__ import annotations

import gzip
import json

import numpy as np


def load(path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def metrics(records: list[dict], score, weight: float = 12.0) -> dict:
    out = {}
    for name in sorted({r["set"] for r in records}):
        top1 = top3 = highlight = answerable = 0
        best_answerable, best_unanswerable = [], []
        for record in (r for r in records if r["set"] == name):
            answerable += record["answerable"]
            if not record["cands"]:
                continue
            sentences = [s for c in record["cands"] for s in c["sents"]]
            previous = [c["sents"][i - 1] if i else "" for c in record["cands"] for i in range(len(c["sents"]))]
            logits = np.asarray(score(record["question"], sentences, previous))
            best, position = [], 0
            for candidate in record["cands"]:
                own = logits[position : position + len(candidate["sents"])]
                position += len(candidate["sents"])
                j = int(np.argmax(own))
                best.append((own[j] + weight * candidate["hybrid"], own[j], j))
            order = sorted(range(len(best)), key=lambda i: -best[i][0])
            top = max(b[1] for b in best)
            if not record["answerable"]:
                best_unanswerable.append(top)
                continue
            best_answerable.append(top)
            ranks = [rank for rank, i in enumerate(order, 1) if record["cands"][i]["has"]]
            if ranks:
                top1 += ranks[0] == 1
                top3 += ranks[0] <= 3
                first = order[ranks[0] - 1]
                highlight += record["cands"][first]["hsent"][best[first][2]]
        pairs = [a > u for a in best_answerable for u in best_unanswerable]
        out[name] = {
            "top1": round(top1 / answerable, 3),
            "top3": round(top3 / answerable, 3),
            "hl": round(highlight / answerable, 3),
            "auc": round(float(np.mean(pairs)), 3) if pairs else None,
            "n": answerable,
        }
    return out
