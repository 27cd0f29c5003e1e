"""Command line: `quotefirst` (or `python -m assistant`) `ingest | ask | check | show | eval`.

Results go to stdout, progress and errors to stderr; an error is one line and exit status 1 (EXIT_CODES).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from assistant import __version__
from assistant.answer import plural
from assistant.config import Settings
from assistant.errors import AssistantError

#: What the exit status means; shown by --help and in the README.
EXIT_CODES = """exit status:
  0    done (an unanswered question is a result too: "answered": false)
  1    an error, said in one line on stderr (a missing corpus, a damaged index, a bad question)
  2    the command line is wrong (an unknown option, a missing argument)
  130  interrupted (Ctrl-C); an index being built is left as it was
  141  the output was closed early (e.g. `| head -1`); nothing more is printed

Results go to stdout; progress and errors to stderr (progress bars only on a terminal)."""

#: Why a quote the model doubts still answers (Quote.matched_by), in the text output.
MATCH_REASONS = {
    "meaning": "its meaning is close",
    "phrase": "it holds the quoted phrase",
    "named": "the question asks only what was said by the people, or on the dates, it names",
}


def main(argv: list[str] | None = None, prog: str = "quotefirst") -> int:
    """Run one command; return the process exit code (see EXIT_CODES)."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here for output still in the buffer
        return status
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not fail on the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _parser(prog: str = "quotefirst") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Quote-first answers from a corpus: verbatim, cited passages only.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"quotefirst {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    ingest = commands.add_parser("ingest", help="build or update the index")
    _location_options(ingest, corpus=True)
    ingest.add_argument(
        "--rebuild", action="store_true", help="with --store: drop the store and build it again from the corpus"
    )
    ingest.set_defaults(run=_ingest)

    ask = commands.add_parser("ask", help="answer questions with cited quotes")
    _location_options(ask, corpus=True)
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask.add_argument("--questions", metavar="FILE", help="JSON lines with a 'question' field; '-' reads stdin")
    ask.add_argument("--top-k", type=_top_k, default=5, metavar="N", help="quotes per answer, 1-100 (default 5)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("--strict", action="store_true", help="leave out passages that are not a match")
    ask.add_argument(
        "--no-steer",
        action="store_true",
        help="do not restrict the search to people or dates the question names ('What did Psaki say on 4 March')",
    )
    ask.set_defaults(run=_ask)

    check = commands.add_parser(
        "check", help="check a quotation (a longer text sentence by sentence): verbatim, altered, or not in the corpus"
    )
    _location_options(check, corpus=True)
    check.add_argument("text", nargs="?", default="-", metavar="TEXT", help="the text to check ('-' or none: stdin)")
    check.add_argument("--speaker", metavar="NAME", help="who the quotation is attributed to")
    check.add_argument("--date", metavar="YYYY-MM-DD", help="when it is said to have been said")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(run=_check)

    show = commands.add_parser("show", help="print a document with paragraph numbers and metadata")
    _location_options(show, corpus=True)
    show.add_argument("doc_id")
    show.set_defaults(run=_show)

    evaluate = commands.add_parser("eval", help="measure retrieval quality on labelled questions")
    _location_options(evaluate, corpus=True)
    evaluate.add_argument("file", help="JSON lines (question, doc_id, answer), or BEIR queries.jsonl")
    evaluate.add_argument("--qrels", help="BEIR relevance judgements (TSV: query-id, corpus-id, score)")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--calibrate", action="store_true", help="also fit the abstention threshold")
    evaluate.set_defaults(run=_eval)
    return parser


def _location_options(parser: argparse.ArgumentParser, corpus: bool) -> None:
    if corpus:
        parser.add_argument(
            "--corpus",
            type=Path,
            help="corpus folder (default $ASSISTANT_CORPUS, else the one the index was built from, else corpus/); "
            "only ingest may give an index another corpus",
        )
    parser.add_argument("--index", type=Path, help="index folder (default embeddings/ or $ASSISTANT_INDEX)")
    parser.add_argument(
        "--store",
        metavar="URL",
        help="a shared PostgreSQL store (postgresql://…) instead of the index folder (default $ASSISTANT_STORE)",
    )


def _settings(args) -> Settings:
    """The folders to use: an index answers from the corpus it was built from (see engine.settings_for)."""
    from assistant.engine import settings_for

    return settings_for(getattr(args, "corpus", None), getattr(args, "index", None), getattr(args, "store", None))


def _notice(line: str) -> None:
    """Say at once, on stderr, what a command is doing beyond its job (rebuilding, waiting for a lock)."""
    print(line, file=sys.stderr, flush=True)


def _top_k(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--top-k takes a whole number, not '{value}'") from None
    if not 1 <= number <= 100:
        raise argparse.ArgumentTypeError("--top-k must be between 1 and 100")
    return number


def _ingest(args) -> int:
    from assistant.ingest import ingest

    settings = _settings(args)
    started = time.perf_counter()
    with _ProgressBar() as bar:
        if settings.store is not None:
            from assistant.pgingest import ingest_postgres

            report = ingest_postgres(settings, settings.embedder(), bar.update, _notice, rebuild=args.rebuild)
        else:
            report = ingest(settings, settings.embedder(), bar.update, notice=_notice)
    print(_ingest_summary(report, time.perf_counter() - started))
    return 0


def _ingest_summary(report, seconds: float) -> str:
    lines = []
    if report.up_to_date:
        counts = f"{plural(report.documents, 'document')}, {plural(report.passages, 'passage')}"
        lines.append(f"Index up to date: {counts} ({seconds:.1f} s).")
    else:
        changes = f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed"
        rebuilt = f"; rebuilt: {report.rebuilt}" if report.rebuilt else ""
        lines.append(
            f"Indexed {plural(report.documents, 'document')}, {plural(report.passages, 'passage')} ({changes}, "
            f"{report.unchanged} unchanged{rebuilt}) in {seconds:.1f} s."
        )
    if report.skipped:
        lines.append(f"Skipped {plural(len(report.skipped), 'file')}:")
        lines += [f"  {skipped.path}: {skipped.reason}" for skipped in report.skipped]
    return "\n".join(lines)


def _open_engine(args):
    from assistant.engine import QuoteEngine

    with _ProgressBar() as bar:
        return QuoteEngine.open(_settings(args), build=True, progress=bar.update, notice=_notice)


def _ask(args) -> int:
    if bool(args.question) == bool(args.questions):
        print("error: give one QUESTION or --questions FILE", file=sys.stderr)
        return 2
    questions = [args.question] if args.question else list(_read_questions(args.questions))
    engine = _open_engine(args)
    status = 0
    for question in questions:
        try:
            answer = engine.ask(question, top_k=args.top_k, strict=args.strict, steer=not args.no_steer)
        except AssistantError as error:
            if len(questions) == 1:
                raise
            print(f"error: {error}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(answer.to_json(), ensure_ascii=False) if args.json else _readable(answer))
    return status


def _read_questions(source: str) -> Iterator[str]:
    from assistant.errors import QuestionError

    handle = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)["question"]
            except (ValueError, KeyError, TypeError) as error:
                raise QuestionError(f"{source}, line {number}: not a JSON object with a 'question' field") from error


def _readable(answer) -> str:
    lines = [f"Q: {answer.question}"]
    if answer.restricted_to:
        lines.append(f"Searched only: {answer.restricted_to} (named in the question; --no-steer searches everything)")
    if answer.restriction_note:
        lines.append(answer.restriction_note)
    if answer.answered:
        lines.append(answer.summary + ":")
    else:
        lines.append(answer.message or "No passage in the corpus answers this question.")
        if answer.quotes:
            lines.append("Closest passages (not a match):")
    for number, quote in enumerate(answer.quotes, start=1):
        marker = "" if quote.is_match else " [not a match]"
        lines.append(f"\n[{number}] {quote.attribution}{marker}")
        lines += textwrap.wrap(quote.text, 100, initial_indent="    “", subsequent_indent="     ")
        lines[-1] += "”"
        if quote.highlight != quote.text:
            best = textwrap.wrap(
                f"Best sentence: “{quote.highlight}”", 100, initial_indent="    ", subsequent_indent="     "
            )
            lines += best  # wrapped like the quote; --json and the chars range give the text exactly
        relevance = f"relevance {quote.score:.2f}"
        if quote.score_kind == "probability":
            relevance = f"answers with probability {quote.score:.2f}"
            why = MATCH_REASONS.get(quote.matched_by or "")
            if why:
                relevance = f"a match because {why}; the model gives {quote.score:.2f}"
        lines.append(f"    {quote.path} chars {quote.start}-{quote.end}, {relevance}")
        if quote.url:
            lines.append(f"    Source: {quote.url}")
    return "\n".join(lines)


def _check(args) -> int:
    from assistant.check import Claim

    text = sys.stdin.read() if args.text == "-" else args.text
    claim = Claim(args.speaker, args.date)  # a bad date fails before the model loads
    paste = _open_engine(args).check_paste(text, claim.speaker, claim.date)
    print(json.dumps(paste.to_json(), ensure_ascii=False) if args.json else _readable_paste(paste))
    return 0


def _readable_paste(paste) -> str:
    """One checked quotation as _readable_check words it, with the paste's notes; or, checked sentence by
    sentence, the tally and notes, then each part with its verdict and its best match."""
    from assistant.answer import plural

    if paste.single:
        lines = _readable_check(paste.single).split("\n")
        return "\n".join([lines[0], *paste.notes, *lines[1:]])
    lines = [f"{paste.label}: {paste.finding}", *paste.notes]
    for part in paste.parts:
        result = part.result
        lines.append(f"\n{part.label}: {result.summary}")
        lines += textwrap.wrap(" ".join(result.text.split()), 100, initial_indent="  “", subsequent_indent="   ")
        lines[-1] += "”"
        if result.misattribution:
            lines.append(f"  {result.misattribution}")
        if result.verdict != "not_found" and result.matches:
            lines += _readable_match(result.matches[0], 1, fragments=False)
            if len(result.matches) > 1:
                lines.append(f"    …and {plural(len(result.matches) - 1, 'more place')} in the corpus.")
    return "\n".join(lines)


def _readable_check(result) -> str:
    lines = [result.summary]
    if result.attribution_note and result.status != "unattributed":
        lines.append(f"Unattributed: {result.attribution_note}")
    if result.misattribution:
        lines.append(result.misattribution)
    if result.verdict == "not_found" and result.matches:
        lines.append("Closest passages (not a match):")
    fragments = len({match.quoted for match in result.matches if match.is_match}) > 1
    for number, match in enumerate(result.matches, start=1):
        lines += _readable_match(match, number, fragments)
    return "\n".join(lines)


def _readable_match(match, number: int, fragments: bool) -> list[str]:
    lines = [f"\n[{number}] {match.citation}, similarity {match.similarity:.2f}"]
    if fragments:  # an ellipsis (or reordered sentences): say which part of the quotation this is
        lines.append(f"    For: “{match.quoted}”")
    lines += textwrap.wrap(match.text, 100, initial_indent="    “", subsequent_indent="     ")
    lines[-1] += "”"
    lines += [f"    - {op.describe()}" for op in match.differences]
    if match.misattributed:
        lines.append(f"    Said by {match.said}.")
    lines.append(f"    {match.path} chars {match.start}-{match.end}")
    return lines


def _show(args) -> int:
    from assistant.answer import metadata_rows

    engine = _open_engine(args)
    view = engine.document(args.doc_id)
    print(view.info.metadata.title)
    for label, value in [*metadata_rows(view.info.metadata), ("File", view.info.path), ("ID", view.info.doc_id)]:
        print(f"{label}: {value}")
    print()
    last = None
    for passage in view.passages:
        if passage.paragraph != last:
            print(f"\n¶{passage.paragraph}  ", end="")
            last = passage.paragraph
        else:
            print(" ", end="")
        print(passage.text, end="")
    print()
    return 0


def _eval(args) -> int:
    from assistant.evaluate import evaluate_beir, evaluate_labelled, format_report, load_labelled

    if args.qrels:
        report = evaluate_beir(_open_engine(args), Path(args.file), Path(args.qrels))
    else:
        questions = load_labelled(Path(args.file))  # a bad file fails before the model loads
        report = evaluate_labelled(_open_engine(args), questions, calibrate=args.calibrate)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


class _ProgressBar:
    """A tqdm bar on stderr per stage, only when stderr is a terminal (a log gets no escape codes)."""

    def __init__(self) -> None:
        self._bars: dict = {}
        self._shown = sys.stderr.isatty()

    def update(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if not self._shown:
            return
        if stage not in self._bars:
            label = {"read": "Reading", "embed": "Embedding"}.get(stage, stage)
            self._bars[stage] = tqdm(total=total, desc=label, unit=" items", file=sys.stderr, leave=False)
        bar = self._bars[stage]
        bar.update(done - bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for bar in self._bars.values():
            bar.close()
