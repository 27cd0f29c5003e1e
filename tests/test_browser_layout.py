"""Issue 22 in a real browser: a reload during an index update, a long paste, the lead line, reflowed
passages and the contrast of muted text (headless Chromium, the real model, `streamlit run app.py`)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apphelpers import APP, REPO, copy_corpus, free_port, source_text
from tests.test_browser import (
    BEST_SENTENCE,
    CHROMIUM,
    CHROMIUM_ARGS,
    QUESTION,
    SCREENSHOT,
    STARTUP_SECONDS,
    _wait_until_healthy,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install)"),
]

#: The WCAG AA contrast of each visible element matching a selector: its text colour, with the opacity of
#: it and its ancestors, over the first opaque background behind it (white when none is set).
CONTRASTS = """selector => [...document.querySelectorAll(selector)].filter(e => e.getClientRects().length).map(e => {
    const rgba = text => (text.match(/[\\d.]+/g) || []).map(Number);
    const luminance = ([r, g, b]) => {
        const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    let [r, g, b, a = 1] = rgba(getComputedStyle(e).color);
    let background = [255, 255, 255];
    for (let box = e; box; box = box.parentElement) {
        a *= Number(getComputedStyle(box).opacity);
    }
    for (let box = e; box; box = box.parentElement) {
        const [br, bg, bb, ba = 1] = rgba(getComputedStyle(box).backgroundColor);
        if (ba >= 0.99) { background = [br, bg, bb]; break; }
    }
    const shown = [r, g, b].map((c, i) => a * c + (1 - a) * background[i]);
    const [light, dark] = [luminance(shown), luminance(background)].sort((x, y) => y - x);
    return {text: e.textContent.slice(0, 40), ratio: (light + 0.05) / (dark + 0.05)};
})"""
#: Enough new text that embedding it with the real model takes a while: the window for a reload.
NEW_FILES = 15
PARAGRAPHS = 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`streamlit run app.py` on a free port, a tmp copy of the seeds and a tmp (missing) index."""
    root = tmp_path_factory.mktemp("layout")
    corpus = copy_corpus(root / "corpus")
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(corpus),
        "ASSISTANT_INDEX": str(root / "index"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)]
    log_path = root / "streamlit.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(port, server, log_path)
            yield {"url": f"http://localhost:{port}/", "corpus": corpus, "index": root / "index"}
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def page(served: dict, tmp_path: Path):
    """A fresh Chromium page, 1280 wide, allowed to use the clipboard."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served["url"].rstrip("/"))
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def chat_box(page, url: str):
    from playwright.sync_api import expect

    page.goto(url)
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_visible(timeout=STARTUP_SECONDS * 1000)
    return box


def test_an_answer_leads_with_its_best_sentence_reflowed_exact_and_readable(served: dict, page) -> None:
    from playwright.sync_api import expect

    box = chat_box(page, served["url"])
    box.fill(QUESTION)
    box.press("Enter")
    lead = page.locator(".qa-lead")
    expect(lead.locator(".qa-lead-sentence")).to_have_text(BEST_SENTENCE, timeout=60_000)
    expect(lead.locator(".qa-lead-cite")).to_contain_text("note verbale CMS (2023), 14 September 2023, ¶6")
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)

    for passage in page.locator("blockquote.qa-passage").all():  # reflowed on screen, exact in the page
        assert passage.evaluate("e => getComputedStyle(e).whiteSpace") == "normal"
        doc, start, end = (passage.get_attribute(name) for name in ("data-doc", "data-start", "data-end"))
        assert passage.text_content() == source_text(served["corpus"], doc)[int(start) : int(end)]

    page.locator("details.qa-in-context summary").first.click()  # its paragraph numbers, on screen
    selectors = [".qa-pnum", ".qa-muted", ".qa-relevance", ".qa-lead-cite", '[data-testid="stCaptionContainer"]']
    for selector in selectors:
        measured = page.evaluate(CONTRASTS, selector)
        assert measured, f"nothing on the page matches {selector}"
        low = [item for item in measured if item["ratio"] < 4.5]
        assert not low, f"{selector} below WCAG AA 4.5:1: {low}"

    page.get_by_text(QUESTION).first.scroll_into_view_if_needed()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_a_long_paste_is_cut_with_a_message_not_dropped(served: dict, page) -> None:
    from playwright.sync_api import expect

    box = chat_box(page, served["url"])
    pasted = ("What do the documents say about terrorism and human rights in Xinjiang? " * 70)[:5_000]
    page.evaluate("text => navigator.clipboard.writeText(text)", pasted)
    box.click()
    page.keyboard.press("Control+V")
    assert len(box.input_value()) == 5_000, "the box took the whole paste"
    box.press("Enter")
    cut = "You pasted 5,000 characters; only the first 2,000 were searched, the most a question may have."
    expect(page.get_by_text(cut)).to_be_visible(timeout=60_000)
    expect(page.locator("blockquote.qa-passage").first).to_be_visible(timeout=60_000)  # and it is answered


def test_a_reload_during_an_update_gets_a_chat_box_and_an_answer(served: dict, page) -> None:
    from playwright.sync_api import expect

    chat_box(page, served["url"])  # the index is built and served
    for number in range(NEW_FILES):
        paragraphs = [
            f"Paragraph {line} of report {number}: the fisheries office counted {number * 100 + line} boats in the "
            f"northern harbour this season, and the harbour master said the quotas would be reviewed in spring."
            for line in range(PARAGRAPHS)
        ]
        if number == 7:
            paragraphs.insert(3, "The lighthouse keeper of the northern harbour is called Amaranth Quillfeather.")
        (served["corpus"] / f"harbour-{number:02}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")

    time.sleep(2.5)  # app.REFRESH_EVERY: a process checks its corpus at most every 2 s (the first load just did)
    started = time.monotonic()
    page.reload()  # the first run after the change starts the update, in the background
    box = page.get_by_test_id("stChatInputTextArea")
    expect(box).to_be_visible(timeout=30_000)
    note = page.get_by_text("answers use the current index until it is done")
    page.reload()  # and a reload while it runs
    expect(box).to_be_visible(timeout=30_000)
    waited = time.monotonic() - started
    expect(note).to_be_visible(timeout=10_000)
    assert not ingest_lock_held(served["index"]), "the app holds the ingest lock while it embeds"
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.locator(".qa-lead-sentence")).to_have_text(BEST_SENTENCE, timeout=60_000)
    assert waited < 30, f"the chat box took {waited:.0f} s"

    deadline = time.monotonic() + 300  # then the new documents are answered from, once the update is done
    while time.monotonic() < deadline:
        page.reload()
        expect(box).to_be_visible(timeout=30_000)
        if not note.count():
            break
        time.sleep(3)
    box.fill("What is the lighthouse keeper of the northern harbour called?")
    box.press("Enter")
    expect(page.locator(".qa-lead-sentence")).to_contain_text("Amaranth Quillfeather", timeout=60_000)


def ingest_lock_held(index: Path) -> bool:
    """Whether some process holds the index's ingest lock right now."""
    with open(index / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
