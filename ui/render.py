"""HTML for the app: quote cards, checked quotations with their differences, the document view, the corpus list.

Every string from the corpus or from a user is HTML-escaped here, quotes included, so what
a document says is shown character for character and nothing in it is rendered as Markdown
or run as HTML: this module is the app's security boundary, and tests/test_render.py tests
it. Each passage of corpus text is one element carrying data-doc, data-start and
data-end, whose visible text is exactly document_text[start:end] (only <mark> inside it).
The page's CSS and JavaScript are files in ui/static/.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from assistant.answer import Quote, format_date, metadata_rows, plural
from assistant.check import CheckMatch, CheckResult
from assistant.engine import DocumentView
from assistant.index import DocumentInfo
from assistant.passages import Passage
from assistant.paste import PasteCheck

STATIC = Path(__file__).resolve().parent / "static"
CITED_ID = "cited-passage"  # also in static/scroll.js


def style() -> str:
    """The app's CSS, as a <style> element."""
    return f"<style>\n{(STATIC / 'app.css').read_text(encoding='utf-8')}</style>"


def script(name: str) -> str:
    """One of the app's fixed scripts (no corpus text in them), as a <script> element."""
    return f"<script>\n{(STATIC / name).read_text(encoding='utf-8')}</script>"


def escape(text: str) -> str:
    """HTML-escape text, quotes included, for element content and attribute values."""
    return html.escape(text, quote=True)


def permalink(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """A relative URL of the document view, at a character range when one is given."""
    params: dict[str, str | int] = {"doc": doc_id}
    if start is not None and end is not None:
        params.update(start=start, end=end)
    return "?" + urlencode(params)


def marked(text: str, start: int, end: int, css_class: str = "", element_id: str = "") -> str:
    """Escaped text with text[start:end] wrapped in <mark> (nothing marked when the range is empty)."""
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end <= start:
        return escape(text)
    attributes = (f' class="{css_class}"' if css_class else "") + (f' id="{element_id}"' if element_id else "")
    return f"{escape(text[:start])}<mark{attributes}>{escape(text[start:end])}</mark>{escape(text[end:])}"


def quote_html(quote: Quote, number: int | None = None) -> str:
    """A quote as safe HTML: attribution, the verbatim passage with its best sentence marked, link, copy button."""
    badge = "" if quote.is_match else '<span class="qa-badge">Not a match</span>'
    label = f"[{number}] " if number is not None else ""
    # A passage that is not an answer keeps its closest sentence marked, but not in the answers' yellow.
    css_class = "" if quote.is_match else "qa-near"
    passage = marked(quote.text, quote.highlight_start - quote.start, quote.highlight_end - quote.start, css_class)
    link = escape(permalink(quote.doc_id, quote.start, quote.end))
    copy = escape(copy_text(quote))
    return (
        f'<div class="qa-quote">'
        f'<p class="qa-attribution">{badge}{label}{escape(quote.attribution)}</p>'
        f'<blockquote class="qa-passage" data-doc="{escape(quote.doc_id)}" data-start="{quote.start}" '
        f'data-end="{quote.end}">{passage}</blockquote>'
        f'<p class="qa-links"><a href="{link}" target="_blank">Open in the document at ¶{quote.paragraph} ↗</a>'
        f"{source_link_html(quote.url)}"
        f'<button type="button" class="qa-copy" data-copy="{copy}">Copy quote with citation</button>'
        f"{relevance_html(quote)}</p>"
        "</div>"
    )


def lead_html(quote: Quote) -> str:
    """An answer's lead line, to read first: the best quote's best sentence (its highlight) and its citation.

    The sentence is one element whose text is exactly document_text[highlight_start:highlight_end].
    """
    sentence = quote.text[quote.highlight_start - quote.start : quote.highlight_end - quote.start]
    return (
        '<div class="qa-lead"><p class="qa-lead-text">'
        f'“<span class="qa-lead-sentence" data-doc="{escape(quote.doc_id)}" '
        f'data-start="{quote.highlight_start}" data-end="{quote.highlight_end}">{escape(sentence)}</span>”</p>'
        f'<p class="qa-lead-cite">{escape(quote.citation)}</p></div>'
    )


def relevance_html(quote: Quote) -> str:
    """How strongly the passage answers: the reranker's probability as a percentage, else the cosine.

    A passage the model doubts can still be a match, by its meaning or by the quoted phrase; the label
    then says so first, so a low "Answers" figure never sits unexplained on a quote given as an answer.
    """
    if quote.score_kind == "probability":
        model = "The probability, from our question–passage model, that this passage answers the question"
        if quote.matched_by == "meaning":
            title = f"Counted as an answer because its meaning is close to the question. {model}: {quote.score:.0%}."
            label = f"Close in meaning · model {quote.score:.0%}"
        elif quote.matched_by == "phrase":
            title = f"Counted as an answer because it holds the phrase you quoted. {model}: {quote.score:.0%}."
            label = f"Holds your phrase · model {quote.score:.0%}"
        elif quote.matched_by == "named":
            title = (
                "Counted as an answer because your question asks only what was said by the people, or on the "
                f"dates, it names, and this is what was said. {model}: {quote.score:.0%}."
            )
            label = f"Within your restriction · model {quote.score:.0%}"
        elif quote.matched_by is None:
            title = (
                f"Not counted as an answer: neither the model nor any rule says it answers. {model}: {quote.score:.0%}."
            )
            label = f"Does not answer · model {quote.score:.0%}"
        else:
            title, label = model, f"Answers: {quote.score:.0%}"
        return f'<span class="qa-relevance" title="{escape(title)}">{escape(label)}</span>'
    return f'<span class="qa-relevance" title="Cosine similarity to the question">Relevance {quote.score:.2f}</span>'


def source_link_html(url: str | None) -> str:
    """A quote's link to its source on the web ('Source: bidenwhitehouse.archives.gov ↗'); '' without one."""
    if not url:
        return ""
    if not url.startswith(("https://", "http://")):
        return f'<span class="qa-source">Source: {escape(url)}</span>'
    site = urlsplit(url).netloc or url
    return f'<a class="qa-source" href="{escape(url)}" target="_blank" rel="noopener">Source: {escape(site)} ↗</a>'


def quote_card_html(quote: Quote, neighbours: tuple[Passage | None, Passage | None], number: int | None = None) -> str:
    """A quote's box: the quote, then its context folded under "In context", as safe HTML."""
    return (
        f'<div class="qa-card">{quote_html(quote, number)}<details class="qa-in-context"><summary>In context</summary>'
        f"{context_html(quote, *neighbours)}</details></div>"
    )


def context_html(quote: Quote, before: Passage | None, after: Passage | None) -> str:
    """The passages just before and after a quote, around the quote itself, as safe HTML."""

    def paragraph(passage: Passage | None, edge: str, current: bool = False) -> str:
        if passage is None:
            return f'<p class="qa-muted"><em>({edge} of the document)</em></p>'
        css = "qa-current" if current else "qa-muted"
        return (
            f'<p class="{css}"><span class="qa-pnum">¶{passage.paragraph}</span>'
            f'<span data-doc="{escape(passage.doc_id)}" data-start="{passage.start}" data-end="{passage.end}">'
            f"{escape(passage.text)}</span></p>"
        )

    current = Passage(quote.doc_id, quote.start, quote.end, quote.paragraph, quote.speaker, quote.text, ())
    parts = [paragraph(before, "start"), paragraph(current, "", current=True), paragraph(after, "end")]
    return f'<div class="qa-context">{"".join(parts)}</div>'


def document_html(view: DocumentView, cited: tuple[int, int] | None) -> str:
    """The whole document as safe HTML, a block per paragraph with its number, the cited range marked."""
    text, doc_id, blocks, cursor, first = view.text, view.info.doc_id, [], 0, True
    spans = [(f"¶{number}", start, end) for number, start, end in paragraph_spans(view.passages)]
    for label, start, end in [*spans, ("", len(text), len(text))]:
        if text[cursor:start].strip():  # text outside any passage (e.g. front matter) is shown too, unnumbered
            blocks.append(_block(doc_id, text, cursor, start, "", cited, first))
            first = first and not _overlaps(cursor, start, cited)
        if end > start:
            blocks.append(_block(doc_id, text, start, end, label, cited, first))
            first = first and not _overlaps(start, end, cited)
        cursor = max(cursor, end)
    return f'<div class="qa-document">{"".join(blocks)}</div>'


def paragraph_spans(passages: list[Passage]) -> list[tuple[int, int, int]]:
    """(paragraph number, start, end) for each paragraph, joining the passages a long paragraph was cut into."""
    spans: list[tuple[int, int, int]] = []
    for passage in passages:
        if spans and spans[-1][0] == passage.paragraph:
            spans[-1] = (passage.paragraph, spans[-1][1], passage.end)
        else:
            spans.append((passage.paragraph, passage.start, passage.end))
    return spans


def _overlaps(start: int, end: int, cited: tuple[int, int] | None) -> bool:
    return cited is not None and cited[0] < end and start < cited[1]


def _block(doc_id: str, text: str, start: int, end: int, label: str, cited: tuple[int, int] | None, first: bool) -> str:
    """One paragraph: its number and its exact text, with the part inside the cited range marked."""
    css, body = ("qa-para" if label else "qa-para qa-outside"), escape(text[start:end])
    if _overlaps(start, end, cited):
        css += " qa-cited"
        body = marked(text[start:end], cited[0] - start, cited[1] - start, "qa-cited-text", CITED_ID if first else "")
    return (
        f'<div class="{css}"><span class="qa-pnum">{label}</span><div class="qa-text" data-doc="{escape(doc_id)}" '
        f'data-start="{start}" data-end="{end}">{body}</div></div>'
    )


def link_html(url: str) -> str:
    """A link for a web address; anything else (javascript:, a file path) as plain escaped text."""
    if not url.startswith(("https://", "http://")):
        return escape(url)
    return f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(url)}</a>'


def metadata_html(view: DocumentView) -> str:
    """A document's title and metadata as safe HTML."""
    meta = view.info.metadata
    rows = [*metadata_rows(meta), ("Document id", view.info.doc_id), ("Passages", str(view.info.passage_count))]
    rows = [(label, link_html(value) if label == "Source" else escape(value)) for label, value in rows]
    cells = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows if value)
    return f'<h2 class="qa-title">{escape(meta.title)}</h2><dl class="qa-meta">{cells}</dl>'


def corpus_html(documents: list[DocumentInfo]) -> str:
    """The corpus as a list: title (linking to the document view), author or speaker, date, passage count."""
    items = []
    for info in documents:
        meta = info.metadata
        who = meta.speaker or meta.author or "unknown author"
        details = f"{who} · {format_date(meta.date) or 'undated'} · {plural(info.passage_count, 'passage')}"
        items.append(
            f'<li><a href="{escape(permalink(info.doc_id))}" target="_blank">{escape(meta.title)}</a><br>'
            f'<span class="qa-muted">{escape(details)}</span></li>'
        )
    return f'<ol class="qa-corpus">{"".join(items)}</ol>'


def corpus_matches(info: DocumentInfo, wanted: str) -> bool:
    """Whether every word of `wanted` starts a word of the document's title, author, speaker, id or date
    (any case): "psaki may" finds "Press Briefing by Press Secretary Jen Psaki, May 17, 2021"."""
    meta = info.metadata
    fields = [meta.title, meta.author, meta.speaker, info.doc_id, meta.date, format_date(meta.date)]
    haystack = " ".join(field for field in fields if field).casefold()
    return all(re.search(r"(?<!\w)" + re.escape(word), haystack) for word in wanted.casefold().split())


def copy_text(quote: Quote) -> str:
    """The quote with its citation, as copied to the clipboard."""
    return f"“{quote.text}”\n— {quote.citation}"


# --- Checked quotations ------------------------------------------------------------------------------


def paste_html(paste: PasteCheck) -> str:
    """A checked paste as safe HTML: one checked quotation (check_html) when it was checked whole; else
    the overall verdict and tally, its notes, then each part (a sentence, or a verbatim run of them)
    with its verdict and its best match (none for a sentence not found)."""
    if paste.single:
        return check_html(paste.single, paste.notes)
    verdict = (
        f'<p class="qa-verdict"><span class="qa-verdict-badge qa-{paste.status}">{escape(paste.label)}</span>'
        f"{escape(paste.finding)}</p>{notes_html(paste.notes)}"
    )
    parts = "".join(
        f'<div class="qa-paste-part"><p class="qa-part-label">{escape(part.label)}</p>'
        f"{check_html(part.result, max_matches=0 if part.result.verdict == 'not_found' else 1)}</div>"
        for part in paste.parts
    )
    return f'<div class="qa-check qa-paste">{verdict}{parts}</div>'


def notes_html(notes) -> str:
    """What was done to a paste before it was matched (markup removed, the text cut), one line each."""
    return "".join(f'<p class="qa-muted qa-note">{escape(note)}</p>' for note in notes)


def check_html(result: CheckResult, notes=(), max_matches: int | None = None) -> str:
    """A checked quotation as safe HTML: the quotation, its verdict, any notes and misattribution, then its
    matches (the first max_matches of them, saying how many more there are)."""
    claim = f'<p class="qa-muted">Attributed to {escape(result.claim.describe())}</p>' if result.claim.given else ""
    verdict = (
        f'<p class="qa-verdict"><span class="qa-verdict-badge qa-{result.status}">{escape(result.label)}</span>'
        f"{escape(result.explanation)}</p>{notes_html(notes)}"
    )
    if result.attribution_note and result.status != "unattributed":  # altered words no source gives anyone
        verdict += (
            '<p class="qa-verdict"><span class="qa-verdict-badge qa-unattributed">Unattributed</span>'
            f"{escape(result.attribution_note)}</p>"
        )
    misattribution = ""
    if result.misattributed:
        who = escape(f"Attributed to {result.claim.describe()}, but said by {result.matches[0].said}.")
        misattribution = (
            f'<p class="qa-verdict"><span class="qa-verdict-badge qa-misattributed">Misattributed</span>{who}</p>'
        )
    shown = result.matches[:max_matches]
    closest = ""
    if result.verdict == "not_found" and shown:
        closest = '<p class="qa-muted">Closest passages (not a match):</p>'
    several = len({match.quoted for match in result.matches if match.is_match}) > 1
    cards = "".join(check_match_html(match, number, several) for number, match in enumerate(shown, 1))
    if shown and len(result.matches) > len(shown):
        more = len(result.matches) - len(shown)
        cards += f'<p class="qa-muted">…and {plural(more, "more place")} in the corpus.</p>'
    return (
        f'<div class="qa-check"><blockquote class="qa-quotation">{escape(result.text)}</blockquote>'
        f"{claim}{verdict}{misattribution}{closest}{cards}</div>"
    )


def check_match_html(match: CheckMatch, number: int, several_parts: bool = False) -> str:
    """One match: citation, the source's exact text with the words the quotation changed marked,
    the quotation against the source (inserted and dropped words), and a link into the document."""
    badges = "" if match.is_match else '<span class="qa-badge">Not a match</span>'
    if match.misattributed:
        badges += '<span class="qa-badge qa-badge-warn">Misattributed</span>'
    if match.uploaded:
        badges += '<span class="qa-badge">Uploaded, not verified</span>'
    part = f'<p class="qa-muted">For “{escape(match.quoted)}”:</p>' if several_parts and match.is_match else ""
    changed = [(op.source_start - match.start, op.source_end - match.start) for op in match.differences if op.source]
    diff = ""
    if match.differences:
        diff = (
            '<p class="qa-diff-label">The quotation against the source '
            '(<del class="qa-del">left out or changed</del>, <ins class="qa-ins">added</ins>):</p>'
            f'<p class="qa-diff">{diff_html(match)}</p>'
        )
    said = f'<p class="qa-muted">Said by {escape(match.said)}.</p>' if match.misattributed else ""
    link = escape(permalink(match.doc_id, match.start, match.end))
    return (
        f'<div class="qa-card qa-check-match">'
        f'<p class="qa-attribution">{badges}[{number}] {escape(match.citation)}'
        f' <span class="qa-muted">· similarity {match.similarity:.2f}</span></p>{part}'
        f'<blockquote class="qa-passage" data-doc="{escape(match.doc_id)}" data-start="{match.start}" '
        f'data-end="{match.end}">{marked_ranges(match.text, changed, "qa-changed")}</blockquote>'
        f"{diff}{said}"
        f'<p class="qa-links"><a href="{link}" target="_blank">Open in the document at ¶{match.paragraph} ↗</a></p>'
        "</div>"
    )


def diff_html(match: CheckMatch) -> str:
    """The source span with the quotation's differences inline: dropped words in <del>, added ones in <ins>.

    The source's own text (and spacing) everywhere except the <ins> elements, which hold the quotation's.
    """
    text, parts, cursor = match.text, [], 0
    for op in match.diff:
        start, end = op.source_start - match.start, op.source_end - match.start
        parts.append(escape(text[cursor:start]))
        if op.op == "equal":
            parts.append(escape(text[start:end]))
        else:
            if op.source:
                parts.append(f'<del class="qa-del">{escape(text[start:end])}</del>')
            if op.quoted:
                before = " " if op.source or (start > 0 and not text[start - 1].isspace()) else ""
                after = " " if not op.source and start < len(text) and text[start].isalnum() else ""
                parts.append(f'{before}<ins class="qa-ins">{escape(op.quoted)}</ins>{after}')
        cursor = max(cursor, end)
    parts.append(escape(text[cursor:]))
    return "".join(parts)


def marked_ranges(text: str, ranges: list[tuple[int, int]], css_class: str) -> str:
    """Escaped text with each [start, end) range (in order, not overlapping) wrapped in <mark>."""
    parts, cursor = [], 0
    for start, end in sorted(ranges):
        start, end = max(cursor, min(start, len(text))), max(0, min(end, len(text)))
        if end <= start:
            continue
        parts.append(f'{escape(text[cursor:start])}<mark class="{css_class}">{escape(text[start:end])}</mark>')
        cursor = end
    return "".join(parts) + escape(text[cursor:])
