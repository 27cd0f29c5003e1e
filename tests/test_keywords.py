"""The keyword index: tokens, BM25 ranking over text and context, filters, and save/load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.keywords import (
    CONTEXT_WEIGHT,
    KeywordIndex,
    content_words,
    fts_phrase,
    fts_text,
    phrase_terms,
    stem,
    tokens,
)

REPO = Path(__file__).resolve().parent.parent

TEXTS = [
    "The delegation raised the question of sanctions on Xinjiang officials.",
    "Climate finance for small island states was the main concern.",
    "Sanctions, sanctions and more sanctions were discussed.",
    "An unrelated passage about the weather in April.",
]
CONTEXTS = ["note verbale", "press conference Zhao Lijian", "press conference Zhao Lijian", "note verbale"]


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    return KeywordIndex.build(TEXTS, CONTEXTS)


def test_tokens_drop_stop_words_and_single_latin_letters_and_stem_the_rest():
    assert content_words("What did THE Missions say about a 中 event?") == ["missions", "中", "event"]
    assert tokens("Missions presented islands") == [stem("missions"), stem("presented"), stem("islands")]
    assert stem("sanctions") == stem("sanction")


def test_passages_with_the_words_rank_first_and_others_are_left_out(index):
    ranked = index.top(["sanction"], depth=10)
    assert [pid for pid, _ in ranked] == [2, 0]  # three mentions beat one; passages without it are not listed
    assert ranked[0][1] > ranked[1][1] > 0


def test_a_word_in_the_context_counts_context_weight_times_as_much_as_in_the_text(index):
    swapped = KeywordIndex.build(CONTEXTS, TEXTS)  # the same two fields, the other way round
    np.testing.assert_allclose(swapped.scores(["climate"]), CONTEXT_WEIGHT * index.scores(["climate"]), rtol=1e-6)
    assert {pid for pid, _ in index.top(["zhao"], depth=10)} == {1, 2}  # found by context alone


def test_depth_and_allowed_ids_restrict_the_result(index):
    assert len(index.top(["sanctions", "climate"], depth=1)) == 1
    assert [pid for pid, _ in index.top(["sanctions"], depth=10, allowed=np.array([0, 3]))] == [0]
    assert index.top(["sanctions"], depth=10, allowed=np.array([], dtype=np.int64)) == []


def test_unknown_words_score_nothing(index):
    assert index.scores(["quasar"]) is None
    assert index.top(["quasar", "nebula"], depth=5) == []
    assert index.knows("Sanctions") and index.knows("verbale") and not index.knows("quasar")


def test_save_and_load_give_the_same_ranking(index, tmp_path):
    written = index.save(tmp_path / "keywords")
    assert written and all(path.is_file() for path in written)
    loaded = KeywordIndex.load(tmp_path / "keywords")
    assert loaded.size == len(TEXTS)
    for words in (["sanctions"], ["press", "conference", "climate"], ["weather", "april"]):
        assert loaded.top(words, depth=10) == index.top(words, depth=10)


def test_an_empty_index_answers_nothing_and_round_trips(tmp_path):
    empty = KeywordIndex.build([], [])
    assert empty.top(["anything"], depth=5) == [] and not empty.knows("anything")
    empty.save(tmp_path / "keywords")
    assert KeywordIndex.load(tmp_path / "keywords").size == 0


def test_texts_and_contexts_must_pair_up():
    with pytest.raises(ValueError, match="every passage needs a text and a context"):
        KeywordIndex.build(["one"], [])


@given(st.lists(st.text(max_size=80), min_size=1, max_size=8), st.text(max_size=40))
def test_any_text_indexes_and_any_question_ranks_only_passages_sharing_a_word(texts, question):
    index = KeywordIndex.build(texts, [""] * len(texts))
    wanted = set(tokens(question))
    for pid, score in index.top(content_words(question), depth=len(texts)):
        assert score > 0 and wanted & set(tokens(texts[pid]))


# --- Chinese -----------------------------------------------------------------------------------------------

ZH_DATA = Path(__file__).resolve().parent / "data" / "zh" / "retrieval.json"


def test_a_chinese_question_gives_its_words_without_the_question_words():
    assert content_words("涉疆问题的实质是什么？") == ["涉疆", "问题", "实质"]
    assert content_words("中华人民共和国常驻联合国代表团") == ["中华人民共和国", "常驻", "联合国", "代表团"]


def test_a_word_mixing_han_and_latin_letters_is_read_as_its_parts():
    assert content_words("新冠covid-19疫苗") == ["新冠", "covid", "19", "疫苗"]


english_words = st.lists(st.sampled_from(["Xinjiang", "the", "sanctions", "COVID-19", "a", "U.S.", "it's"]), max_size=8)
han_runs = st.lists(st.sampled_from(["涉疆问题", "的", "中方表示，", "赵立坚", "“强迫劳动”", "。"]), max_size=8)


@given(english_words, han_runs)
def test_the_english_tokens_of_a_mixed_text_are_those_of_its_english_alone(english, chinese):
    mixed = " ".join(word for pair in zip(english, chinese) for word in pair) + " " + " ".join(english[len(chinese) :])
    english_alone = " ".join(english)
    assert [token for token in tokens(mixed) if token.isascii()] == tokens(english_alone)


def test_chinese_passages_are_found_by_their_words_in_a_mixed_collection():
    data = json.loads(ZH_DATA.read_text(encoding="utf-8"))
    passages = [*TEXTS, *data["passages"]]
    index = KeywordIndex.build(passages, [""] * len(passages))
    ranked = index.top(content_words("涉疆问题的实质是什么？"), depth=5)
    assert passages[ranked[0][0]].startswith("涉疆问题不是人权问题")
    assert [pid for pid, _ in index.top(["sanctions"], depth=5)] == [2, 0]  # the English ones as before
    assert index.knows("涉疆") and not index.knows("棉花糖")


def test_jieba_finds_the_passage_first_for_nine_in_ten_chinese_questions():
    """bench/zh_keywords.py: 38 of 40 with jieba words (37 with character bigrams)."""
    from assistant.keywords import han_words
    from bench.zh_keywords import measure

    assert measure(han_words)["top1"] >= 0.9


def test_jieba_says_nothing_on_stdout_or_stderr():
    script = "from assistant.keywords import tokens; print(tokens('中华人民共和国常驻联合国代表团'))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout == "['中华人民共和国', '常驻', '联合国', '代表团']\n"
    assert done.stderr == ""


def test_an_exact_phrase_is_one_fts_term_per_cjk_letter():
    assert phrase_terms("中方：“涉疆问题” is not COVID-19") == [
        "中",
        "方",
        "涉",
        "疆",
        "问",
        "题",
        "is",
        "not",
        "COVID",
        "19",
    ]
    assert fts_phrase('说"不"') == 'text : "说 不"'
    assert fts_text("涉疆 Xinjiang") == " 涉  疆  Xinjiang"
