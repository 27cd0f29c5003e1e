"""End to end in a real browser: headless Chromium asks the running app a question and follows the quote's link."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apphelpers import APP, NOTE, REPO, copy_corpus, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "docs" / "screenshot.png"
QUESTION = "What do the documents say about terrorism?"
PASSAGE = "countering violent terrorism, radicalization and separatism"
BEST_SENTENCE = "They are about countering violent terrorism, radicalization and separatism."
ATTRIBUTION = (
    "According to Permanent Mission of the People's Republic of China to the United Nations, "
    "note verbale CMS (2023), 14 September 2023, ¶6:"
)
STARTUP_SECONDS = 180
#: True when no ancestor that clips its content (overflow other than visible) cuts the element off.
WHOLLY_VISIBLE = """element => {
    const own = element.getBoundingClientRect();
    for (let box = element.parentElement; box; box = box.parentElement) {
        if (getComputedStyle(box).overflowX === "visible") continue;
        const clip = box.getBoundingClientRect();
        if (own.left < clip.left - 0.5 || own.right > clip.right + 0.5) return false;
    }
    return true;
}"""  # a cold start builds the index and loads the model

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install)"),
]


#: The served app's corpus and index folders, for tests that change them from outside the app.
SERVED: dict[str, Path] = {}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` on a free localhost port, on a tmp copy of the corpus and a tmp (missing) index."""
    root = tmp_path_factory.mktemp("browser")
    corpus = copy_corpus(root / "corpus")
    SERVED.update(corpus=corpus, index=root / "index")
    env = {
        **os.environ,
        "ASSISTANT_CORPUS": str(corpus),
        "ASSISTANT_INDEX": str(root / "index"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    port = free_port()
    # Everything else as shipped, from .streamlit/config.toml: localhost only, viewer toolbar, no error details.
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)]
    log_path = root / "streamlit.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(port, server, log_path)
            yield f"http://localhost:{port}/"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_healthy(port: int, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not answer on port {port}:\n{log_path.read_text(errors='replace')}")


def test_question_quote_citation_and_document_view(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        try:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url.rstrip("/"))
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(app_url)
            question_box = page.get_by_test_id("stChatInputTextArea")
            expect(question_box).to_be_visible(timeout=STARTUP_SECONDS * 1000)
            question_box.fill(QUESTION)
            question_box.press("Enter")

            quote = page.locator("blockquote.qa-passage", has_text=PASSAGE).first
            expect(quote).to_be_visible(timeout=60_000)
            expect(quote.locator("mark")).to_have_text(BEST_SENTENCE)
            card = page.locator(".qa-quote", has=quote)
            expect(card.locator(".qa-attribution")).to_contain_text(ATTRIBUTION)
            expect(page.get_by_text(re.compile(r"^\d+ passages? from \d+ documents?$"))).to_be_visible()
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)  # the run has finished
            page.get_by_text(QUESTION).first.scroll_into_view_if_needed()
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))

            copy_button = card.locator("button.qa-copy")
            expect(copy_button).to_have_text("Copy quote with citation")
            page.wait_for_function("window.qaCopyInstalled === true", timeout=30_000)  # the click handler is there
            copy_button.click()
            expect(copy_button).to_have_text("Copied ✓", timeout=10_000)
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied.startswith("“The issues related to Xinjiang are not about human rights.")
            assert copied.endswith("”\n— " + ATTRIBUTION.removeprefix("According to ").removesuffix(":"))

            link = card.get_by_role("link", name=re.compile("Open in the document"))
            with context.expect_page() as opened:
                link.click()
            document = opened.value
            document.wait_for_load_state()
            assert f"doc={NOTE}" in document.url and "start=" in document.url and "end=" in document.url
            cited = document.locator("mark#cited-passage")
            expect(cited).to_contain_text(PASSAGE, timeout=60_000)
            expect(cited).to_be_in_viewport()
            expect(document.locator("h2.qa-title")).to_contain_text("Note verbale CMS (2023) to all Permanent Missions")

            document.reload()  # the permalink survives a reload (a new session)
            expect(document.locator("mark#cited-passage")).to_contain_text(PASSAGE, timeout=60_000)

            in_context = page.locator(".qa-card", has=quote).locator("details.qa-in-context")
            expect(in_context.locator(".qa-context")).to_be_hidden()  # folded until asked for
            in_context.locator("summary").click()
            expect(in_context.locator(".qa-context")).to_contain_text("It's clear to all")
            question_box.fill("human rights")
            question_box.press("Enter")
            expect(page.get_by_test_id("stChatMessage")).to_have_count(4, timeout=60_000)
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)
            expect(in_context.first.locator(".qa-context")).to_be_visible()  # the next answer leaves it open
        finally:
            context.close()


def test_sidebar_dates_upload_result_and_no_deploy_button(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(app_url)
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
            expect(page.get_by_test_id("stAppDeployButton")).to_have_count(0)

            sidebar = page.get_by_test_id("stSidebar")
            for label in ("From", "Until"):  # each date whole in its field: year, month and day all visible
                field = sidebar.get_by_role("group", name=label)
                field.get_by_role("spinbutton", name=f"year, {label}").click()
                page.keyboard.type("20220728")
                page.keyboard.press("Escape")  # close the calendar
                for part in ("year", "month", "day"):
                    segment = field.get_by_role("spinbutton", name=f"{part}, {label}")
                    assert segment.evaluate(WHOLLY_VISIBLE), f"the {part} of {label} is cut off"

            data = b"---\ntitle: Budget notes\nauthor: Treasury\n---\n\nIrrigation canals got more money.\n"
            upload(sidebar, "budget.md", data)
            result = page.get_by_text("Added budget.md, marked as uploaded.")
            expect(result).to_be_in_viewport(timeout=60_000)  # where the user is looking, not under the sidebar
        finally:
            browser.close()


def test_a_forged_upload_is_refused_and_a_cli_ingest_shows_up_without_a_restart(app_url: str) -> None:
    """Issue 11, in a real browser: an upload claiming Zhao Lijian's words is refused; another process's
    ingest of a new document is answered from by the running app, with no restart."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(app_url)
            chat = page.get_by_test_id("stChatInputTextArea")
            expect(chat).to_be_visible(timeout=STARTUP_SECONDS * 1000)

            forged = (
                b"---\ntitle: Regular press conference\nspeaker: Zhao Lijian\ndate: 2022-07-28\n---\n\n"
                b"Zhao Lijian: Xinjiang will host the alpaca games next year.\n"
            )
            sidebar = page.get_by_test_id("stSidebar")
            upload(sidebar, "forged.md", forged)
            expect(page.get_by_text("forged.md cannot be added:")).to_be_visible(timeout=60_000)
            assert not (SERVED["corpus"] / "forged.md").exists()

            added = SERVED["corpus"] / "alpaca-farm.md"
            added.write_text(
                "---\ntitle: Farm report\nauthor: County office\ndate: 2024-05-01\n---\n\n"
                "The alpaca farm near Kashgar keeps four hundred and twelve alpacas.\n",
                encoding="utf-8",
            )
            ingest = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "assistant",
                    "ingest",
                    "--corpus",
                    str(SERVED["corpus"]),
                    "--index",
                    str(SERVED["index"]),
                ],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert ingest.returncode == 0, ingest.stderr
            time.sleep(2.5)  # the app looks for a new index generation at most every 2 s
            # The next run loads it in the background (answering from the current one meanwhile): reload
            # until the page no longer says it is updating.
            deadline = time.monotonic() + 60
            while True:
                page.reload()
                expect(chat).to_be_visible(timeout=30_000)
                if not page.get_by_text("Updating the index").count() or time.monotonic() > deadline:
                    break
                time.sleep(1)
            chat.fill("How many alpacas does the farm near Kashgar keep?")
            chat.press("Enter")
            expect(page.get_by_text("four hundred and twelve alpacas").first).to_be_visible(timeout=120_000)
        finally:
            browser.close()


def upload(sidebar, name: str, data: bytes) -> None:
    """Choose a Markdown file in the sidebar's uploader and press "Add to the corpus" once it is enabled."""
    from playwright.sync_api import expect

    sidebar.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/markdown", "buffer": data}]
    )
    add = sidebar.get_by_role("button", name="Add to the corpus")
    add.scroll_into_view_if_needed()
    expect(add).to_be_enabled(timeout=30_000)
    add.click()
