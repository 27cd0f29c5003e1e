"""The keyword index: tokens, BM25 ranking over text and context, filters, and save/load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.keywords import CONTEXT_WEIGHT, KeywordIndex, content_words, stem, tokens

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
