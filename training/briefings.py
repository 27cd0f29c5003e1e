"""In-domain training groups for the question–sentence model from real press-briefing transcripts.

A transcript is questions and answers: a reporter's turn (`Q`) and the official's turn that follows it.
Each exchange becomes one group, weakly labelled:

- the question: the reporter's question sentences (those ending in "?"), the last two at most;
- the positive (label 1): of the first ANSWER_WINDOW sentences of the official's answer, the one that
  shares the most question words (IDF-weighted, training.data.Overlap); an exchange whose answer shares
  no content word with its question is left out (the answer may be a dodge or "next question");
- the negatives (label 0): the most word-overlapping official sentence of another exchange of the same
  briefing (on topic, not the answer to this question), a random official sentence of the same briefing,
  the most overlapping sentence of another reporter's question (a question never answers one), and an
  official sentence of another briefing.

The labels are weak: another exchange of the briefing may answer the same thing, and the sentence that
shares the most words is not always the one that answers. The files of every labelled set in tests/data
(questions, claims, Chinese questions, transcript excerpts) are left out, so no evaluated answer is seen.
Transcripts are cut by the engine's own parser (assistant.passages), so sentences are the units the
engine scores at run time. Groups are keyed by file: training.data.split_of holds a tenth of the files out.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus import read_document, scan_corpus
from assistant.passages import label_at, passages_for
from training.data import Group, Overlap, content_words

SOURCE = "briefings"
REPO = Path(__file__).resolve().parents[1]
LABELLED = (
    REPO / "tests" / "data" / "briefings" / "questions.jsonl",
    REPO / "tests" / "data" / "claims" / "claims.jsonl",
    REPO / "tests" / "data" / "zh" / "questions-en-docs.jsonl",
)
#: Excerpts in these folders are named by date: every briefing of those days is left out.
EXCERPTS = (REPO / "tests" / "data" / "transcripts", REPO / "tests" / "data" / "people")
ANSWER_WINDOW = 6
MIN_WORDS = 6
MAX_QUESTION_WORDS = 60
SPACES = re.compile(r"\s+")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Exchange:
    """One turn of a transcript: its label as written and its sentences' texts, in order."""

    label: str
    sentences: tuple[str, ...]

    @property
    def is_reporter(self) -> bool:
        return self.label == "Q"


def excluded_files(labelled: Iterable[Path] = LABELLED, excerpts: Iterable[Path] = EXCERPTS) -> tuple[set, set]:
    """(file names, dates) of the briefings the labelled sets use, which training must not see."""
    names = set()
    for path in labelled:
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("path"):
                names.add(Path(item["path"]).name)
    dates = {match.group(0) for folder in excerpts for p in folder.glob("*.md") if (match := DATE.match(p.name))}
    return names, dates


def turns_of(path: Path) -> list[Exchange]:
    """The transcript's turns, each with its sentences as the engine cuts them (reflowed for reading)."""
    sources, _ = scan_corpus(path.parent)
    source = next(s for s in sources if s.path == path)
    document = read_document(source)
    turns: list[tuple[str, list[str]]] = []
    for passage in passages_for(document):
        if passage.speaker_label is None:
            continue
        opens = label_at(document.text, passage.start) is not None
        if opens or not turns or turns[-1][0] != passage.speaker_label:
            turns.append((passage.speaker_label, []))
        for span in passage.sentences:
            text = SPACES.sub(" ", document.text[span.start : span.end]).strip()
            if opens and span.start == passage.start:  # drop the label itself: "Q   Sure." -> "Sure."
                text = SPACES.sub(" ", text[len(passage.speaker_label) :].lstrip(":")).strip()
            if text:
                turns[-1][1].append(text)
    return [Exchange(label, tuple(sentences)) for label, sentences in turns if sentences]


def question_of(turn: Exchange) -> str | None:
    """The reporter's question: its last two sentences ending in '?', if short enough to be one."""
    asked = [s for s in turn.sentences if s.endswith("?")][-2:]
    question = " ".join(asked)
    return question if asked and MIN_WORDS <= len(question.split()) <= MAX_QUESTION_WORDS else None


def groups_of(key: str, turns: list[Exchange], elsewhere: list[str], rng: random.Random) -> Iterator[Group]:
    """The weakly labelled groups of one transcript (see the module docstring); `elsewhere`: other briefings'
    official sentences, for the easy negative."""
    official = [(i, s) for i, t in enumerate(turns) if not t.is_reporter for s in t.sentences]
    asked = [(i, s) for i, t in enumerate(turns) if t.is_reporter for s in t.sentences if s.endswith("?")]
    overlap = Overlap([s for t in turns for s in t.sentences])
    for number, turn in enumerate(turns[:-1]):
        answer = turns[number + 1]
        question = question_of(turn) if turn.is_reporter else None
        if question is None or answer.is_reporter or answer.label == "MODERATOR":
            continue
        window = [s for s in answer.sentences[:ANSWER_WINDOW] if len(s.split()) >= MIN_WORDS]
        scored = [(overlap.score(question, s), -place, s) for place, s in enumerate(window)]
        if not scored or max(scored)[0] <= 0:
            continue
        positive = max(scored)[2]
        others = [s for i, s in official if i != number + 1 and len(s.split()) >= MIN_WORDS]
        other_questions = [s for i, s in asked if i != number]
        negatives = []
        if others:
            negatives.append(max(others, key=lambda s: (overlap.score(question, s), rng.random())))
            negatives.append(rng.choice(others))
        if other_questions:
            negatives.append(max(other_questions, key=lambda s: (overlap.score(question, s), rng.random())))
        if elsewhere:
            negatives.append(rng.choice(elsewhere))
        unique = list(dict.fromkeys(n for n in negatives if n != positive and set(content_words(n))))
        if unique:
            yield Group(SOURCE, key, question, (positive, *unique), (1,) + (0,) * len(unique))


def briefing_groups(folder: Path, rng: random.Random, limit: int | None = None) -> Iterator[Group]:
    """Groups from every transcript under `folder` except the labelled sets' files, up to `limit`."""
    names, dates = excluded_files()
    paths = [
        p
        for p in sorted(folder.rglob("*.md"))
        if p.name not in names and not (DATE.match(p.name) and DATE.match(p.name).group(0) in dates)
        if p.name.split(".")[0].upper() not in ("SOURCE", "README")
    ]
    transcripts = {p: turns_of(p) for p in paths}
    pool = {p: [s for t in turns if not t.is_reporter for s in t.sentences] for p, turns in transcripts.items()}
    produced = 0
    for path, turns in transcripts.items():
        elsewhere = [s for other in rng.sample(paths, min(3, len(paths))) if other != path for s in pool[other]]
        for group in groups_of(path.stem, turns, elsewhere, rng):
            yield group
            produced += 1
            if limit is not None and produced >= limit:
                return
