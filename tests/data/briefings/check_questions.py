#!/usr/bin/env python3
"""Validate the briefings evaluation set (questions.jsonl) against the transcripts.

Standard library only.  Usage:

    python3 check_questions.py [TRANSCRIPT_FOLDER] [--questions PATH]

TRANSCRIPT_FOLDER defaults to <repo parent>/shared/data/whitehouse-briefings-2021,
resolved from this script's own location (…/main/tests/data/briefings/ -> /…/shared/…).

Checks
  * every line is a JSON object with the fields its kind requires; ids are unique;
  * each answerable answer is a single-line span of 4-15 words that occurs EXACTLY ONCE
    in the whole collection (all *.md files under the folder), and that occurrence is in
    the file named by "path" (whose stem must equal "doc_id");
  * the speaker turn holding the answer, found by walking back from the answer's line to the
    nearest line that opens a turn ("LABEL:" in capitals, or a reporter's "Q" + whitespace),
    equals the stated "speaker";
  * the set meets the required counts (see MINIMUMS).
Exits 1 and lists every problem if anything fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve()
DEFAULT_FOLDER = HERE.parents[3].parent / "shared/data/whitehouse-briefings-2021"
DEFAULT_QUESTIONS = HERE.parent / "questions.jsonl"

MINIMUMS = {
    "answerable": 64,
    "distinct_files": 40,
    "distinct_months": 10,
    "reporter_turns": 12,  # speaker == "Q"
    "names_person_or_date": 15,
    "guest_answers": 10,  # named guests: not Q, not the press office, not anonymous officials
    "unanswerable_near_topic": 14,
    "unanswerable_off_topic": 2,
}
MIN_WORDS, MAX_WORDS = 4, 15

PRESS_OFFICE = {"MS. PSAKI", "MS. JEAN-PIERRE", "MR. BATES", "MR. MEAGHER"}
NOT_NAMED = {"Q", "MODERATOR", "OPERATOR", "AIDE", "SENIOR ADMINISTRATION OFFICIAL", "ADMINISTRATION OFFICIAL"}
NAMES_VALUES = {"person", "date", "both", None}

LABEL_RE = re.compile(r"^[\s\xa0]*([A-Z][A-Z.\-’' ]*[A-Z.]):")
REPORTER_RE = re.compile(r"^[\s\xa0]*Q[\s\xa0]")


def speaker_at(lines: list[str], index: int) -> str | None:
    """Label of the speaker turn that contains line `index`."""
    for j in range(index, -1, -1):
        line = lines[j]
        if REPORTER_RE.match(line):
            return "Q"
        m = LABEL_RE.match(line)
        if m:
            return m.group(1)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    ap.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    args = ap.parse_args(argv)

    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        print(f"transcript folder not found: {folder}")
        return 1
    md_files = sorted(p for p in folder.rglob("*.md"))
    texts = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in md_files}
    n_transcripts = sum(1 for k in texts if Path(k).name != "SOURCE.md")

    errors: list[str] = []
    warnings: list[str] = []
    records = []
    with open(args.questions, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors.append(f"line {n}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                errors.append(f"line {n}: not a JSON object")
                continue
            records.append((n, obj))

    ids = Counter(o.get("id") for _, o in records)
    for i, c in ids.items():
        if c > 1:
            errors.append(f"duplicate id {i!r} ({c} times)")

    files, months, speakers, names = set(), set(), Counter(), 0
    n_ans = near = off = 0
    for n, o in records:
        qid = o.get("id", f"line {n}")
        kind = o.get("kind")
        if not isinstance(o.get("id"), str) or not isinstance(o.get("question"), str) or not o["question"].strip():
            errors.append(f"{qid}: needs string 'id' and non-empty 'question'")
        if kind == "unanswerable":
            for k in ("doc_id", "path", "answer", "speaker"):
                if k in o:
                    errors.append(f"{qid}: unanswerable item must not have {k!r}")
            nt = o.get("near_topic", False)
            if not isinstance(nt, bool):
                errors.append(f"{qid}: near_topic must be a boolean")
            near += nt is True
            off += nt is not True
            continue
        if kind != "answerable":
            errors.append(f"{qid}: kind must be 'answerable' or 'unanswerable', got {kind!r}")
            continue
        n_ans += 1
        missing = [k for k in ("doc_id", "path", "answer", "speaker", "names") if k not in o]
        if missing:
            errors.append(f"{qid}: missing fields {missing}")
            continue
        path, answer, speaker = o["path"], o["answer"], o["speaker"]
        if o["names"] not in NAMES_VALUES:
            errors.append(f"{qid}: names must be person/date/both/null, got {o['names']!r}")
        names += o["names"] is not None
        if path not in texts:
            errors.append(f"{qid}: path {path!r} is not a .md file under {folder}")
            continue
        if Path(path).stem != o["doc_id"]:
            errors.append(f"{qid}: doc_id {o['doc_id']!r} does not match path {path!r}")
        if not isinstance(answer, str) or not answer.strip():
            errors.append(f"{qid}: empty answer")
            continue
        if "\n" in answer or "\r" in answer:
            errors.append(f"{qid}: answer crosses a line break")
        words = len(answer.split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            errors.append(f"{qid}: answer has {words} words (want {MIN_WORDS}-{MAX_WORDS})")
        total = sum(t.count(answer) for t in texts.values())
        in_file = texts[path].count(answer)
        if total != 1 or in_file != 1:
            where = [k for k, t in texts.items() if answer in t][:5]
            errors.append(
                f"{qid}: answer occurs {total}x in collection, {in_file}x in stated file (found in {where}): {answer!r}"
            )
            continue
        text = texts[path]
        line_index = text.count("\n", 0, text.index(answer))
        found = speaker_at(text.split("\n"), line_index)
        if found != speaker:
            errors.append(f"{qid}: answer lies in a {found!r} turn, stated {speaker!r}")
        if answer.lower() in o["question"].lower():
            warnings.append(f"{qid}: question contains the answer verbatim")
        files.add(path)
        months.add(path.split("/")[0])
        speakers[speaker] += 1

    guest = sum(c for s, c in speakers.items() if s not in PRESS_OFFICE and s not in NOT_NAMED)
    counts = {
        "answerable": n_ans,
        "distinct_files": len(files),
        "distinct_months": len(months),
        "reporter_turns": speakers["Q"],
        "names_person_or_date": names,
        "guest_answers": guest,
        "unanswerable_near_topic": near,
        "unanswerable_off_topic": off,
    }
    for key, minimum in MINIMUMS.items():
        if counts[key] < minimum:
            errors.append(f"count {key} = {counts[key]} < required {minimum}")

    print(f"transcripts: {n_transcripts} files under {folder}")
    for key, value in counts.items():
        print(f"  {key:26s} {value:4d}  (min {MINIMUMS[key]})")
    print("  answers by speaker: " + ", ".join(f"{s} {c}" for s, c in speakers.most_common()))
    for w in warnings:
        print("warning:", w)
    if errors:
        print(f"FAILED: {len(errors)} problem(s)")
        for e in errors:
            print("  -", e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
