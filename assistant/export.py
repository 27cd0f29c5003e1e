"""Export: a conversation (and checked quotations) as Markdown, every quote with its citation and a list of sources."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer import Answer, Quote, format_date
from assistant.check import CheckMatch, CheckResult
from assistant.paste import PasteCheck

NOT_FOUND = "No passage in the corpus answers this question."
# Characters that start Markdown (or GFM, or LaTeX in Streamlit) syntax anywhere in a line.
_INLINE_SYNTAX = re.compile(r"([\\`*_\[\]<>|~&$])")
# What makes a line a heading, quote, list item, rule or setext underline when it starts one.
_LINE_START_SYNTAX = re.compile(r"^(\s*)(#|>|-|\+|=|(\d{1,9})([.)]))")


def markdown_escape(text: str) -> str:
    """Backslash-escape text so that Markdown renders it literally, character for character.

    `*`, `_`, `[x](javascript:...)`, `<script>`, `#` headings and the like come out as
    the characters themselves; only the Markdown source gains backslashes.
    """
    escaped = _INLINE_SYNTAX.sub(r"\\\1", text)
    return "\n".join(_escape_line_start(line) for line in escaped.split("\n"))


def conversation_markdown(
    answers: Sequence[Answer], title: str = "Conversation", checks: Sequence[PasteCheck | CheckResult] = ()
) -> str:
    """The questions and their quoted answers, then any checked quotations, as one Markdown document.

    Each quote is a block quote (escaped so it reads exactly as the source), followed
    by its attribution and a reference number into the "Sources" list at the end,
    which names each cited document once, in order of first citation. Each checked
    quotation gets its verdict, any misattribution, and each match with its differences; a paste checked
    sentence by sentence, its tally and notes, then each part (a sentence or a verbatim run) with its best match.
    """
    sources: dict[str, int] = {}
    described: dict[str, str] = {}
    lines = [f"# {markdown_escape(title)}", ""]
    for number, answer in enumerate(answers, start=1):
        lines += [f"## {number}. {markdown_escape(answer.question)}", ""]
        if answer.searched_for and answer.searched_for != answer.question:
            lines += [f"*Searched for:* {markdown_escape(answer.searched_for)}", ""]
        lines += [markdown_escape(answer.summary if answer.answered else answer.message or NOT_FOUND), ""]
        if not answer.answered and answer.quotes:
            lines += ["Closest passages (not a match):", ""]
        for quote in answer.quotes:
            reference = sources.setdefault(quote.doc_id, len(sources) + 1)
            described.setdefault(quote.doc_id, _source_line(quote.title, quote.author, quote.date, quote.doc_id))
            lines += _quote_lines(quote, reference)
    if checks:
        lines += ["## Quotations checked", ""]
    for number, check in enumerate(checks, start=1):
        paste = PasteCheck.of(check) if isinstance(check, CheckResult) else check
        if paste.single:
            groups = [(_check_lines(f"{number}.", paste.single, paste.notes), paste.single.matches)]
        else:  # sentence by sentence: each part with its best match (none for a sentence not found)
            lines += _paste_lines(number, paste)
            groups = [
                (
                    _check_lines(f"{number}. {part.label}:", part.result, level="####"),
                    part.result.matches[: 0 if part.result.verdict == "not_found" else 1],
                )
                for part in paste.parts
            ]
        for heading, matches in groups:
            lines += heading
            for match in matches:
                reference = sources.setdefault(match.doc_id, len(sources) + 1)
                described.setdefault(match.doc_id, _source_line(match.title, match.author, match.date, match.doc_id))
                lines += _match_lines(match, reference)
    if sources:
        lines += ["## Sources", ""]
        lines += [f"{reference}. {described[doc_id]}" for doc_id, reference in sources.items()]
        lines.append("")
    return "\n".join(lines)


def _paste_lines(number: int, paste: PasteCheck) -> list[str]:
    """The heading of a paste checked sentence by sentence: its overall verdict, tally and notes."""
    lines = [f"### {number}. A text of {paste.sentences} sentences", ""]
    if paste.claim.given:
        lines += [f"Attributed to {markdown_escape(paste.claim.describe())}", ""]
    lines += [f"**{markdown_escape(paste.label)}:** {markdown_escape(paste.finding)}", ""]
    return lines + [line for note in paste.notes for line in (markdown_escape(note), "")]


def _check_lines(heading: str, result: CheckResult, notes=(), level: str = "###") -> list[str]:
    lines = [f"{level} {heading} “{markdown_escape(' '.join(result.text.split()))}”", ""]
    if result.claim.given and level == "###":
        lines += [f"Attributed to {markdown_escape(result.claim.describe())}", ""]
    lines += [f"**{markdown_escape(result.label)}:** {markdown_escape(result.explanation)}", ""]
    lines += [line for note in notes for line in (markdown_escape(note), "")]
    if result.attribution_note and result.status != "unattributed":
        lines += [f"**Unattributed:** {markdown_escape(result.attribution_note)}", ""]
    if result.misattributed:
        said = f"attributed to {result.claim.describe()}, but said by {result.matches[0].said}."
        lines += [f"**Misattributed:** {markdown_escape(said)}", ""]
    if result.verdict == "not_found" and result.matches:
        lines += ["Closest passages (not a match):", ""]
    return lines


def _match_lines(match: CheckMatch, reference: int) -> list[str]:
    lead = "In" if match.is_match else "Not a match:"
    header = f"{lead} {markdown_escape(match.citation)} [{reference}], similarity {match.similarity:.2f}"
    differences = [f"- {markdown_escape(op.describe())}" for op in match.differences]
    if differences:
        differences = ["Differences (the quotation against the source):", "", *differences, ""]
    return [header, "", *_block_quote(match.text), "", *differences]


def _quote_lines(quote: Quote, reference: int) -> list[str]:
    marker = "" if quote.is_match else " (not a match)"
    citation = f"— {markdown_escape(quote.citation)} [{reference}]"
    return [f"{markdown_escape(quote.attribution)}{marker}", "", *_block_quote(quote.text), "", citation, ""]


def _block_quote(text: str) -> list[str]:
    """Markdown block-quote lines for a verbatim text, keeping its line breaks (a trailing backslash)."""
    lines = markdown_escape(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    quoted = []
    for line, following in zip(lines, [*lines[1:], ""]):
        if not line.strip():
            quoted.append(">")
        else:
            quoted.append(f"> {line}\\" if following.strip() else f"> {line}")
    return quoted


def _source_line(title: str, author: str | None, date: str | None, doc_id: str) -> str:
    described = ", ".join(markdown_escape(part) for part in [title, author, format_date(date) or "undated"] if part)
    return f"{described} (document {markdown_escape(doc_id)})"


def _escape_line_start(line: str) -> str:
    match = _LINE_START_SYNTAX.match(line)
    if not match:
        return line
    indent, marker, digits, closing = match.group(1), match.group(2), match.group(3), match.group(4)
    escaped = f"{digits}\\{closing}" if digits else f"\\{marker}"
    return indent + escaped + line[match.end() :]
