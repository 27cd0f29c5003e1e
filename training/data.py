"""Training pairs for the question–sentence model, built from the public QA sets in shared/data/qa-train.

Every set is turned into groups: one question, the sentence that answers it (label 1), and sentences
that do not (label 0): others of the same paragraph, the most word-overlapping sentence of another
paragraph of the same article (a BM25-style neighbour), and one of another article. The same
construction gives the "does not answer" signal the engine declines with.

A deterministic slice of every set (by article, page or paper, never by question, so no text is
shared) is held out of training and returned separately; `split_of` decides it from a hash of the key.

Sentences are cut with the engine's own splitter (`assistant.passages.sentence_spans`) so the model
sees at training time exactly the units it scores at run time.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.passages import sentence_spans

HELD_OUT_PERCENT = 10
WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "does",
        "do",
        "did",
        "has",
        "have",
        "had",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "as",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "i",
        "you",
        "we",
        "our",
        "your",
        "not",
        "no",
        "can",
        "could",
        "would",
        "should",
        "will",
        "may",
        "might",
    ]
)


@dataclass(frozen=True)
class Group:
    """One question with its candidate sentences; `labels[i]` is 1 where sentence i answers it.

    `contexts[i]` is the sentence before sentence i in its paragraph ("" for a paragraph's first, and
    for sets whose sentences come without their paragraph); a model trained with context reads it.
    """

    source: str
    key: str
    question: str
    sentences: tuple[str, ...]
    labels: tuple[int, ...]
    contexts: tuple[str, ...] = ()

    def context_of(self, i: int) -> str:
        return self.contexts[i] if self.contexts else ""


@dataclass
class Splits:
    """Training groups and held-out groups, per source set."""

    train: dict[str, list[Group]] = field(default_factory=dict)
    held_out: dict[str, list[Group]] = field(default_factory=dict)

    def add(self, group: Group) -> None:
        target = self.held_out if split_of(group.key) == "held_out" else self.train
        target.setdefault(group.source, []).append(group)


def split_of(key: str) -> str:
    """'held_out' for a fixed HELD_OUT_PERCENT of keys (articles, pages, papers), else 'train'."""
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return "held_out" if digest % 100 < HELD_OUT_PERCENT else "train"


def sentences_of(text: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each sentence, as the engine cuts them (≤ 400 characters)."""
    return [(s.start, s.end, text[s.start : s.end]) for s in sentence_spans(text, 0, len(text), max_chars=400)]


def content_words(text: str) -> list[str]:
    """Lower-cased words minus stop words, for the overlap used to pick hard negatives."""
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]


class Overlap:
    """IDF-weighted word overlap between a question and sentences: a small BM25-like neighbour finder."""

    def __init__(self, texts: list[str]) -> None:
        counts = Counter(word for text in texts for word in set(content_words(text)))
        self.idf = {word: math.log(1 + len(texts) / count) for word, count in counts.items()}

    def score(self, question: str, sentence: str) -> float:
        words = set(content_words(sentence))
        return sum(self.idf.get(word, 0.0) for word in set(content_words(question)) if word in words)


def build(data_dir: Path, seed: int = 13, squad_questions: int = 18000, medquad_questions: int = 4000) -> Splits:
    """All groups from every set under data_dir, split into train and held-out."""
    rng = random.Random(seed)
    splits = Splits()
    for groups in (
        squad_groups(data_dir / "squad-v1.1-train" / "train-v1.1.json", rng, squad_questions),
        covid_groups(data_dir / "covid-qa" / "200423_covidQA.json", rng),
        selqa_groups(data_dir / "selqa", rng),
        medquad_groups(data_dir / "medquad" / "medquad_with_answers.jsonl", rng, medquad_questions),
        conditionalqa_groups(data_dir / "conditionalqa", rng),
        faq_groups(data_dir / "covid-qa" / "faq_en_dedup.jsonl", rng),
    ):
        for group in groups:
            splits.add(group)
    return splits


def _extractive_groups(source, articles, rng, limit=None) -> Iterator[Group]:
    """SQuAD-format articles: the sentence holding the answer's start against hard and easy negatives.

    `articles` is a list of (key, [(context, [(question, answer_start)])]).
    """
    cuts = {key: [_with_previous(sentences_of(context)) for context, _ in paragraphs] for key, paragraphs in articles}
    all_sentences = [(key, s) for key, cut in cuts.items() for sentences in cut for s in sentences]
    produced = 0
    for key, paragraphs in articles:
        cut = cuts[key]
        overlap = Overlap([s[2] for sentences in cut for s in sentences])
        for number, (_, questions) in enumerate(paragraphs):
            sentences = cut[number]
            for question, answer_start in questions:
                answer = [s for s in sentences if s[0] <= answer_start < s[1]]
                if not answer:
                    continue
                positive = answer[0]
                same_paragraph = [s for s in sentences if s[2] != positive[2]]
                elsewhere = [s for other, c in enumerate(cut) if other != number for s in c]
                negatives = []
                for pool in (same_paragraph, elsewhere):
                    if pool:
                        negatives.append(max(pool, key=lambda s: (overlap.score(question, s[2]), rng.random())))
                if same_paragraph:
                    negatives.append(rng.choice(same_paragraph))
                while True:
                    other_key, other = rng.choice(all_sentences)
                    if other_key != key:
                        negatives.append(other)
                        break
                unique = {n[2]: n for n in negatives if n[2] != positive[2]}
                chosen = (positive, *unique.values())
                yield Group(
                    source,
                    key,
                    question,
                    tuple(s[2] for s in chosen),
                    (1,) + (0,) * len(unique),
                    tuple(s[3] for s in chosen),
                )
                produced += 1
                if limit is not None and produced >= limit:
                    return


def _with_previous(sentences: list[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """(start, end, text, previous sentence's text or "") for the sentences of one paragraph."""
    return [(*s, sentences[i - 1][2] if i else "") for i, s in enumerate(sentences)]


def squad_groups(path: Path, rng: random.Random, limit: int) -> Iterator[Group]:
    """SQuAD v1.1 train: questions sampled evenly across articles, up to `limit` for training."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles = []
    for article in data:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            questions = [(qa["question"], qa["answers"][0]["answer_start"]) for qa in paragraph["qas"] if qa["answers"]]
            paragraphs.append((paragraph["context"], questions))
        articles.append((f"squad:{article['title']}", paragraphs))
    # Keep every held-out article whole; thin the training articles so `limit` spreads over all of them.
    total = sum(len(q) for key, ps in articles if split_of(key) == "train" for _, q in ps)
    keep = min(1.0, limit / max(total, 1))
    thinned = []
    for key, paragraphs in articles:
        if split_of(key) == "train":
            paragraphs = [(c, [q for q in qs if rng.random() < keep]) for c, qs in paragraphs]
        thinned.append((key, paragraphs))
    yield from _extractive_groups("squad", thinned, rng)


def covid_groups(path: Path, rng: random.Random) -> Iterator[Group]:
    """COVID-QA: extractive questions over scientific papers (long contexts, one paper an article)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles = []
    for item in data:
        for paragraph in item["paragraphs"]:
            questions = [(qa["question"], qa["answers"][0]["answer_start"]) for qa in paragraph["qas"] if qa["answers"]]
            # One "paragraph" a paper: split it into ~1,500-character blocks so same-paragraph negatives stay near.
            blocks = _blocks(paragraph["context"], questions)
            articles.append((f"covid:{paragraph['document_id']}", blocks))
    yield from _extractive_groups("covid-qa", articles, rng)


def _blocks(context: str, questions: list[tuple[str, int]], size: int = 1500):
    """Cut a long context at paragraph breaks into blocks, moving each question's answer_start along."""
    cuts = [0]
    for match in re.finditer(r"\n+", context):
        if match.end() - cuts[-1] >= size:
            cuts.append(match.end())
    cuts.append(len(context))
    blocks = []
    for start, end in zip(cuts, cuts[1:]):
        inside = [(q, a - start) for q, a in questions if start <= a < end]
        blocks.append((context[start:end], inside))
    return blocks


def selqa_groups(folder: Path, rng: random.Random) -> Iterator[Group]:
    """SelQA answer-sentence selection: the labelled candidates of one Wikipedia section."""
    for name in ("selqa_ass_test.jsonl", "selqa_ass_dev.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            positives = set(item["positive_indices"])
            if not positives:
                continue
            candidates = item["candidates"]
            first = min(positives)
            negatives = [i for i in range(len(candidates)) if i not in positives]
            rng.shuffle(negatives)
            chosen = [first, *negatives[:3]]
            yield Group(
                "selqa",
                f"selqa:{item['article']}",
                item["question"],
                tuple(candidates[i] for i in chosen),
                (1,) + (0,) * (len(chosen) - 1),
                tuple(candidates[i - 1] if i else "" for i in chosen),  # a section's sentences, in order
            )


def _first_sentence(text: str) -> str | None:
    """The first sentence of at least five words, skipping headings such as 'Key Points'."""
    for _, _, sentence in sentences_of(text):
        if len(sentence.split()) >= 5:
            return " ".join(sentence.split())
    return None


def medquad_groups(path: Path, rng: random.Random, limit: int) -> Iterator[Group]:
    """MedQuAD: a question against the opening of its own answer and of other answers on the same page.

    Answers to other questions about the same condition ("What causes X?" against "What are the
    symptoms of X?") are exactly the on-topic-but-not-answering negatives the engine must decline.
    """
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_focus: dict[str, list[dict]] = {}
    for item in items:
        by_focus.setdefault(item["focus"], []).append(item)
    openings = {id(item): _first_sentence(item["answer_passage"] or "") for item in items}
    all_openings = [o for o in openings.values() if o]
    # Every held-out page is kept; training pages are thinned to about `limit` questions.
    training = sum(1 for item in items if split_of(f"medquad:{item['focus']}") == "train")
    keep = min(1.0, limit / max(training, 1))
    for focus, group in by_focus.items():
        if split_of(f"medquad:{focus}") == "train" and rng.random() >= keep:
            continue
        for item in group:
            positive = openings[id(item)]
            if not positive:
                continue
            same_page = [
                openings[id(o)] for o in group if o is not item and openings[id(o)] and openings[id(o)] != positive
            ]
            negatives = rng.sample(same_page, min(2, len(same_page))) + [rng.choice(all_openings)]
            negatives = list(dict.fromkeys(n for n in negatives if n != positive))
            yield Group(
                "medquad", f"medquad:{focus}", item["question"], (positive, *negatives), (1,) + (0,) * len(negatives)
            )


def conditionalqa_groups(folder: Path, rng: random.Random) -> Iterator[Group]:
    """ConditionalQA (UK government guidance): evidence sentences against other sentences of the page.

    Questions marked not_answerable have no positive: every candidate is a negative.
    """
    for name in ("conditionalqa_train.jsonl", "conditionalqa_dev.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            evidence = [s for s in item.get("evidence_sentences") or [] if len(s.split()) >= 4]
            others = [s for s in item.get("same_url_other_evidence_sentences") or [] if len(s.split()) >= 4]
            others = [s for s in others if s not in evidence]
            rng.shuffle(others)
            if item["not_answerable"]:
                candidates, labels = others[:3], (0,) * len(others[:3])
            elif evidence:
                candidates = [evidence[0], *others[:3]]
                labels = (1,) + (0,) * len(others[:3])
            else:
                continue
            if candidates:
                yield Group("conditionalqa", f"cqa:{item['url']}", item["question"], tuple(candidates), labels)


def faq_groups(path: Path, rng: random.Random) -> Iterator[Group]:
    """Official COVID FAQ (CDC, WHO, ECDC…): a question against the opening of its answer and of others."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    openings = [_first_sentence(item["answer_passage"] or "") for item in items]
    valid = [o for o in openings if o]
    for item, positive in zip(items, openings):
        if not positive:
            continue
        negatives = [n for n in rng.sample(valid, 3) if n != positive]
        key = f"faq:{item['question']}"
        yield Group("covid-faq", key, item["question"], (positive, *negatives), (1,) + (0,) * len(negatives))
