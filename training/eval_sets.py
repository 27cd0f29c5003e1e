"""Engine-level labelled sets from the held-out slices of the training data: corpora plus questions.

    python -m training.eval_sets --out tests/data/qa-heldout

For each of SQuAD (Wikipedia articles) and MedQuAD (NIH pages), held-out articles (training/data.py
never trains on them) become documents, one paragraph or answer a paragraph, and their questions
become labelled questions in the format of tests/data/seed_questions.jsonl. Some paragraphs are
left out of the corpus and their questions kept as *unanswerable*: near-topic questions whose answer
is not in the collection, though its article is.

Two halves by article, as in training/export.py: `calibration/` (the reranker's threshold is fitted
there) and `test/` (reported, never tuned on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from training.data import _first_sentence, split_of

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "qa-train"


def half_of(key: str) -> str:
    """'calibration' or 'test': the same halving training/export.py applies to held-out groups."""
    return "calibration" if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 else "test"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("tests/data/qa-heldout"))
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    for half in ("calibration", "test"):
        rng = random.Random(f"{args.seed}-{half}")
        folder = args.out / half
        (folder / "corpus").mkdir(parents=True, exist_ok=True)
        rows = squad_set(args.data, half, folder / "corpus", rng) + medquad_set(args.data, half, folder / "corpus", rng)
        with (folder / "questions.jsonl").open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        answerable = sum(r["kind"] == "answerable" for r in rows)
        print(
            f"{folder}: {len(list((folder / 'corpus').iterdir()))} documents, {answerable} answerable, "
            f"{len(rows) - answerable} unanswerable questions"
        )


def _write(path: Path, title: str, author: str, url: str | None, paragraphs: list[str]) -> str:
    front = [f"title: {json.dumps(title)}", f"author: {author}"] + ([f"url: {url}"] if url else [])
    path.write_text("---\n" + "\n".join(front) + "\n---\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path.stem


def squad_set(data: Path, half: str, corpus: Path, rng: random.Random, articles: int = 8) -> list[dict]:
    """Eight held-out Wikipedia articles: 10 answerable and 3 unanswerable questions from each."""
    squad = json.loads((data / "squad-v1.1-train" / "train-v1.1.json").read_text(encoding="utf-8"))["data"]
    chosen = [
        a for a in squad if split_of(f"squad:{a['title']}") == "held_out" and half_of(f"squad:{a['title']}") == half
    ]
    rows = []
    for article in chosen[:articles]:
        paragraphs = article["paragraphs"]
        removed = set(rng.sample(range(len(paragraphs)), 3))
        kept = [p["context"].strip() for i, p in enumerate(paragraphs) if i not in removed]
        doc_id = _write(
            corpus / f"squad-{_slug(article['title'])}.md", article["title"].replace("_", " "), "Wikipedia", None, kept
        )
        text = "\n\n".join(kept)
        candidates = []
        for i, paragraph in enumerate(paragraphs):
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]["text"].strip()
                if i in removed:
                    if answer not in text:  # the fact is really gone from the collection
                        candidates.append(("unanswerable", qa["question"], None))
                elif len(answer) >= 4 and text.count(answer) == 1:
                    candidates.append(("answerable", qa["question"], answer))
        rng.shuffle(candidates)
        rows += _take(candidates, doc_id, "answerable", 10) + _take(candidates, doc_id, "unanswerable", 3)
    return rows


def medquad_set(data: Path, half: str, corpus: Path, rng: random.Random, pages: int = 15) -> list[dict]:
    """Fifteen held-out NIH pages (one focus each), one answer left out of each as unanswerable."""
    items = [json.loads(line) for line in (data / "medquad" / "medquad_with_answers.jsonl").read_text().splitlines()]
    by_focus: dict[str, list[dict]] = {}
    for item in items:
        key = f"medquad:{item['focus']}"
        if split_of(key) == "held_out" and half_of(key) == half and item["answer_passage"]:
            by_focus.setdefault(item["focus"], []).append(item)
    rows = []
    foci = [f for f, group in by_focus.items() if len(group) >= 3][:pages]
    for focus in foci:
        group = by_focus[focus]
        answers = [" ".join(item["answer_passage"].split()) for item in group]
        openings = [_first_sentence(a) for a in answers]
        left_out = rng.randrange(len(group))
        kept = [a for i, a in enumerate(answers) if i != left_out]
        doc_id = _write(corpus / f"medquad-{_slug(focus)}.md", focus, group[0]["source"], group[0].get("url"), kept)
        text = "\n\n".join(kept)
        for i, (item, opening) in enumerate(zip(group, openings)):
            if i == left_out:
                if opening and opening not in text:
                    rows.append(
                        {
                            "id": f"m-{doc_id}-{i}",
                            "question": item["question"],
                            "doc_id": None,
                            "answer": None,
                            "kind": "unanswerable",
                        }
                    )
            elif opening and text.count(opening) == 1:
                rows.append(
                    {
                        "id": f"m-{doc_id}-{i}",
                        "question": item["question"],
                        "doc_id": doc_id,
                        "answer": opening,
                        "kind": "answerable",
                    }
                )
    return rows


def _take(candidates, doc_id: str, kind: str, count: int) -> list[dict]:
    chosen = [c for c in candidates if c[0] == kind][:count]
    return [
        {
            "id": f"s-{doc_id}-{kind[0]}{n}",
            "question": question,
            "doc_id": doc_id if answer else None,
            "answer": answer,
            "kind": kind,
        }
        for n, (_, question, answer) in enumerate(chosen)
    ]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]


if __name__ == "__main__":
    main()
