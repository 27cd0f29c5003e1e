"""Score a training run (its final/ folder, in float) on the written-out candidates and its held-out groups.

    python -m training.recipe_search.score_run RUN_DIR candidates.jsonl.gz

Prints one JSON line and writes RUN_DIR/dev.json. Uses the GPU when there is one.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from assistant.pairs import encode_pairs, pair_tokenizer
from training.recipe_search.metrics import load, metrics

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def main(run: str, candidates: str) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(f"{run}/final").to(DEVICE).eval()
    tokenizer = pair_tokenizer(f"{run}/final")
    with open(f"{run}/final/training_args.json", encoding="utf-8") as args:
        reads_context = json.load(args).get("context", "none") == "previous"

    @torch.no_grad()
    def score(question: str, sentences: list[str], previous: list[str] | None = None) -> np.ndarray:
        out = []
        for i in range(0, len(sentences), 256):
            chunk = sentences[i : i + 256]
            contexts = previous[i : i + 256] if reads_context and previous is not None else None
            inputs = encode_pairs(tokenizer, [question] * len(chunk), chunk, contexts)
            logits = model(**{k: torch.from_numpy(v).to(DEVICE) for k, v in inputs.items()}).logits
            out.append(logits.squeeze(-1).float().cpu().numpy())
        return np.concatenate(out)

    result = metrics(load(candidates), score)
    held: dict[str, list[bool]] = {}
    with open(f"{run}/held_out_groups.jsonl", encoding="utf-8") as lines:
        for line in lines:
            group = json.loads(line)
            if 1 in group["labels"]:
                best = int(np.argmax(score(group["question"], group["sentences"], group.get("contexts") or None)))
                held.setdefault(group["source"], []).append(group["labels"][best] == 1)
    result["heldout_groups"] = {k: round(float(np.mean(v)), 4) for k, v in held.items()}
    result["heldout_all"] = round(float(np.mean([x for v in held.values() for x in v])), 4)
    print(json.dumps({"run": run, **result}))
    with open(f"{run}/dev.json", "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
