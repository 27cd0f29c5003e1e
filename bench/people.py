"""People in a collection of transcripts: how many turn labels, and how many people the filter lists for them.

Run as `python -m bench.people [FOLDER]` (default: shared/data/whitehouse-briefings-2021 beside the
repository). It reads every document as ingest does (corpus.scan_corpus, passages.passages_for, no
model), and prints the number of documents, the distinct turn labels as written, the distinct people
(passages.people_from_speakers, as the speaker filter lists them), and each person whose turns carry
more than one label, with the labels' turn counts, to read for wrong merges. With --json, the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from assistant.corpus import read_document, scan_corpus
from assistant.passages import REPORTER, UNNAMED, passages_for, people_from_speakers

BRIEFINGS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "whitehouse-briefings-2021"


def measure(folder: Path) -> dict:
    """Labels and people of the transcripts in `folder`; turns are counted once a paragraph."""
    sources, _ = scan_corpus(folder)
    turns: Counter = Counter()  # (speaker, label) -> paragraphs
    for source in sources:
        seen = set()
        for passage in passages_for(read_document(source)):
            if passage.speaker and passage.speaker_label and (passage.paragraph, source.doc_id) not in seen:
                seen.add((passage.paragraph, source.doc_id))
                turns[passage.speaker, passage.speaker_label] += 1
    people = people_from_speakers((speaker, label, count) for (speaker, label), count in turns.items())
    labels_of: dict[str, Counter] = defaultdict(Counter)
    for (speaker, label), count in turns.items():
        person = next((name for name, values in people.items() if speaker in values), speaker)
        labels_of[person][label] += count
    named = [label for (speaker, label) in turns if speaker not in (REPORTER, UNNAMED)]
    return {
        "documents": len(sources),
        "labels": len(set(named)),
        "people": len(people),
        "unnamed_turns": sum(count for (speaker, _), count in turns.items() if speaker == UNNAMED),
        "merged": {person: dict(labels.most_common()) for person, labels in labels_of.items() if len(labels) > 1},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=BRIEFINGS)
    parser.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args = parser.parse_args(argv)
    report = measure(args.folder)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    print(f"{report['documents']} documents, {report['labels']} turn labels (reporters' aside), ", end="")
    print(f"{report['people']} people in the speaker filter; {report['unnamed_turns']} turns by a bare title")
    for person, labels in sorted(report["merged"].items(), key=lambda item: item[0].casefold()):
        print(f"  {person}: " + "; ".join(f"{label} ({count})" for label, count in labels.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
