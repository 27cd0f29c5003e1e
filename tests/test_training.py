"""Training: checkpoints resume their own run and refuse another recipe's; the pairs each data source makes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from training.train import RECIPE, resume, save_checkpoint  # noqa: E402

RECIPE_NOW = {name: 1 for name in RECIPE}


def _parts():
    model = torch.nn.Linear(3, 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)
    return model, optimiser, schedule


def test_a_rerun_resumes_from_its_checkpoint(tmp_path):
    model, optimiser, schedule = _parts()
    with torch.no_grad():
        model.weight.fill_(0.5)
    save_checkpoint(tmp_path / "checkpoint.pt", model, optimiser, schedule, 200, RECIPE_NOW)
    fresh, fresh_optimiser, fresh_schedule = _parts()
    step = resume(tmp_path / "checkpoint.pt", fresh, fresh_optimiser, fresh_schedule, "cpu", RECIPE_NOW)
    assert step == 200
    assert torch.equal(fresh.weight, model.weight)
    assert not (tmp_path / "checkpoint.partial").exists()


def test_no_checkpoint_starts_at_step_zero(tmp_path):
    assert resume(tmp_path / "checkpoint.pt", *_parts(), "cpu", RECIPE_NOW) == 0


def test_a_checkpoint_of_another_recipe_is_refused_by_name(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.pt", *_parts(), 200, RECIPE_NOW)
    other = {**RECIPE_NOW, "lr": 2}
    with pytest.raises(SystemExit, match="checkpoint.pt was written by a run with other settings"):
        resume(tmp_path / "checkpoint.pt", *_parts(), "cpu", other)


def test_every_training_sentence_carries_the_sentence_before_it_in_its_paragraph():
    import random

    from training.data import _extractive_groups, sentences_of

    first = "The issues related to Xinjiang are not about human rights. They are about countering terrorism. Next."
    second = "Xinjiang enjoys stability. Its economy grows. Tourism is booming there."
    other = "France won the 1998 World Cup. The final was in Paris."
    articles = [
        ("a", [(first, [("What are the Xinjiang issues about?", first.index("They are"))]), (second, [])]),
        ("b", [(other, [])]),
    ]
    (group,) = list(_extractive_groups("test", articles, random.Random(1)))
    assert group.sentences[0] == "They are about countering terrorism." and group.labels[0] == 1
    assert group.context_of(0) == "The issues related to Xinjiang are not about human rights."
    previous = {}
    for text in (first, second, other):
        cut = [s[2] for s in sentences_of(text)]
        previous.update({s: (cut[i - 1] if i else "") for i, s in enumerate(cut)})
    assert len(group.contexts) == len(group.sentences) >= 3
    for i, sentence in enumerate(group.sentences):
        assert group.context_of(i) == previous[sentence]


def test_a_briefing_exchange_becomes_a_group_of_its_question_its_answer_and_other_turns(tmp_path):
    """training/briefings.py on a real transcript excerpt: the reporter's question, a sentence of the official's
    answer as the positive, and negatives from elsewhere that are never the question's own turn."""
    import random
    import shutil

    from tests.conftest import REPO
    from training.briefings import briefing_groups, turns_of

    folder = tmp_path / "2021-01"
    folder.mkdir()
    shutil.copy(REPO / "tests" / "data" / "transcripts" / "2021-01-22-psaki-deese.md", folder / "x-briefing.md")
    turns = turns_of(folder / "x-briefing.md")
    assert turns[0].label == "Q" and turns[0].sentences[0] == "Thanks, Jen."  # the label is not in the text
    groups = list(briefing_groups(tmp_path, random.Random(1)))
    assert groups, "a briefing with questions and answers gives groups"
    for group in groups:
        assert group.question.endswith("?") and group.labels[0] == 1 and set(group.labels[1:]) == {0}
        asked = next(i for i, t in enumerate(turns) if t.is_reporter and group.question.endswith(t.sentences[-1]))
        answer = turns[asked + 1]
        assert not answer.is_reporter and group.sentences[0] in answer.sentences
        assert not set(group.sentences[1:]) & set(answer.sentences) and group.question not in group.sentences
    assert {g.key for g in groups} == {"x-briefing"}  # held out by file (training.data.split_of)


def test_a_file_of_a_labelled_set_is_never_trained_on():
    from training.briefings import excluded_files

    names, dates = excluded_files()
    assert "2021-01-20-press-briefing-by-press-secretary-jen-psaki-january-20-2021.md" in names  # briefings b01
    assert "2021-01-22" in dates  # tests/data/transcripts/2021-01-22-psaki-deese.md


def test_a_second_stage_replays_every_set_in_proportion():
    import random

    from training.train import replay

    train = {"squad": list(range(900)), "selqa": list(range(100))}
    sampled = replay(train, 100, random.Random(1))
    assert {name: len(groups) for name, groups in sampled.items()} == {"squad": 90, "selqa": 10}
