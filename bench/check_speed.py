"""check() latency: quotations made from an index's own passages, timed in a fresh child process.

Run as `python -m bench.check_speed --corpus DIR --index DIR [--count N] [--rounds N]`; it prints
one BENCH-JSON line. The child opens the engine as the app does, warms up, then times
`engine.check(quotation)` for quotations of four kinds, made from sentences of passages drawn
with a fixed seed: a sentence as it is (verbatim), with one word changed (altered), two
sentences of one passage joined by an ellipsis, and made-up sentences (not found, the case
that aligns the most candidate documents). On a repeated corpus (bench.corpora.repeated_corpus)
every real sentence is in every copy, which makes each check find and cite it in many documents.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

from bench.measure import bench_env, current_rss_mib, emit_json, peak_rss_mib, percentiles, run_json_child

KINDS = ("verbatim", "altered", "ellipsis", "made_up")
WARM_UP = 3
MADE_UP = [
    "The delegation of Atlantis proposes a permanent seat for every island State on the Security Council.",
    "We will plant four billion trees along the banks of the Danube before the next General Assembly.",
    "Our parliament has voted to replace the national currency with a basket of seashells by 2030.",
    "The Secretary-General has agreed to move the headquarters of the Organization to Reykjavik.",
    "No country in history has ever reduced poverty by printing more postage stamps than we have.",
]


def measure_index(corpus: Path, index: Path, count: int, rounds: int) -> dict:
    """Run the child on one index and return its report (see module docstring)."""
    argv = [sys.executable, "-m", "bench.check_speed", "--corpus", str(corpus), "--index", str(index)]
    argv += ["--count", str(count), "--rounds", str(rounds)]
    return run_json_child(argv, env=bench_env())


def quotations(engine, count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(kind, quotation) pairs, `count` of each kind, from passages of the engine's index."""
    rng = random.Random(seed)
    made: dict[str, list[str]] = {kind: [] for kind in KINDS}
    made["made_up"] = [MADE_UP[i % len(MADE_UP)] for i in range(count)]
    while min(len(made[kind]) for kind in KINDS) < count:
        (passage,) = engine.store.passages([rng.randrange(engine.store.size)]).values()
        sentences = [passage.text[s.start - passage.start : s.end - passage.start] for s in passage.sentences]
        sentences = [s for s in sentences if len(s.split()) >= 10]
        if not sentences:
            continue
        sentence = rng.choice(sentences)
        made["verbatim"].append(sentence)
        words = sentence.split(" ")
        words[len(words) // 2] = "purple"
        made["altered"].append(" ".join(words))
        if len(sentences) >= 2:
            made["ellipsis"].append(f"{sentences[0]} ... {sentences[-1]}")
    return [(kind, text) for kind in KINDS for text in made[kind][:count]]


def serve_and_time(engine, quoted: list[tuple[str, str]], rounds: int) -> dict:
    """Time each check `rounds` times; percentiles overall and by kind, and the verdicts given."""
    for _, text in quoted[:WARM_UP]:
        engine.check(text)
    overall, by_kind, verdicts = [], {kind: [] for kind in KINDS}, Counter()
    for _ in range(rounds):
        for kind, text in quoted:
            started = time.perf_counter()
            result = engine.check(text)
            seconds = time.perf_counter() - started
            overall.append(seconds)
            by_kind[kind].append(seconds)
            verdicts[f"{kind}: {result.verdict}"] += 1
    return {
        "check": percentiles(overall),
        "by_kind": {kind: percentiles(samples) for kind, samples in by_kind.items()},
        "verdicts": dict(sorted(verdicts.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--count", type=int, default=25, help="quotations of each kind")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from assistant.config import Settings
    from assistant.engine import QuoteEngine

    engine = QuoteEngine.open(Settings(corpus_dir=args.corpus, index_dir=args.index))
    engine.embedder.encode(["warm-up"])  # load the model now, as the app does
    opened = time.perf_counter() - started
    rss_open = current_rss_mib()
    result = serve_and_time(engine, quotations(engine, args.count), args.rounds)
    emit_json(
        {
            "passages": engine.store.size,
            "index_kind": engine.store.manifest.get("index_kind"),
            "open_s": round(opened, 3),
            "rss_mib": {"after_open": rss_open, "peak": peak_rss_mib()},
            **result,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
