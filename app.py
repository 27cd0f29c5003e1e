"""Streamlit app: ask the corpus a question, read verbatim cited quotes, open each one in its document.

UI only; every answer comes from `assistant.engine.QuoteEngine`. Corpus text is always
HTML-escaped before it reaches the page, so what a document says is shown character
for character and nothing in it is rendered as Markdown or run as HTML.
"""

from __future__ import annotations

import datetime as dt
import gc
import html
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import streamlit as st

from assistant.answer import Answer, Quote, format_date, metadata_rows
from assistant.config import Settings
from assistant.engine import DocumentView, QuoteEngine
from assistant.errors import AssistantError
from assistant.export import NOT_FOUND, conversation_markdown, markdown_escape
from assistant.index import DocumentInfo
from assistant.passages import Passage
from assistant.search import Filters
from assistant.uploads import MAX_UPLOAD_BYTES, save_upload

UPLOAD_TYPES = ["txt", "md", "pdf", "html", "htm"]
STAGES = {"read": "reading documents", "embed": "embedding passages"}
OFFSET = re.compile(r"\d{1,12}", re.ASCII)
CITED_ID = "cited-passage"

CSS = """<style>
.qa-attribution { font-weight: 600; margin: 0 0 0.35rem 0; }
.qa-passage { white-space: pre-wrap; margin: 0; padding: 0.15rem 0 0.15rem 0.9rem;
  border-left: 3px solid rgba(128, 128, 128, 0.45); font-family: Georgia, "Times New Roman", serif;
  font-size: 1.02rem; line-height: 1.55; }
.qa-passage mark, .qa-document mark { background: rgba(255, 208, 0, 0.42); color: inherit; padding: 0 0.1em;
  border-radius: 2px; }
.qa-links { margin: 0.45rem 0 0 0; font-size: 0.9rem; display: flex; gap: 1.2rem; align-items: baseline; }
.qa-copy { font: inherit; font-size: 0.85rem; padding: 0.1rem 0.6rem; border-radius: 0.4rem; cursor: pointer;
  border: 1px solid rgba(128, 128, 128, 0.4); background: transparent; color: inherit; }
.qa-copy:hover { border-color: rgba(255, 75, 75, 0.8); }
.qa-badge { display: inline-block; font-size: 0.75rem; padding: 0.05rem 0.45rem; border-radius: 0.6rem;
  background: rgba(128, 128, 128, 0.18); margin-right: 0.4rem; vertical-align: 0.08em; }
.qa-card { border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 0.5rem; padding: 1rem; }
.qa-in-context { margin: 0.9rem 0 0 0; border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 0.5rem; }
.qa-in-context summary { cursor: pointer; padding: 0.5rem 1rem; list-style: none; font-size: 0.875rem; }
.qa-in-context summary::-webkit-details-marker { display: none; }
.qa-in-context summary::before { content: ""; display: inline-block; width: 0.4rem; height: 0.4rem;
  margin: 0 0.75rem 0.1rem 0.1rem; border: solid currentColor; border-width: 0 2px 2px 0; transform: rotate(-45deg);
  transition: transform 0.15s; }
.qa-in-context[open] summary::before { transform: rotate(45deg); }
.qa-in-context .qa-context { padding: 0.3rem 1rem 0.2rem 1rem; }
.qa-context p { white-space: pre-wrap; margin: 0 0 0.6rem 0; }
.qa-context .qa-muted, .qa-muted { opacity: 0.7; }
.qa-pnum { display: inline-block; min-width: 2.6rem; opacity: 0.6; font-size: 0.85rem; user-select: none; }
.qa-document .qa-para { display: flex; gap: 0.6rem; margin: 0 0 0.9rem 0; }
.qa-document .qa-pnum { text-align: right; flex: none; padding-top: 0.1rem; }
.qa-document .qa-text { white-space: pre-wrap; flex: 1; line-height: 1.6; }
.qa-document .qa-cited { border-left: 3px solid rgba(255, 170, 0, 0.9); padding-left: 0.4rem; margin-left: -0.7rem; }
.qa-meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; margin: 0 0 1rem 0; }
.qa-meta dt { opacity: 0.65; } .qa-meta dd { margin: 0; }
.qa-corpus { padding-left: 1.1rem; margin: 0; font-size: 0.9rem; } .qa-corpus li { margin-bottom: 0.5rem; }
.qa-document .qa-outside { opacity: 0.7; }
</style>"""

# Fixed scripts (no corpus text in them), run with st.html(..., unsafe_allow_javascript=True).
# Copy: one click on a quote's button puts its data-copy text (the quote and its citation) on the clipboard.
COPY_ON_CLICK = """<script>
(() => {
  if (window.qaCopyInstalled) { return; }
  window.qaCopyInstalled = true;
  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (error) {  // no clipboard API outside https/localhost: copy from a hidden text area instead
      const area = document.createElement("textarea");
      area.value = text;
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      return copied;
    }
  };
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button.qa-copy");
    if (!button) { return; }
    button.dataset.label = button.dataset.label || button.textContent;
    const copied = await copy(button.dataset.copy || "");
    button.textContent = copied ? "Copied ✓" : "Could not copy: select the text instead";
    setTimeout(() => { button.textContent = button.dataset.label; }, 3000);
  });
})();
</script>"""
# Scroll the cited passage into view once it is on the page.
SCROLL_TO_CITED = f"""<script>
(() => {{
  let tries = 0;
  const jump = () => {{
    const target = document.getElementById("{CITED_ID}");
    if (target) {{ target.scrollIntoView({{ block: "center" }}); }}
    else if (tries++ < 50) {{ setTimeout(jump, 100); }}
  }};
  jump();
}})();
</script>"""


# --- State shared by every browser session of this process -------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """What the sidebar shows of an engine's corpus, worked out once per engine instead of on every rerun."""

    titles: dict[str, str]
    people: tuple[str, ...]
    earliest: dt.date | None
    latest: dt.date | None
    label: str
    html: str

    @classmethod
    def of(cls, engine: QuoteEngine) -> Catalog:
        """Read the engine's documents and people once."""
        documents = engine.documents()
        passages = sum(info.passage_count for info in documents)
        dates = document_dates(documents)
        return cls(
            titles={info.doc_id: info.metadata.title for info in documents},
            people=tuple(engine.people()),
            earliest=min(dates, default=None),
            latest=max(dates, default=None),
            label=f"Corpus: {len(documents)} documents, {passages} passages",
            html=corpus_html(documents),
        )

    def date_bounds(self) -> tuple[dt.date, dt.date]:
        """The earliest and latest dates for the date pickers (up to today)."""
        today = dt.date.today()
        return self.earliest or dt.date(1900, 1, 1), max(self.latest or today, today)


@dataclass
class EngineSlot:
    """The process's engine for one configuration; replaced in place when an upload updates the index."""

    engine: QuoteEngine | None = None
    catalog: Catalog | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def install(self, engine: QuoteEngine) -> None:
        """Serve this engine from now on, with its catalog."""
        self.catalog = Catalog.of(engine)
        self.engine = engine
        # Streamlit runs a full garbage collection after every script run. Walking the engine's
        # long-lived objects (model and index: ~500,000 at 20,000 passages) took ~250 ms per
        # answer; frozen, they are skipped. Unfrozen first, so that a replaced engine is freed.
        gc.unfreeze()
        gc.collect()
        gc.freeze()


@st.cache_resource(show_spinner=False)
def engine_slot(settings: Settings) -> EngineSlot:
    """One slot per configuration and process, shared by all sessions (the engine is thread-safe)."""
    return EngineSlot()


def current_engine(slot: EngineSlot, settings: Settings) -> QuoteEngine:
    """The slot's engine, opened on first use: the index is built or brought up to date with a progress bar."""
    if slot.engine is None:
        if not slot.lock.acquire(blocking=False):  # another session is opening it: wait, rather than build twice
            with st.spinner("Another session is preparing the index; waiting for it…"):
                slot.lock.acquire()
        try:
            if slot.engine is None:
                slot.install(open_engine(settings))
        finally:
            slot.lock.release()
    return slot.engine


def open_engine(settings: Settings) -> QuoteEngine:
    """Open the engine, building the index first if it is missing or stale; stop with a message on failure."""
    bar = st.empty()
    built = []

    def progress(stage: str, done: int, total: int) -> None:
        built.append(stage)
        label = STAGES.get(stage, stage)
        bar.progress(done / total if total else 1.0, text=f"Building the index: {label} ({done:,} of {total:,})")

    try:
        with st.spinner("Loading the index and the language model…"):
            engine = QuoteEngine.open(settings, build=True, progress=progress)
            engine.embedder.encode(["warm-up"])  # load the model now, not during the first question
    except AssistantError as error:
        bar.empty()
        st.error(markdown_escape(str(error)))
        st.stop()
    bar.empty()
    if built:
        documents = engine.documents()
        passages = sum(info.passage_count for info in documents)
        st.toast(f"Index built: {len(documents)} documents, {passages} passages.")
    return engine


# --- One browser session ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One question and its answer (or the message that replaced it), as shown in the chat."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    context: tuple[tuple[Passage | None, Passage | None], ...] = ()
    scope: str | None = None


@dataclass(frozen=True)
class SearchOptions:
    """What the sidebar asks of a search."""

    filters: Filters
    top_k: int
    strict: bool

    def describe(self) -> str | None:
        """E.g. 'Filtered: 1 document; Zhao Lijian; from 2023-01-01', or None without filters."""
        parts = []
        if self.filters.doc_ids:
            parts.append(f"{len(self.filters.doc_ids)} document{'s' if len(self.filters.doc_ids) > 1 else ''}")
        if self.filters.people:
            parts.append(", ".join(self.filters.people))
        if self.filters.date_from:
            parts.append(f"from {self.filters.date_from}")
        if self.filters.date_to:
            parts.append(f"until {self.filters.date_to}")
        return "Filtered: " + "; ".join(parts) if parts else None


def init_session() -> None:
    """Session state, set up once per browser session."""
    st.session_state.setdefault("history", [])
    st.session_state.setdefault("uploader_generation", 0)
    st.session_state.setdefault("upload_messages", [])


def clear_history() -> None:
    """Forget the conversation (a button callback)."""
    st.session_state.history = []


def close_document() -> None:
    """Leave the document view for the chat, keeping this session's conversation (a button callback)."""
    st.query_params.clear()


# --- HTML rendering (every corpus string escaped) -----------------------------------------------------


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
    passage = marked(quote.text, quote.highlight_start - quote.start, quote.highlight_end - quote.start)
    link = escape(permalink(quote.doc_id, quote.start, quote.end))
    copy = escape(copy_text(quote))
    return (
        f'<div class="qa-quote">'
        f'<p class="qa-attribution">{badge}{label}{escape(quote.attribution)}</p>'
        f'<blockquote class="qa-passage" data-doc="{escape(quote.doc_id)}" data-start="{quote.start}" '
        f'data-end="{quote.end}">{passage}</blockquote>'
        f'<p class="qa-links"><a href="{link}" target="_blank">Open in the document at ¶{quote.paragraph} ↗</a>'
        f"{source_link_html(quote.url)}"
        f'<button type="button" class="qa-copy" data-copy="{copy}">Copy quote with citation</button></p>'
        "</div>"
    )


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


def source_link_html(url: str | None) -> str:
    """A quote's link to its source on the web ('Source: bidenwhitehouse.archives.gov ↗'); '' without one."""
    if not url:
        return ""
    if not url.startswith(("https://", "http://")):
        return f'<span class="qa-source">Source: {escape(url)}</span>'
    site = urlsplit(url).netloc or url
    return f'<a class="qa-source" href="{escape(url)}" target="_blank" rel="noopener">Source: {escape(site)} ↗</a>'


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
        details = f"{who} · {format_date(meta.date) or 'undated'} · {info.passage_count} passages"
        items.append(
            f'<li><a href="{escape(permalink(info.doc_id))}" target="_blank">{escape(meta.title)}</a><br>'
            f'<span class="qa-muted">{escape(details)}</span></li>'
        )
    return f'<ol class="qa-corpus">{"".join(items)}</ol>'


def copy_text(quote: Quote) -> str:
    """The quote with its citation, as copied to the clipboard."""
    return f"“{quote.text}”\n— {quote.citation}"


# --- The chat page ------------------------------------------------------------------------------------


def chat_page(slot: EngineSlot, settings: Settings) -> None:
    """The chat: sidebar options, the conversation, and adding documents."""
    with st.sidebar:
        corpus_section(slot.catalog)
        options = search_options(slot.catalog)
    st.title("Ask the documents")
    st.caption("Every answer is a verbatim passage from the corpus, with who said it, where and when.")
    conversation(slot, options)
    with st.sidebar:
        upload_section(slot, settings)


@st.fragment
def conversation(slot: EngineSlot, options: SearchOptions) -> None:
    """The replayed history, the question box, and the sidebar's conversation buttons.

    A fragment: asking a question reruns only this, not the corpus list and the filters,
    whose values Streamlit passes in again from the last full run.
    """
    history: list[Turn] = st.session_state.history
    for turn in history:
        show_turn(turn)
    with st.bottom:  # pinned below the chat, as at the top level (inside a fragment it would be inline)
        question = st.chat_input("Ask a question about the documents", key="question")
    if question:
        turn = ask(slot.engine, question, options, history)
        show_turn(turn)
        history.append(turn)
    with st.sidebar:
        conversation_section(history)
    if history:
        st.html(COPY_ON_CLICK, unsafe_allow_javascript=True)


def ask(engine: QuoteEngine, question: str, options: SearchOptions, history: list[Turn]) -> Turn:
    """Ask the engine, passing the previous question so that a short follow-up is read in its context."""
    previous = next((turn.question for turn in reversed(history) if turn.answer is not None), None)
    try:
        with st.spinner("Searching the corpus…"):
            answer = engine.ask(
                question, top_k=options.top_k, filters=options.filters, previous=previous, strict=options.strict
            )
            context = tuple(engine.neighbours(quote.doc_id, quote.start) for quote in answer.quotes)
    except AssistantError as error:
        return Turn(question, error=str(error))
    return Turn(question, answer, context=context, scope=options.describe())


def show_turn(turn: Turn) -> None:
    """One question and its answer, in chat bubbles."""
    with st.chat_message("user"):
        st.text(turn.question)
    with st.chat_message("assistant"):
        if turn.answer is None:
            st.error(markdown_escape(turn.error or "The question could not be searched."))
            return
        show_answer(turn.answer, turn.context, turn.scope)


def show_answer(answer: Answer, context: tuple[tuple[Passage | None, Passage | None], ...], scope: str | None) -> None:
    """The summary line, the matching quotes, then the closest or weaker passages collapsed and marked.

    `context` holds the (before, after) neighbours of each quote, in the order of `answer.quotes`.
    """
    neighbours = dict(zip(answer.quotes, context, strict=True))
    notes = []
    if answer.searched_for and answer.searched_for != answer.question:
        notes.append(f"Read as a follow-up; searched for: {answer.searched_for}")
    if scope:
        notes.append(scope)
    for note in notes:
        st.caption(markdown_escape(note))
    matches = [quote for quote in answer.quotes if quote.is_match]
    others = [quote for quote in answer.quotes if not quote.is_match]
    if answer.answered:
        st.markdown(f"**{markdown_escape(answer.summary)}**")
    else:
        st.markdown(markdown_escape(answer.message or NOT_FOUND))
    for number, quote in enumerate(matches, start=1):
        show_quote(quote, neighbours[quote], number)
    if others:
        title = "Closest passages" if not answer.answered else "Weaker passages"
        with st.expander(f"{title} ({len(others)}), not a match", expanded=False):
            for quote in others:
                show_quote(quote, neighbours[quote])


def show_quote(quote: Quote, neighbours: tuple[Passage | None, Passage | None], number: int | None = None) -> None:
    """A quote in a box: attribution, passage with highlight, link and copy button, then its context folded."""
    # One element per quote: as a bordered container holding an expander, each quote was four page
    # elements, and the browser redrawing all of them on every question was most of its work.
    st.html(quote_card_html(quote, neighbours, number))


def search_options(catalog: Catalog) -> SearchOptions:
    """The sidebar's filters, number of quotes and strict toggle."""
    st.header("Search")
    titles = catalog.titles
    doc_ids = st.multiselect(
        "Documents",
        list(titles),
        format_func=lambda doc_id: titles.get(doc_id, doc_id),
        key="filter_documents",
        placeholder="All documents",
    )
    people = st.multiselect("Author or speaker", catalog.people, key="filter_people", placeholder="Anyone")
    earliest, latest = catalog.date_bounds()
    left, right = st.columns(2)
    date_from = left.date_input("From", value=None, min_value=earliest, max_value=latest, key="filter_from")
    date_to = right.date_input("Until", value=None, min_value=earliest, max_value=latest, key="filter_to")
    top_k = st.slider("Number of quotes", min_value=1, max_value=20, value=5, key="top_k")
    strict = st.toggle("Strict: hide weak matches", key="strict", help="Leave out passages that are not a match.")
    filters = Filters(
        doc_ids=tuple(doc_ids),
        people=tuple(people),
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
    )
    return SearchOptions(filters, top_k, strict)


def document_dates(documents: list[DocumentInfo]) -> list[dt.date]:
    """The documents' dates that can be read (partial dates at their first day), for the date pickers."""
    dates = []
    for info in documents:
        iso = info.metadata.date or ""
        padded = {4: iso + "-01-01", 7: iso + "-01"}.get(len(iso), iso)
        try:
            dates.append(dt.date.fromisoformat(padded))
        except ValueError:
            continue
    return dates


def corpus_section(catalog: Catalog) -> None:
    """The sidebar's list of documents."""
    with st.expander(catalog.label, expanded=True):
        st.html(catalog.html)


def conversation_section(history: list[Turn]) -> None:
    """Clear the chat; download it as Markdown."""
    st.header("Conversation")
    answers = [turn.answer for turn in history if turn.answer is not None]
    left, right = st.columns(2)
    left.button("Clear the chat", key="clear_chat", on_click=clear_history, disabled=not history)
    right.download_button(
        "Download .md",
        data=conversation_markdown(answers, title="Questions and quoted answers"),
        file_name="conversation.md",
        mime="text/markdown",
        key="download_chat",
        on_click="ignore",
        disabled=not answers,
    )


def upload_section(slot: EngineSlot, settings: Settings) -> None:
    """Add documents: upload, validate and save into the corpus, then update the index with progress."""
    st.header("Add documents")
    limit = min(MAX_UPLOAD_BYTES, settings.max_file_bytes)
    files = st.file_uploader(
        "Upload .txt, .md, .pdf or .html files",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=f"uploads_{st.session_state.uploader_generation}",
        max_upload_size=max(1, limit // 1_000_000),
    )
    if st.button("Add to the corpus", key="add_documents", disabled=not files, type="primary"):
        st.session_state.upload_messages = add_documents(slot, settings, files, limit)
        st.session_state.uploader_generation += 1  # a fresh, empty uploader
        st.rerun()
    for kind, message in st.session_state.upload_messages:  # shown once, on the run after the upload
        getattr(st, kind)(message)
    st.session_state.upload_messages = []


def add_documents(slot: EngineSlot, settings: Settings, files: list, limit: int) -> list[tuple[str, str]]:
    """Save each good file, refuse each bad one, update the index once; return (kind, message) to show."""
    messages, saved = [], []
    for upload in files:
        try:
            saved.append(save_upload(settings.corpus_dir, upload.name, upload.getvalue(), max_bytes=limit))
        except AssistantError as error:
            messages.append(("error", markdown_escape(str(error))))
    if not saved:
        return messages
    bar = st.progress(0.0, text="Updating the index…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Updating the index: {STAGES.get(stage, stage)}")

    try:
        with slot.lock:  # one update at a time; other sessions pick up the new engine on their next run
            report, updated = slot.engine.update(progress)
            slot.install(updated)
    except AssistantError as error:
        for upload in saved:  # keep corpus and index in step: nothing is added
            upload.path.unlink(missing_ok=True)
        return [*messages, ("error", markdown_escape(f"The index could not be updated, nothing was added: {error}"))]
    names = ", ".join(upload.name for upload in saved)
    messages.append(("success", markdown_escape(f"Added {names}. The corpus now has {report.documents} documents.")))
    saved_paths = {upload.path for upload in saved}
    for skipped in report.skipped:
        if skipped.path in saved_paths:
            messages.append(("warning", markdown_escape(f"{skipped.path.name} was not indexed: {skipped.reason}")))
    return messages


# --- The document page --------------------------------------------------------------------------------


def document_page(slot: EngineSlot) -> None:
    """One document, whole, with the range from the URL highlighted and scrolled into view."""
    engine, catalog = slot.engine, slot.catalog
    with st.sidebar:
        corpus_section(catalog)
    st.button("← Back to the chat", key="back_to_chat", on_click=close_document)
    doc_id = st.query_params.get("doc", "")
    if doc_id not in catalog.titles:  # only ids the index knows; never a path
        shown = doc_id if len(doc_id) <= 80 else doc_id[:80] + "…"
        st.error(markdown_escape(f"There is no document “{shown}” in the corpus. Choose one from the sidebar."))
        return
    try:
        view = engine.document(doc_id)
    except AssistantError as error:
        st.error(markdown_escape(str(error)))
        return
    cited, problem = cited_range(st.query_params, len(view.text))
    if problem:
        st.warning(markdown_escape(problem))
    st.html(metadata_html(view))
    if cited:
        numbers = sorted({p.paragraph for p in view.passages if p.start < cited[1] and cited[0] < p.end})
        where = ", ".join(f"¶{number}" for number in numbers) or "between paragraphs"
        st.caption(f"Cited passage: {where}, characters {cited[0]:,}–{cited[1]:,}, highlighted below.")
    st.html(document_html(view, cited))
    if cited:
        st.html(SCROLL_TO_CITED, unsafe_allow_javascript=True)


def cited_range(params: Mapping[str, str], length: int) -> tuple[tuple[int, int] | None, str | None]:
    """The (start, end) range asked for by the URL, or None and a message saying what is wrong with it."""
    start, end = params.get("start"), params.get("end")
    if start is None and end is None:
        return None, None
    if start is None or end is None:
        return None, "The link gives only one end of the passage (it needs both start and end); nothing is highlighted."
    if not (OFFSET.fullmatch(start) and OFFSET.fullmatch(end)):
        return None, "The passage range in the link is not two whole numbers; nothing is highlighted."
    first, last = int(start), int(end)
    if not first < last <= length:
        return None, (
            f"The range {first:,}–{last:,} is outside this document, which has {length:,} characters; "
            "nothing is highlighted."
        )
    return (first, last), None


# --- Entry point --------------------------------------------------------------------------------------


def main() -> None:
    """Route to the document view when the URL names a document, else to the chat."""
    st.set_page_config(page_title="Quote-first assistant", page_icon="❝")
    st.html(CSS)
    try:
        settings = Settings()
    except ValueError as error:
        st.error(markdown_escape(f"The configuration is not valid: {error}"))
        st.stop()
    slot = engine_slot(settings)
    current_engine(slot, settings)
    init_session()
    if "doc" in st.query_params:
        document_page(slot)
    else:
        chat_page(slot, settings)


if __name__ == "__main__":
    main()
