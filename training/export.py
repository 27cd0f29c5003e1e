"""Export the trained model to ONNX (float and int8), calibrate it, and measure it on the held-out slices.

    python -m training.export --run training/runs/shipped --out models/qa-reranker

1. ONNX export of `final/`, then dynamic int8 quantisation (weights per channel).
2. Held-out groups (training/data.py keeps them out of training) are split by key into a calibration
   half and a test half. On the calibration half: Platt scaling of the int8 logits, then the
   probability threshold that best separates questions whose answering sentence is among the
   candidates from the same questions with it removed (on-topic sentences that do not answer).
3. On the test half, per set, for float and int8: top-1 (the answering sentence ranked first), ROC AUC
   over pairs, and that decline/answer accuracy. int8 ships when it costs at most one point of top-1.
4. Writes model.onnx, tokenizer files, reranker.json (calibration, threshold, scores) and scores.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.reranker import MODEL_FILE, SETTINGS_FILE, Reranker
from assistant.search import calibrate_threshold

#: Pairs whose logits are recorded beside the shipped model; tests/test_reranker.py checks it still gives them.
RECORDED_PAIRS = [
    (
        "What are the Xinjiang issues really about?",
        "They are about countering violent terrorism, radicalization and separatism.",
    ),
    ("What is the capital of Australia?", "Xinjiang enjoys social stability and sound economic growth."),
    ("Who won the 1998 World Cup?", "France won the 1998 FIFA World Cup, beating Brazil 3-0 in the final in Paris."),
    ("What did the journalist ask?", "China Daily: What is China’s comment?"),
]
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("training/runs/shipped"))
    parser.add_argument("--out", type=Path, default=Path("models/qa-reranker"))
    parser.add_argument("--max-groups", type=int, default=600, help="held-out groups per set and half, at most")
    args = parser.parse_args(argv)
    began = time.time()
    work = args.run / "onnx"
    work.mkdir(parents=True, exist_ok=True)
    float_path, int8_path = export(args.run / "final", work)
    calibration, test = held_out_halves(args.run / "held_out_groups.jsonl", args.max_groups)

    int8 = _provisional(int8_path, work / "int8")
    logits = {key: _group_logits(int8, groups) for key, groups in calibration.items()}
    scale, bias = platt(logits)
    int8.settings = replace(int8.settings, scale=scale, bias=bias, threshold=0.5)
    threshold = fit_threshold(int8, logits)
    scores = {"int8": measure(int8, test, scale, bias, threshold)}
    floating = _provisional(float_path, work / "float")
    scores["float"] = measure(floating, test, scale, bias, threshold)
    loss = scores["float"]["all"]["top1"] - scores["int8"]["all"]["top1"]
    chosen = "int8" if loss <= 0.01 else "float"
    write_model(
        args.out,
        int8_path if chosen == "int8" else float_path,
        args.run / "final",
        scale,
        bias,
        threshold,
        scores,
        chosen,
    )
    print(json.dumps({"shipped": chosen, "int8_top1_loss": round(loss, 4), "threshold": threshold, **scores}, indent=2))
    print(f"export and held-out measurement took {time.time() - began:.0f} s")


def export(final: Path, work: Path) -> tuple[Path, Path]:
    """ONNX float and int8 files of the trained model in `final`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(final).eval()
    example = torch.ones((2, 16), dtype=torch.long)
    float_path, int8_path = work / "model-float.onnx", work / "model-int8.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        model,
        (example, example, torch.zeros_like(example)),
        str(float_path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in names} | {"logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True)
    return float_path, int8_path


def held_out_halves(path: Path, max_groups: int):
    """Held-out groups per set, split by key into (calibration, test), each capped at max_groups."""
    calibration: dict[str, list[dict]] = {}
    test: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        group = json.loads(line)
        half = calibration if int(hashlib.sha256(group["key"].encode()).hexdigest()[:8], 16) % 2 else test
        bucket = half.setdefault(group["source"], [])
        if len(bucket) < max_groups:
            bucket.append(group)
    return calibration, test


def _provisional(model_file: Path, folder: Path) -> Reranker:
    """A Reranker on a model file before its calibration is known."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_file, folder / MODEL_FILE)
    final = Path(model_file).parent.parent / "final"
    shutil.copy(final / "tokenizer.json", folder / "tokenizer.json")
    settings = {"calibration": {"scale": 1.0, "bias": 0.0}, "threshold": 0.5, "context": _context(final)}
    (folder / SETTINGS_FILE).write_text(json.dumps(settings))
    return Reranker(folder)


def _group_logits(reranker: Reranker, groups: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (reranker.score(g["question"], g["sentences"], g.get("contexts") or None), np.array(g["labels"]))
        for g in groups
    ]


def _context(final: Path) -> str:
    """What the trained model reads beside each sentence: "none", or "previous" (training/train.py --context)."""
    return json.loads((final / "training_args.json").read_text()).get("context", "none")


def platt(logits: dict[str, list]) -> tuple[float, float]:
    """Logistic regression of labels on logits, over every calibration pair (sets weighted equally)."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, weights = [], [], []
    for groups in logits.values():
        pairs = [(x, y) for scores, labels in groups for x, y in zip(scores, labels)]
        xs += [x for x, _ in pairs]
        ys += [y for _, y in pairs]
        weights += [1.0 / len(pairs)] * len(pairs)
    fit = LogisticRegression(C=100.0).fit(
        np.array(xs)[:, None], np.array(ys), sample_weight=np.array(weights) * len(xs)
    )
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def fit_threshold(reranker: Reranker, logits: dict[str, list]) -> float:
    """The probability threshold that best tells 'answer among the candidates' from 'answer removed'."""
    answerable, unanswerable = _question_level(reranker, logits)
    return calibrate_threshold(answerable, unanswerable)


def _question_level(reranker: Reranker, logits: dict[str, list]):
    answerable, unanswerable = [], []
    for groups in logits.values():
        for scores, labels in groups:
            probabilities = reranker.probability(scores)
            if labels.any():
                answerable.append(float(probabilities.max()))
            if (labels == 0).any():
                unanswerable.append(float(probabilities[labels == 0].max()))
    return answerable, unanswerable


def measure(reranker: Reranker, test: dict[str, list[dict]], scale: float, bias: float, threshold: float) -> dict:
    """Per set and overall: sentence top-1, pair ROC AUC, and decline/answer accuracy at the threshold."""
    from sklearn.metrics import roc_auc_score

    reranker.settings = replace(reranker.settings, scale=scale, bias=bias, threshold=threshold)
    report, everything = {}, {}
    for source, groups in test.items():
        logits = _group_logits(reranker, groups)
        everything[source] = logits
        report[source] = _scores(reranker, {source: logits}, threshold, roc_auc_score)
    report["all"] = _scores(reranker, everything, threshold, roc_auc_score)
    return report


def _scores(reranker, logits, threshold, roc_auc_score) -> dict:
    with_answer = [(s, y) for groups in logits.values() for s, y in groups if y.any()]
    top1 = float(np.mean([y[int(np.argmax(s))] == 1 for s, y in with_answer])) if with_answer else None
    xs = np.concatenate([s for groups in logits.values() for s, _ in groups])
    ys = np.concatenate([y for groups in logits.values() for _, y in groups])
    answerable, unanswerable = _question_level(reranker, logits)
    return {
        "questions": sum(len(g) for g in logits.values()),
        "top1": round(top1, 4) if top1 is not None else None,
        "auc": round(float(roc_auc_score(ys, xs)), 4) if 0 < ys.sum() < len(ys) else None,
        "answered_when_answer_present": round(float(np.mean([p >= threshold for p in answerable])), 4),
        "declined_when_answer_removed": round(float(np.mean([p < threshold for p in unanswerable])), 4),
    }


def write_model(out: Path, model_file: Path, final: Path, scale, bias, threshold, scores, chosen) -> None:
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_file, out / MODEL_FILE)
    for name in TOKENIZER_FILES:
        shutil.copy(final / name, out / name)
    args = json.loads((final / "training_args.json").read_text())
    settings = {
        "name": "qa-reranker",
        "calibration": {"scale": round(scale, 6), "bias": round(bias, 6)},
        "threshold": threshold,
        "max_tokens": int(args["max_tokens"]),
        "weights": chosen,
        "layers": int(args["layers"]),
        "context": args.get("context", "none"),
        "sha256": hashlib.sha256((out / MODEL_FILE).read_bytes()).hexdigest(),
    }
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    shipped = Reranker(out)
    recorded = [(q, s, round(float(shipped.score(q, [s])[0]), 5)) for q, s in RECORDED_PAIRS]
    (out / "recorded_scores.json").write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n")
    (out / "scores.json").write_text(json.dumps({"training": args, "held_out": scores}, indent=2) + "\n")


if __name__ == "__main__":
    main()
