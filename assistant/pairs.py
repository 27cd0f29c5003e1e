"""How a (question, sentence) pair becomes model input: one definition shared by the reranker and its training.

The model reads the question and one sentence together, as BERT sentence pairs
(`[CLS] question [SEP] sentence [SEP]`), cut to MAX_TOKENS with the longer side trimmed first. A model
trained with context (reranker.json `"context": "previous"`) also reads the sentence before it in its
passage, after the sentence (`[CLS] question [SEP] sentence [SEP] previous [SEP]`), so that trimming
takes the context's end first and the sentence keeps what it had.
Training (training/train.py) and the engine (assistant/reranker.py) both encode through
`pair_tokenizer`, so the shipped model never sees input shaped differently from what it learnt on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Tokens per pair, question and sentence together. A sentence pair is typically 30–60 tokens;
#: the cost of scoring grows with this, so it is kept short (see training/README.md).
MAX_TOKENS = 64


def pair_tokenizer(folder: Path, max_tokens: int = MAX_TOKENS):
    """A fast tokenizer from folder/tokenizer.json that truncates pairs to max_tokens and pads a batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens, strategy="longest_first")
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    return tokenizer


def with_context(sentence: str, previous: str) -> str:
    """The second side of a pair for a model that reads context: the sentence, then the one before it."""
    return f"{sentence} [SEP] {previous}" if previous else sentence


def encode_pairs(
    tokenizer, questions: list[str], sentences: list[str], contexts: list[str] | None = None
) -> dict[str, np.ndarray]:
    """Model inputs (input_ids, attention_mask, token_type_ids as int64 arrays) for aligned pairs.

    `contexts` (each sentence's previous sentence, "" for none) is for models trained to read it.
    """
    if contexts is not None:
        sentences = [with_context(s, c) for s, c in zip(sentences, contexts, strict=True)]
    encodings = tokenizer.encode_batch(list(zip(questions, sentences)))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
