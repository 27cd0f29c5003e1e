"""Issue 21, with real processes: two app replicas on one PostgreSQL store answer every question while the CLI
ingests into it, and both then quote the new document, without a restart."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.apphelpers import APP, REPO, copy_corpus, free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, STARTUP_SECONDS
from tests.test_serving import healthy, stop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install)"),
]

SEED_QUESTION = "How many countries supported China's Xinjiang policy?"
SEED_QUOTE = "nearly 100 countries voiced their support in different ways for China's policy on governing Xinjiang"
NEW_FILE = "2024-03-20-turpan-grape-cooperative.md"
NEW_SENTENCE = "The Turpan grape cooperative shipped seventeen tonnes of raisins to Almaty in March 2024."
NEW_DOCUMENT = (
    "---\ntitle: Export note\nauthor: Turpan Grape Cooperative\nkind: report\ndate: 2024-03-20\n---\n\n"
    f"{NEW_SENTENCE}\n\nThe cooperative has two hundred members.\n"
)
NEW_QUESTION = "How many tonnes of raisins did the Turpan grape cooperative ship to Almaty?"
#: From the end of the ingest to both replicas quoting the new document: a 2 s generation check, then the swap.
SWAP_SECONDS = 30
#: What every answer says: how many passages it quotes, or that none answers (assistant/answer.py, search.py).
ANSWERED = re.compile(r"\d+ passages? from \d+ documents?|No passage")


def test_two_replicas_answer_through_a_cli_ingest_and_both_serve_the_new_document(
    postgres_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    corpus = copy_corpus(tmp_path / "corpus")
    first = run_ingest(postgres_url, corpus, tmp_path)
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(SUMMARY.format("2 documents, 16 passages", 2, 0), first.stdout.strip()), first.stdout

    logs = [tmp_path / f"replica-{number}.log" for number in (1, 2)]
    try:
        with ExitStack() as stack:
            # Each replica has its own index folder and no corpus at all: it reads only the store.
            urls = [
                stack.enter_context(replica(postgres_url, tmp_path / f"replica-{n}", log))
                for n, log in enumerate(logs, 1)
            ]
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            pages = [open_app(browser, url) for url in urls]
            for page in pages:
                assert_quotes(ask(page, SEED_QUESTION), SEED_QUOTE)
                expect_corpus(page, "Corpus: 2 documents, 16 passages")

            (corpus / NEW_FILE).write_text(NEW_DOCUMENT, encoding="utf-8")
            ingest = start_ingest(postgres_url, corpus, tmp_path)
            stack.callback(stop, ingest)  # a no-op once it has finished; ends it if the test fails meanwhile
            asked_during = [0, 0]
            # While it runs, both answer every question about the document it adds: from the seeds until it is
            # committed, then from the new generation. Only this question: the first one a replica gets after the
            # commit is answered by the engine it had before, whatever the timing, and it must answer too.
            while ingest.poll() is None:
                for number, page in enumerate(pages):
                    ask(page, NEW_QUESTION)
                    asked_during[number] += ingest.poll() is None
            stdout, stderr = ingest.communicate()
            assert ingest.returncode == 0, stderr
            assert re.fullmatch(SUMMARY.format("3 documents, 18 passages", 1, 2), stdout.strip()), stdout
            assert min(asked_during) >= 1, f"too few questions asked during the ingest: {asked_during}"

            deadline = time.monotonic() + SWAP_SECONDS
            for page in pages:
                while not quotes(ask(page, NEW_QUESTION), NEW_SENTENCE):
                    assert time.monotonic() < deadline, f"{page.url} did not quote the new document in time"
                    time.sleep(1)
                # A question reruns only the chat (a fragment): the sidebar shows the swapped-in engine's catalog
                # on the next full run, which a reload (a new session) makes.
                page.reload()
                expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible()
                expect_corpus(page, "Corpus: 3 documents, 18 passages")
                assert_quotes(ask(page, SEED_QUESTION), SEED_QUOTE)  # and the seeds are still there
        for log in logs:  # every replica stopped (ExitStack), each without a logged failure
            assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")
    except BaseException:
        for log in logs:  # shown with the failure: what the replicas said
            print(f"--- {log.name} ---\n{log.read_text(errors='replace') if log.exists() else '(none)'}")
        raise


#: The CLI's summary line; {0} the totals, {1} added, {2} unchanged.
SUMMARY = r"Indexed {0} \({1} added, 0 changed, 0 removed, {2} unchanged\) in \d+\.\d s\."


def ingest_command(store: str, corpus: Path) -> list[str]:
    return [sys.executable, "-m", "assistant", "ingest", "--store", store, "--corpus", str(corpus)]


def ingest_env(tmp_path: Path) -> dict[str, str]:
    # Its own index folder, so that nothing under the checkout's embeddings/ is touched or locked.
    return {**os.environ, "ASSISTANT_INDEX": str(tmp_path / "writer"), "HF_HUB_OFFLINE": "1"}


def run_ingest(store: str, corpus: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ingest_command(store, corpus), cwd=REPO, env=ingest_env(tmp_path), capture_output=True, text=True, timeout=300
    )


def start_ingest(store: str, corpus: Path, tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ingest_command(store, corpus),
        cwd=REPO,
        env=ingest_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def replica(store: str, folder: Path, log_path: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free port, reading the store; yields its URL, and stops it at the end."""
    env = {
        **os.environ,
        "ASSISTANT_STORE": store,
        "ASSISTANT_CORPUS": str(folder / "corpus"),  # not there: a replica needs no corpus
        "ASSISTANT_INDEX": str(folder / "index"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            healthy("localhost", port, server)
            yield f"http://localhost:{port}/"
        finally:
            stop(server)


def open_app(browser, url: str):
    """A page of its own (a browser session) on the app, once the engine is loaded and the chat box is there."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(60_000)
    page.goto(url)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
    return page


def ask(page, question: str):
    """Ask in the chat and return the answer's message once the run has finished; fail on an error on the page."""
    from playwright.sync_api import expect

    messages = page.get_by_test_id("stChatMessage")
    before = messages.count()
    chat = page.get_by_test_id("stChatInputTextArea")
    chat.fill(question)
    chat.press("Enter")
    expect(messages).to_have_count(before + 2)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # the run has finished
    # st.error (a failed answer, a damaged or unreadable store) or an uncaught exception's box.
    errors = page.get_by_test_id("stAlertContentError").or_(page.get_by_test_id("stException"))
    assert not errors.count(), f"{question!r} on {page.url}: {errors.all_inner_texts()}"
    answer = messages.nth(before + 1)
    expect(answer).to_contain_text(ANSWERED)
    return answer


def quotes(answer, text: str) -> bool:
    """Whether one of the passages the answer shows contains `text`."""
    return any(text in passage for passage in answer.locator("blockquote.qa-passage").all_inner_texts())


def assert_quotes(answer, text: str) -> None:
    assert quotes(answer, text), answer.inner_text()


def expect_corpus(page, label: str) -> None:
    """The sidebar's corpus summary, e.g. 'Corpus: 2 documents, 16 passages'."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSidebar").get_by_text(label)).to_be_visible()
