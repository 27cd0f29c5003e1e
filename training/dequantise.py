"""Rebuild the shipped reranker as a float transformers model from its int8 ONNX file, to train on from it.

    python -m training.dequantise --model models/qa-reranker --out training/runs/shipped-dequantised/final

The float weights the shipped model.onnx was exported from (training/export.py) were never kept. This
reads every initializer of the ONNX file, dequantises the int8 ones ((q - zero_point) * scale, per output
channel for linear layers, one scale for embeddings), and loads them into a BertForSequenceClassification
shaped like training/train.py's `base_model`. It fails if a parameter is left unset or an initializer is
unused. The folder it writes (weights, config, tokenizer, training_args.json) is what training/train.py
writes as `final/`, so training/export.py exports it again. It then prints how far the rebuilt model's
logits are from the int8 model's on pairs from the seed corpus; they differ a little, because the int8
model also quantises its activations.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import numpy as np

from assistant.pairs import encode_pairs, pair_tokenizer
from training.export import TOKENIZER_FILES

QUESTIONS = [
    "What are the Xinjiang issues really about?",
    "Who launched the event on Xinjiang?",
    "What did the NGOs ask Michelle Bachelet?",
    "When is the event scheduled?",
    "What is China's position on the assessment?",
]
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def dequantised_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """Torch parameter name -> float32 array, from the initializers of an int8 (or float) BERT ONNX file."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    # Weights of torch Linear layers lost their names in export; the MatMulInteger that reads one names its layer.
    layer_of = {
        node.input[1]: node.output[0].lstrip("/").split("/MatMul")[0].replace("/", ".")
        for node in graph.node
        if node.op_type == "MatMulInteger"
    }
    weights: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if name.endswith(("_scale", "_zero_point")):
            continue
        if not name.endswith("_quantized"):
            weights[name] = array.astype(np.float32)
            continue
        stem = name.removesuffix("_quantized")
        scale, zero_point = arrays.get(f"{stem}_scale"), arrays.get(f"{stem}_zero_point")
        if scale is None or zero_point is None:
            raise ValueError(f"{name} has no scale or zero point")
        matrix = (array.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)
        if stem.endswith(".weight") and scale.ndim == 0:  # an embedding table, used as is
            weights[stem] = matrix
        elif stem.endswith(".weight_Transposed"):  # a Gemm (pooler, classifier) turned into a MatMul
            weights[stem.removesuffix("_Transposed")] = matrix.T
        elif name in layer_of:  # MatMul weights are [in, out]; torch Linear keeps [out, in]
            weights[f"{layer_of[name]}.weight"] = matrix.T
        else:
            raise ValueError(f"cannot tell which parameter the quantized initializer {name} is")
    return weights


def rebuilt_model(onnx_path: Path, base_path: str, layers: int):
    """A float32 BertForSequenceClassification whose every parameter comes from the ONNX file."""
    import torch
    from transformers import AutoConfig, BertForSequenceClassification

    config = AutoConfig.from_pretrained(base_path, num_labels=1, num_hidden_layers=layers)
    model = BertForSequenceClassification(config).eval()
    weights = dequantised_weights(onnx_path)
    parameters = dict(model.named_parameters())
    unset, unused = sorted(set(parameters) - set(weights)), sorted(set(weights) - set(parameters))
    if unset or unused:
        raise ValueError(f"parameters not in the ONNX file: {unset}; ONNX weights with no parameter: {unused}")
    with torch.no_grad():
        for name, parameter in parameters.items():
            if tuple(parameter.shape) != weights[name].shape:
                raise ValueError(f"{name}: model shape {tuple(parameter.shape)}, ONNX {weights[name].shape}")
            parameter.copy_(torch.from_numpy(weights[name]))
    return model


def seed_sentences(count: int) -> list[str]:
    """The first `count` sentences of 30-200 characters in the seed corpus, across both files."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", re.sub(r"\s+", " ", text))]
    return [s for s in sentences if 30 <= len(s) <= 200][:count]


def compare(model, model_dir: Path) -> tuple[float, float, int]:
    """(max |difference|, Pearson r, pairs) between the rebuilt model's logits and the ONNX model's."""
    import onnxruntime
    import torch

    sentences = seed_sentences(10)
    pairs = [(q, s) for q in QUESTIONS for s in sentences]
    inputs = encode_pairs(pair_tokenizer(model_dir), [q for q, _ in pairs], [s for _, s in pairs])
    session = onnxruntime.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    declared = {i.name for i in session.get_inputs()}
    int8 = session.run(None, {k: v for k, v in inputs.items() if k in declared})[0][:, 0]
    with torch.no_grad():
        rebuilt = model(**{k: torch.from_numpy(v) for k, v in inputs.items()}).logits[:, 0].numpy()
    return float(np.abs(rebuilt - int8).max()), float(np.corrcoef(rebuilt, int8)[0, 1]), len(pairs)


def main(argv=None) -> None:
    from training.train import base_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/qa-reranker"))
    parser.add_argument("--out", type=Path, default=Path("training/runs/shipped-dequantised/final"))
    args = parser.parse_args(argv)
    settings = json.loads((args.model / "reranker.json").read_text())
    model = rebuilt_model(args.model / "model.onnx", base_model_path(), int(settings.get("layers", 4)))
    model.save_pretrained(args.out)
    for name in TOKENIZER_FILES:
        shutil.copy(args.model / name, args.out / name)
    recipe = {"dequantised_from": str(args.model / "model.onnx"), "sha256": settings.get("sha256")}
    (args.out / "training_args.json").write_text(
        json.dumps({**recipe, "context": settings.get("context", "none"), "max_tokens": settings.get("max_tokens")})
    )
    difference, correlation, count = compare(model, args.model)
    print(
        f"wrote {args.out}; float vs int8 logits on {count} seed pairs: "
        f"max |diff| {difference:.4f}, Pearson r {correlation:.5f}"
    )


if __name__ == "__main__":
    main()
