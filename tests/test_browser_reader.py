"""Issue 22, point 7 in a real browser: a long paste in "Check a quote" is checked sentence by sentence and
shown literally (a pasted <script> does not run), and a chat paste over 2,000 characters is cut with a message
(headless Chromium, the real model on a tmp copy of the seed corpus, `streamlit run app.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.apphelpers import APP, NOTE, REPO, copy_corpus, free_port, source_text
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, STARTUP_SECONDS, _wait_until_healthy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install)"),
]

MADE_UP = "The Ministry of Agriculture announced new subsidies for cotton farmers in Kashgar last spring."
#: Were this run as HTML, it would set a flag on the page.
SCRIPT = '<script>window.qaPasted = true</script><img src=x onerror="window.qaPasted = true">'


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`streamlit run app.py` on a free port, a tmp copy of the seeds and a tmp (missing) index: the two seed
    documents are indexed in seconds, and the model comes from its cache (converted once)."""
    root = tmp_path_factory.mktemp("reader")
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
            yield {"url": f"http://localhost:{port}/", "corpus": corpus}
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def page(served: dict):
    """A fresh headless Chromium page, 1280 wide, on the app (its chat box shown: the index is built)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(served["url"])
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
            yield page
        finally:
            browser.close()


def test_a_long_paste_is_checked_sentence_by_sentence_and_nothing_in_it_runs(served: dict, page) -> None:
    from playwright.sync_api import expect

    note = source_text(served["corpus"], NOTE).strip()
    pasted = f"{note}\n\n{MADE_UP} {SCRIPT}\n\n{note}"
    assert len(pasted) > 5_000  # longer than one quotation may be

    page.get_by_test_id("stSidebar").get_by_text("Check a quote").click()
    box = page.get_by_label("Quotation")
    expect(box).to_be_visible(timeout=30_000)
    box.fill(pasted)
    page.get_by_role("button", name="Check", exact=True).click()

    result = page.locator(".qa-paste")
    expect(result).to_be_visible(timeout=120_000)
    expect(result.locator(".qa-verdict-badge").first).to_have_text("Mixed")
    expect(result.locator(".qa-verdict").first).to_contain_text(
        "35 sentences, checked one by one: 34 verbatim (as 2 passages), 1 not found."
    )
    expect(result.locator(".qa-note")).to_have_text("Markup removed before matching: HTML tags.")
    expect(result.locator(".qa-part-label")).to_have_text(["Sentences 1–17", "Sentence 18", "Sentences 19–35"])
    passages = result.locator("blockquote.qa-passage")
    expect(passages).to_have_count(2)
    for passage in passages.all():  # each verbatim run is the whole note, exactly
        doc, start, end = (passage.get_attribute(name) for name in ("data-doc", "data-start", "data-end"))
        assert doc == NOTE and passage.text_content() == note
        assert source_text(served["corpus"], doc)[int(start) : int(end)] == note
    expect(result.locator(".qa-paste-part").nth(1)).to_contain_text(MADE_UP)
    assert page.evaluate("window.qaPasted") is None, "the pasted script ran"
    assert result.locator("script, img").count() == 0


def test_a_chat_paste_over_2000_characters_is_cut_with_a_message(page) -> None:
    from playwright.sync_api import expect

    box = page.get_by_test_id("stChatInputTextArea")
    pasted = ("What do the documents say about terrorism and human rights in Xinjiang? " * 45)[:3_000]
    box.fill(pasted)
    box.press("Enter")

    cut = "You pasted 3,000 characters; only the first 2,000 were searched, the most a question may have."
    expect(page.get_by_text(cut)).to_be_visible(timeout=60_000)
    expect(page.locator("blockquote.qa-passage").first).to_be_visible(timeout=60_000)  # and it is answered
