"""Streamlit app: ask the corpus a question, or check a quotation; read verbatim cited quotes in their documents.

The pages only; every answer and verdict comes from `assistant.engine.QuoteEngine`, and
every piece of HTML from `ui.render`, which escapes all corpus and user text, so what a
document says is shown character for character and nothing in it is rendered as Markdown
or run as HTML.
"""

from __future__ import annotations

import datetime as dt
import gc
import itertools
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import streamlit as st

from assistant.answer import Answer, Quote, plural
from assistant.config import Settings
from assistant.corpus import upload_label
from assistant.embedding import model_label
from assistant.engine import QuoteEngine, settings_for
from assistant.errors import AssistantError, IndexCorruptError, IndexMissingError, QuestionError
from assistant.export import NOT_FOUND, conversation_markdown, markdown_escape
from assistant.index import DocumentInfo
from assistant.ingest import embed_ahead
from assistant.passages import Passage
from assistant.paste import MAX_PASTE_CHARS, PasteCheck
from assistant.search import MAX_QUESTION_CHARS, Filters, parse_question
from assistant.uploads import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_TOTAL_BYTES,
    MAX_UPLOADS,
    MB,
    list_uploads,
    remove_upload,
    save_upload,
)
from ui import render

UPLOAD_TYPES = ["txt", "md", "pdf", "html", "htm"]
LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
#: What a user sees of an unexpected failure; the details go to the server log, never to the page.
FAILED = "Something went wrong on the server. The details are in its log."
#: What a user sees of a damaged index; which files are damaged, and where, goes to the server log.
DAMAGED = (
    "The index is damaged and cannot be used until it is rebuilt. "
    "The details, with the damaged files, are in the server log."
)
#: The chat box takes this much: a longer paste the browser drops whole, so the box's limit is far above
#: MAX_QUESTION_CHARS and the app cuts the question there, saying so.
BOX_CHARS = 100_000
#: A long question is echoed in the chat up to this many characters.
ECHO_CHARS = 500
LOG = logging.getLogger("quotefirst.app")
STAGES = {"read": "reading documents", "embed": "embedding passages"}
OFFSET = re.compile(r"\d{1,12}", re.ASCII)
ASK_MODE, CHECK_MODE = "Ask the documents", "Check a quote"
# The page's style and fixed scripts, from ui/static/ (run with st.html(..., unsafe_allow_javascript=True)).
CSS = render.style()
COPY_ON_CLICK = render.script("copy.js")
SCROLL_TO_CITED = render.script("scroll.js")
#: At most this often (seconds), a run checks that the served index is the newest and its corpus unchanged.
REFRESH_EVERY = 2.0
#: A corpus of more documents than this gets a search box over its list in the sidebar.
FIND_FROM = 12


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
    documents: tuple[DocumentInfo, ...] = ()

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
            label=f"Corpus: {plural(len(documents), 'document')}, {plural(passages, 'passage')}",
            html=render.corpus_html(documents),
            documents=tuple(documents),
        )

    def date_bounds(self) -> tuple[dt.date, dt.date]:
        """The earliest and latest dates for the date pickers (up to today)."""
        today = dt.date.today()
        return self.earliest or dt.date(1900, 1, 1), max(self.latest or today, today)


@dataclass
class EngineSlot:
    """The process's engine for one configuration; replaced in place when the index or its corpus changes.

    `damage` holds the message of a damaged index until it is rebuilt; `checked` is when
    (time.monotonic) the engine was last found current; `updating` is the note shown while the
    process's one background update runs (None when none runs), and `problem` why the last one failed.
    """

    engine: QuoteEngine | None = None
    catalog: Catalog | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    damage: str | None = None
    checked: float = 0.0
    updating: str | None = None
    problem: str | None = None

    def install(self, engine: QuoteEngine) -> None:
        """Serve this engine from now on, with its catalog."""
        self.catalog = Catalog.of(engine)
        self.engine = engine
        self.damage = None
        self.checked = time.monotonic()
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
    """The slot's engine: opened on first use (only a first-ever build shows a progress bar), then swapped
    in the background for a newer one when another process rewrote the index or the corpus changed.

    A damaged index stops the page with a message and a button that rebuilds it.
    """
    if slot.engine is None and slot.damage is None:
        if not slot.lock.acquire(blocking=False):  # another session is opening it: wait, rather than build twice
            with st.spinner("Another session is preparing the index; waiting for it…"):
                slot.lock.acquire()
        try:
            if slot.engine is None and slot.damage is None:
                try:
                    slot.install(open_engine(settings))
                except IndexCorruptError as error:
                    damaged(slot, error)
        finally:
            slot.lock.release()
    elif slot.engine is not None:
        keep_current(slot)
    if slot.damage is not None:
        damaged_index(slot, settings)
    return slot.engine


def keep_current(slot: EngineSlot) -> None:
    """Start the background update when the served engine is no longer current (checked at most every
    REFRESH_EVERY seconds per process); the page goes on answering from the served engine meanwhile.

    Damage found by a query is looked at here and now: it needs no ingest, and a damaged index cannot answer.
    """
    engine = slot.engine
    found_damage = engine.store.damage is not None
    due = found_damage or time.monotonic() - slot.checked >= REFRESH_EVERY
    if not due or not slot.lock.acquire(blocking=False):  # locked: another session is checking or updating
        return
    try:
        if slot.updating is not None or slot.engine is not engine:
            return
        slot.checked = time.monotonic()
        if found_damage:
            try:
                fresh = engine.refresh()
            except IndexCorruptError as error:
                damaged(slot, error)
            except AssistantError as error:
                slot.problem = f"The index could not be brought up to date: {error}"
            else:
                slot.install(fresh)
        elif not engine.is_current():
            slot.updating = update_note(engine.pending_changes())
            updater = threading.Thread(target=update_in_background, args=(slot, engine), name="index-updater")
            updater.daemon = True
            updater.start()
    finally:
        slot.lock.release()


def update_note(changes: tuple[int, int] | None, embedded: tuple[int, int] | None = None) -> str:
    """What the page says while the index is updated, e.g. 'Updating the index: 15 new or changed
    documents (embedding 120 of 900 passages); answers use the current index until it is done.'"""
    if changes is None:
        what = "checking the corpus for new or changed documents"
    elif changes[0]:
        what = plural(changes[0], "new or changed document")
    elif changes[1]:
        what = f"{plural(changes[1], 'document')} removed"
    else:
        what = "loading a newer index"
    if embedded is not None:
        what += f" (embedding {embedded[0]:,} of {embedded[1]:,} passages)"
    return f"Updating the index: {what}; answers use the current index until it is done."


def update_in_background(slot: EngineSlot, engine: QuoteEngine) -> None:
    """The updater thread: embed what is new without the ingest lock, then update (the lock held only to
    write) and swap the new engine in; at most one runs per slot (keep_current starts it)."""
    changes = engine.pending_changes()

    def progress(stage: str, done: int, total: int) -> None:
        slot.updating = update_note(changes, (done, total) if stage == "embed" else None)

    try:
        embed_ahead(engine.settings, engine.embedder, progress)
        fresh = engine.refresh()
    except IndexCorruptError as error:
        damaged(slot, error)
    except AssistantError as error:  # e.g. the corpus folder is gone: keep serving the index as it is
        LOG.warning("The index could not be brought up to date: %s", error)
        slot.problem = f"The index could not be brought up to date: {error}"
    except Exception:
        LOG.exception("Updating the index in the background failed")
        slot.problem = f"The index could not be brought up to date. {FAILED}"
    else:
        slot.problem = None
        if fresh is not engine:
            with slot.lock:
                slot.install(fresh)
    finally:
        slot.checked = time.monotonic()
        slot.updating = None


def damaged(slot: EngineSlot, error: IndexCorruptError) -> None:
    """Record that the index is damaged; its details (file paths) go to the server log, not to the page."""
    LOG.error("The index is damaged: %s", error)
    slot.damage = DAMAGED


def damaged_index(slot: EngineSlot, settings: Settings) -> None:
    """Show that the index cannot be used, with a button that rebuilds it from its corpus; stop the page."""
    st.error(slot.damage or DAMAGED)
    if st.button("Rebuild the index", key="rebuild_index", type="primary"):
        with slot.lock:
            if slot.damage is not None:  # not already rebuilt by another session
                rebuild_index(slot, slot.engine.settings if slot.engine else settings)
        st.rerun()
    st.stop()


def rebuild_index(slot: EngineSlot, settings: Settings) -> None:
    """Rebuild a damaged index from its corpus with a progress bar, and serve it (call with slot.lock held)."""
    bar = st.empty()
    old = slot.engine
    try:
        with st.spinner("Rebuilding the index…"):
            engine = QuoteEngine.open(
                settings,
                embedder=old.embedder if old else None,
                reranker=old.reranker if old else None,
                build=True,
                progress=progress_bar(bar, "Rebuilding the index"),
            )
    except AssistantError as error:
        slot.damage = f"The index could not be rebuilt: {error}"
    else:
        slot.install(engine)
    finally:
        bar.empty()


def progress_bar(bar, action: str):
    """A progress callback that draws into `bar` (an st.empty), e.g. 'Updating the index: embedding passages'."""

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(
            done / total if total else 1.0, text=f"{action}: {STAGES.get(stage, stage)} ({done:,} of {total:,})"
        )

    return progress


def open_engine(settings: Settings) -> QuoteEngine:
    """Open the engine, building the index first if it is missing or stale; stop with a message on failure.

    Raises IndexCorruptError for a damaged index: it is rebuilt only when someone asks (damaged_index).
    """
    bar = st.empty()
    built = []
    draw = progress_bar(bar, "Building the index")

    def progress(stage: str, done: int, total: int) -> None:
        built.append(stage)
        draw(stage, done, total)

    try:
        with st.spinner("Loading the index and the language model…"):
            engine = open_or_build(settings, progress)
            engine.embedder.encode(["warm-up"])  # load the model now, not during the first question
            if engine.reranker is not None:
                engine.reranker.score("warm-up", ["warm-up"])  # ONNX Runtime's first run is slow
    except IndexCorruptError:
        bar.empty()
        raise
    except AssistantError as error:
        bar.empty()
        st.error(markdown_escape(str(error)))
        st.stop()
    except Exception:
        LOG.exception("Opening the engine failed")
        bar.empty()
        st.error(FAILED)
        st.stop()
    bar.empty()
    if built:
        documents = engine.documents()
        passages = sum(info.passage_count for info in documents)
        st.toast(f"Index built: {plural(len(documents), 'document')}, {plural(passages, 'passage')}.")
    return engine


def open_or_build(settings: Settings, progress) -> QuoteEngine:
    """An engine on the index as it is, to be brought up to date in the background (keep_current); only
    when there is no index at all, or one made with another model, is it built first, here, with `progress`.

    Raises IndexCorruptError for a damaged index, AssistantError when it cannot be opened or built.
    """
    try:
        engine = QuoteEngine.open(settings, build=False, repair=False)
    except IndexMissingError:
        return QuoteEngine.open(settings, build=True, progress=progress, repair=False)
    if engine.store.model != model_label(engine.embedder.name):  # it cannot answer: rebuild first
        return QuoteEngine.open(settings, engine.embedder, True, progress, engine.reranker, repair=False)
    engine.forget_corpus()  # the index may be stale (a killed ingest, files added while the app was down)
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
    cut_from: int | None = None  # the length of a longer paste, cut to MAX_QUESTION_CHARS


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
            parts.append(plural(len(self.filters.doc_ids), "document"))
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
    st.session_state.setdefault("checks", [])


def clear_history() -> None:
    """Forget the conversation (a button callback)."""
    st.session_state.history = []


def clear_checks() -> None:
    """Forget the checked quotations (a button callback)."""
    st.session_state.checks = []


def close_document() -> None:
    """Leave the document view for the chat, keeping this session's conversation (a button callback)."""
    st.query_params.clear()


# --- The chat page ------------------------------------------------------------------------------------


def chat_page(slot: EngineSlot, settings: Settings) -> None:
    """The chat: sidebar options, the conversation, and adding documents."""
    with st.sidebar:  # the filters first: the corpus list, folded below them, may be hundreds of documents long
        options = search_options(slot.catalog)
        corpus_section(slot.catalog)
    st.title("Ask the documents")
    st.caption("Every answer is a verbatim passage from the corpus, with who said it, where and when.")
    index_notes(slot)
    upload_messages()
    conversation(slot, options)
    with st.sidebar:
        upload_section(slot, settings)


def index_notes(slot: EngineSlot) -> None:
    """A small note while the index is updated in the background, and why the last update failed."""
    if slot.updating:
        st.caption(slot.updating)
    if slot.problem:
        st.warning(markdown_escape(slot.problem))


@st.fragment
def conversation(slot: EngineSlot, options: SearchOptions) -> None:
    """The replayed history, the question box, and the sidebar's conversation buttons.

    A fragment: asking a question reruns only this, not the corpus list and the filters,
    whose values Streamlit passes in again from the last full run.
    """
    history: list[Turn] = st.session_state.history
    widen = st.session_state.pop("search_everything", None)
    if widen is not None and widen < len(history):  # "Search the whole collection" under an earlier answer
        history[widen] = ask(slot.engine, history[widen].question, options, history[:widen], steer=False)
    for number, turn in enumerate(history):
        show_turn(turn, number)
    with st.bottom:  # pinned below the chat, as at the top level (inside a fragment it would be inline)
        question = st.chat_input("Ask a question about the documents", key="question", max_chars=BOX_CHARS)
    pasted = len(question) if question and len(question) > MAX_QUESTION_CHARS else None
    if pasted:  # cut here, and said, rather than dropped by the box without a word
        question = question[:MAX_QUESTION_CHARS]
    problem = unsearchable(question) if question is not None else None
    if problem:  # said above the box, and nothing is added to the chat
        st.warning(markdown_escape(problem))
    elif question:
        if slot.engine is not None:  # a fragment rerun skips main(): look for a newer index here too
            keep_current(slot)
        turn = ask(slot.engine, question, options, history)
        if pasted:
            turn = replace(turn, cut_from=pasted)
        show_turn(turn, len(history))
        history.append(turn)
    with st.sidebar:
        conversation_section(history)
    if history:
        st.html(COPY_ON_CLICK, unsafe_allow_javascript=True)


def ask(engine: QuoteEngine, question: str, options: SearchOptions, history: list[Turn], steer: bool = True) -> Turn:
    """Ask the engine, passing the previous question so that a short follow-up is read in its context.

    With steer, people and dates the question names restrict the search (the answer says which).
    """
    previous = next((turn.question for turn in reversed(history) if turn.answer is not None), None)
    try:
        with st.spinner("Searching the corpus…"):
            answer = engine.ask(
                question,
                top_k=options.top_k,
                filters=options.filters,
                previous=previous,
                strict=options.strict,
                steer=steer,
            )
            context = tuple(engine.neighbours(quote.doc_id, quote.start) for quote in answer.quotes)
    except IndexCorruptError as error:
        LOG.error("The index is damaged: %s", error)
        return Turn(question, error=DAMAGED)
    except AssistantError as error:
        return Turn(question, error=str(error))
    except Exception:
        LOG.exception("Answering a question failed")
        return Turn(question, error=FAILED)
    return Turn(question, answer, context=context, scope=options.describe())


def show_turn(turn: Turn, number: int) -> None:
    """One question and its answer, in chat bubbles; `number` is its place in the conversation."""
    with st.chat_message("user"):
        st.text(echo(turn.question))
        if turn.cut_from:
            st.caption(
                f"You pasted {turn.cut_from:,} characters; only the first {MAX_QUESTION_CHARS:,} were searched, "
                "the most a question may have."
            )
    with st.chat_message("assistant"):
        if turn.answer is None:
            st.error(markdown_escape(turn.error or "The question could not be searched."))
            return
        if turn.answer.restricted_to:
            st.caption(markdown_escape(f"Searched only: {turn.answer.restricted_to} (named in the question)"))
            st.button(
                "Search the whole collection instead",
                key=f"search-everything-{number}",
                on_click=search_everything,
                args=(number,),
            )
        if turn.answer.restriction_note:
            st.info(markdown_escape(turn.answer.restriction_note))
        show_answer(turn.answer, turn.context, turn.scope)


def unsearchable(question: str) -> str | None:
    """Why the question cannot be searched at all (it is empty, or blank), or None."""
    try:
        parse_question(question)
    except QuestionError as error:
        return str(error)
    return None


def echo(question: str) -> str:
    """The question as the chat shows it: whole, or its start and its length when it is very long."""
    if len(question) <= ECHO_CHARS:
        return question
    length = f"{len(question):,} characters in all"
    if len(question) >= MAX_QUESTION_CHARS:  # the box takes no more: longer text was cut there
        length += ", the most a question may have"
    return f"{question[:ECHO_CHARS]}… ({length})"


def search_everything(number: int) -> None:
    """Ask the question of turn `number` again without the restriction read from it (a button callback)."""
    st.session_state.search_everything = number


def show_answer(answer: Answer, context: tuple[tuple[Passage | None, Passage | None], ...], scope: str | None) -> None:
    """The summary line, the quotes down to the last match, then the closest or weaker passages collapsed.

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
    # In the engine's order, the best first, down to the last match: a passage ranked above a match stays
    # above it, marked as not a match; the passages after the last match fold away below.
    last = max((i for i, quote in enumerate(answer.quotes) if quote.is_match), default=-1) if answer.answered else -1
    shown, others = answer.quotes[: last + 1], answer.quotes[last + 1 :]
    if answer.answered:
        st.markdown(f"**{markdown_escape(answer.summary)}**")
        top = next((quote for quote in shown if quote.is_match), None)
        if top is not None:  # a line to read in ten seconds: the best sentence and who said it, then the quotes
            st.html(render.lead_html(top))
    else:
        st.markdown(markdown_escape(answer.message or NOT_FOUND))
    numbers = itertools.count(1)
    for quote in shown:
        show_quote(quote, neighbours[quote], next(numbers) if quote.is_match else None)
    if others:
        title = "Closest passages" if not answer.answered else "Weaker passages"
        with st.expander(f"{title} ({len(others)}), not a match", expanded=False):
            for quote in others:
                show_quote(quote, neighbours[quote])


def show_quote(quote: Quote, neighbours: tuple[Passage | None, Passage | None], number: int | None = None) -> None:
    """A quote in a box: attribution, passage with highlight, link and copy button, then its context folded."""
    # One element per quote: as a bordered container holding an expander, each quote was four page
    # elements, and the browser redrawing all of them on every question was most of its work.
    st.html(render.quote_card_html(quote, neighbours, number))


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
    # One above the other: side by side, the sidebar cut the dates off.
    date_from = st.date_input("From", value=None, min_value=earliest, max_value=latest, key="filter_from")
    date_to = st.date_input("Until", value=None, min_value=earliest, max_value=latest, key="filter_to")
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
    """The sidebar's list of documents: folded, with a search box over a list in a bounded, scrolling box,
    so that with hundreds of documents the rest of the sidebar stays in reach."""
    with st.expander(catalog.label, expanded=False):
        if len(catalog.documents) <= FIND_FROM:
            st.html(catalog.html)
            return
        wanted = st.text_input("Find a document", key="corpus_find", placeholder="title, speaker, author or date")
        if not wanted.strip():
            st.html(catalog.html)
            return
        found = [info for info in catalog.documents if render.corpus_matches(info, wanted)]
        st.caption(f"{plural(len(found), 'document')} of {len(catalog.documents):,}")
        if found:
            st.html(render.corpus_html(found))


def conversation_section(history: list[Turn]) -> None:
    """Clear the chat; download it (and any checked quotations) as Markdown."""
    st.header("Conversation")
    left, right = st.columns(2)
    left.button("Clear the chat", key="clear_chat", on_click=clear_history, disabled=not history)
    download_button(right, history, st.session_state.checks, key="download_chat")


def download_button(place, history: list[Turn], checks: list[PasteCheck], key: str) -> None:
    """The Markdown export: the questions with their quoted answers, then the checked quotations."""
    answers = [turn.answer for turn in history if turn.answer is not None]
    place.download_button(
        "Download .md",
        data=conversation_markdown(answers, title="Questions and quoted answers", checks=checks),
        file_name="conversation.md",
        mime="text/markdown",
        key=key,
        on_click="ignore",
        disabled=not (answers or checks),
    )


def uploads_allowed(settings: Settings) -> bool:
    """Uploads are on when asked for, or by default ("auto") while the app serves only this machine. Never with a
    shared PostgreSQL store: its one writer is `python -m assistant ingest --store`, and a replica's own folder
    is not the collection."""
    if settings.store is not None:
        return False
    if settings.uploads != "auto":
        return settings.uploads == "on"
    return st.get_option("server.address") in LOCAL_ADDRESSES


def upload_messages() -> None:
    """What the last upload or removal did, at the top of the page (shown once, on the run after it)."""
    for kind, message in st.session_state.upload_messages:
        getattr(st, kind)(message)
    st.session_state.upload_messages = []


def upload_section(slot: EngineSlot, settings: Settings) -> None:
    """Add documents (upload, validate, save into the corpus, update the index), and remove uploaded ones."""
    st.header("Add documents")
    if not uploads_allowed(settings):
        st.caption("Adding documents is turned off on this server.")
        return
    try:
        uploads = list_uploads(settings.corpus_dir)
    except AssistantError as error:
        st.error(markdown_escape(str(error)))
        return
    files = st.file_uploader(
        f"Upload .txt, .md, .pdf or .html files (each up to {MAX_UPLOAD_BYTES // MB} MB)",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=f"uploads_{st.session_state.uploader_generation}",
        # Far above the app's limit of each file: save_upload refuses a larger file with a message, where
        # Streamlit's own refusal is only a red icon.
        max_upload_size=MAX_UPLOAD_TOTAL_BYTES // MB,
    )
    if st.button("Add to the corpus", key="add_documents", disabled=not files, type="primary"):
        st.session_state.upload_messages = add_documents(slot, settings, files)
        st.session_state.uploader_generation += 1  # a fresh, empty uploader
        st.rerun()
    used = sum(upload.size for upload in uploads)
    st.caption(
        f"Uploads: {len(uploads)} of {MAX_UPLOADS} files, {used / MB:.1f} of {MAX_UPLOAD_TOTAL_BYTES // MB} MB. "
        "Uploaded documents are marked as uploads wherever they are cited."
    )
    for upload in uploads:
        st.caption(markdown_escape(f"{upload.name} ({upload_label(upload.uploaded)})"))
        if st.button("Remove", key=f"remove_upload_{upload.name}", help=f"Remove {upload.name} from the corpus"):
            st.session_state.upload_messages = remove_document(slot, settings, upload.name)
            st.rerun()


def add_documents(slot: EngineSlot, settings: Settings, files: list) -> list[tuple[str, str]]:
    """Save each good file, refuse each bad one, update the index once; return (kind, message) to show."""
    messages, saved = [], []
    for upload in files:
        try:
            saved.append(save_upload(settings.corpus_dir, upload.name, upload.getvalue()))
        except AssistantError as error:
            messages.append(("error", markdown_escape(str(error))))
    if not saved:
        return messages
    try:
        report = update_index(slot, "Adding to the index…")
    except AssistantError as error:
        for upload in saved:  # keep corpus and index in step: nothing is added
            remove_upload(settings.corpus_dir, upload.name)
        return [*messages, ("error", markdown_escape(f"The index could not be updated, nothing was added: {error}"))]
    names = ", ".join(upload.name for upload in saved)
    now = f"The corpus now has {plural(report.documents, 'document')}."
    messages.append(("success", markdown_escape(f"Added {names}, marked as uploaded. {now}")))
    saved_paths = {upload.path for upload in saved}
    for skipped in report.skipped:
        if skipped.path in saved_paths:
            messages.append(("warning", markdown_escape(f"{skipped.path.name} was not indexed: {skipped.reason}")))
    return messages


def remove_document(slot: EngineSlot, settings: Settings, name: str) -> list[tuple[str, str]]:
    """Remove an uploaded file from the corpus and the index; return (kind, message) to show."""
    try:
        remove_upload(settings.corpus_dir, name)
        report = update_index(slot, "Removing from the index…")
    except AssistantError as error:
        return [("error", markdown_escape(str(error)))]
    now = f"The corpus now has {plural(report.documents, 'document')}."
    return [("success", markdown_escape(f"Removed {name}. {now}"))]


def update_index(slot: EngineSlot, text: str):
    """Bring the index up to date with the corpus folder, with a progress bar; return the ingest report.

    Raises AssistantError (unexpected failures are logged and raised as one, with FAILED as the message).
    """
    bar = st.progress(0.0, text=text)

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Updating the index: {STAGES.get(stage, stage)}")

    try:
        # Embedded before the ingest takes its lock, so that the lock is held only to write.
        embed_ahead(slot.engine.settings, slot.engine.embedder, progress)
        with slot.lock:  # one update at a time; other sessions pick up the new engine on their next run
            report, updated = slot.engine.update(progress)
            slot.install(updated)
    except AssistantError:
        raise
    except Exception as error:
        LOG.exception("Updating the index failed")
        raise AssistantError(FAILED) from error
    finally:
        bar.empty()
    return report


# --- The check page -----------------------------------------------------------------------------------


def check_page(slot: EngineSlot) -> None:
    """Check a quotation: paste it, optionally say who said it and when, and see the verdict with its sources."""
    with st.sidebar:
        corpus_section(slot.catalog)
    st.title("Check a quote")
    st.caption(
        "Paste what someone is reported to have said: see whether the corpus has it verbatim, altered, "
        "or not at all, and who said it, when. Mark left-out words with … or [...]. A longer text (up to "
        f"{MAX_PASTE_CHARS:,} characters) is checked sentence by sentence; HTML and Markdown markup is removed."
    )
    quotation = st.text_area("Quotation", key="check_text", placeholder="“…”")
    left, right = st.columns(2)
    speaker = left.text_input("Said by (optional)", key="check_speaker", placeholder="a speaker or an institution")
    date = right.date_input(
        "On (optional)", value=None, min_value=dt.date(1900, 1, 1), max_value=dt.date.today(), key="check_date"
    )
    if st.button("Check", key="check_button", type="primary"):
        try:
            with st.spinner("Checking the corpus…"):
                result = slot.engine.check_paste(quotation, speaker=speaker, date=date.isoformat() if date else None)
        except AssistantError as error:
            st.error(markdown_escape(str(error)))
        except Exception:
            LOG.exception("Checking a quotation failed")
            st.error(FAILED)
        else:
            st.session_state.checks.append(result)
    for result in reversed(st.session_state.checks):  # the latest first, under the form
        st.html(render.paste_html(result))
    with st.sidebar:
        st.header("Checked quotations")
        left, right = st.columns(2)
        left.button("Clear the checks", key="clear_checks", on_click=clear_checks, disabled=not st.session_state.checks)
        download_button(right, st.session_state.history, st.session_state.checks, key="download_checks")


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
    upload = uploaded_as(engine, view.info.path)
    if upload is not None:
        st.info(
            markdown_escape(
                f"Uploaded through the app ({upload_label(upload.uploaded)}, as “{upload.original_name}”). "
                "Its title, author and date are as the uploader gave them; they are not verified."
            )
        )
    st.html(render.metadata_html(view))
    if cited:
        numbers = sorted({p.paragraph for p in view.passages if p.start < cited[1] and cited[0] < p.end})
        where = ", ".join(f"¶{number}" for number in numbers) or "between paragraphs"
        st.caption(f"Cited passage: {where}, characters {cited[0]:,}–{cited[1]:,}, highlighted below.")
    st.html(render.document_html(view, cited))
    if cited:
        st.html(SCROLL_TO_CITED, unsafe_allow_javascript=True)


def uploaded_as(engine: QuoteEngine, path: str):
    """The upload record of the document at `path`, or None when it was not uploaded."""
    try:
        uploads = list_uploads(engine.settings.corpus_dir)
    except AssistantError:
        return None
    return next((upload for upload in uploads if str(upload.path) == str(path)), None)


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
    """Route to the document view when the URL names a document, else to the chat or the quote check."""
    st.set_page_config(page_title="Quote-first assistant", page_icon="❝")
    st.html(CSS)
    try:
        settings = settings_for()  # the index's own corpus, unless $ASSISTANT_CORPUS chooses one
    except ValueError as error:
        st.error(markdown_escape(f"The configuration is not valid: {error}"))
        st.stop()
    slot = engine_slot(settings)
    engine = current_engine(slot, settings)
    init_session()
    if "doc" in st.query_params:
        document_page(slot)
        return
    mode = st.sidebar.radio("Mode", (ASK_MODE, CHECK_MODE), key="mode", horizontal=True, label_visibility="collapsed")
    if mode == CHECK_MODE:
        check_page(slot)
    else:
        chat_page(slot, engine.settings)  # uploads go into the corpus the index is built from


if __name__ == "__main__":
    main()
