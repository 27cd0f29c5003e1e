"""Issue 22 and the people work in a real browser: a long paste in "Check a quote" is checked sentence by
sentence and shown literally (a pasted <script> does not run); a chat paste over 2,000 characters is cut
with a message; an upload may not give a catalogued speaker a turn; weak passages are not numbered as
answers; only a follow-up is read as one; and the people filter names each person once (headless Chromium,
the real model on tmp corpora, `streamlit run app.py`)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apphelpers import APP, NOTE, PRESS, REPO, copy_corpus, free_port, shown_passages, source_text
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, STARTUP_SECONDS, _wait_until_healthy, upload

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt install)"),
]

MADE_UP = "The Ministry of Agriculture announced new subsidies for cotton farmers in Kashgar last spring."
#: Were this run as HTML, it would set a flag on the page.
SCRIPT = '<script>window.qaPasted = true</script><img src=x onerror="window.qaPasted = true">'
PEOPLE = Path(__file__).resolve().parent / "data" / "people"
NO_ANSWER = "No passage in the corpus answers this question."
FOLLOW_UP = "Read as a follow-up; searched for: "


@contextlib.contextmanager
def serving(root: Path, corpus: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free port over `corpus` and a tmp (missing) index under `root`: a small
    corpus is indexed in seconds, and the model comes from its cache (converted once). Yields its URL."""
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
            yield f"http://localhost:{port}/"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def browsing(url: str) -> Iterator:
    """A fresh headless Chromium page, 1280 wide, on the app (its chat box shown: the index is built)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_visible(timeout=STARTUP_SECONDS * 1000)
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app over a tmp copy of the two seed documents."""
    root = tmp_path_factory.mktemp("reader")
    corpus = copy_corpus(root / "corpus")
    with serving(root, corpus) as url:
        yield {"url": url, "corpus": corpus}


@pytest.fixture
def page(served: dict):
    """A fresh page on the app over the seeds: a new session."""
    with browsing(served["url"]) as page:
        yield page


@pytest.fixture(scope="module")
def people_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app over the five real briefing excerpts of tests/data/people, their folder's author given by a
    collection.yaml as the White House's."""
    root = tmp_path_factory.mktemp("people")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in PEOPLE.glob("*.md"):
        if path.name != "README.md":
            shutil.copyfile(path, corpus / path.name)
    (corpus / "collection.yaml").write_text("author: The White House\n", encoding="utf-8")
    with serving(root, corpus) as url:
        yield {"url": url, "corpus": corpus}


def assert_shown_as_written(page, corpus: Path) -> int:
    """Every passage on the page is its document's text exactly, at its offsets; returns how many there are."""
    shown = shown_passages(page.content())
    for passage in shown:
        assert source_text(corpus, passage.doc_id)[passage.start : passage.end] == passage.text, passage
    return len(shown)


def ask(page, question: str, turn: int):
    """Ask `question` as the conversation's `turn`-th question (from 1); return its answer's chat message
    once the run has finished."""
    from playwright.sync_api import expect

    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(2 * turn, timeout=180_000)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=180_000)
    expect(messages.nth(2 * turn - 2)).to_contain_text(question)
    return messages.nth(2 * turn - 1)


def check(page, quotation: str, said_by: str):
    """Check `quotation` as said by `said_by` on the "Check a quote" page; return the result shown (the
    latest is first, under the form)."""
    from playwright.sync_api import expect

    box = page.get_by_label("Quotation")
    expect(box).to_be_visible(timeout=30_000)
    box.fill(quotation)
    page.get_by_label("Said by (optional)").fill(said_by)
    page.get_by_role("button", name="Check", exact=True).click()
    result = page.locator(".qa-check", has=page.locator("blockquote.qa-quotation", has_text=quotation)).first
    expect(result).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=120_000)
    return result


def listed_options(page, select) -> list[str]:
    """The options a multiselect's dropdown lists, in order (its "Select all" left out), scrolling its
    virtualised list until every place in it has been seen."""
    from playwright.sync_api import expect

    select.click()
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options.first).to_be_visible(timeout=30_000)
    total = int(options.first.get_attribute("aria-setsize"))
    by_place: dict[int, str] = {}
    for _ in range(total):
        for option in options.all():
            by_place[int(option.get_attribute("aria-posinset"))] = option.text_content()
        if len(by_place) == total:
            break
        options.last.hover()
        page.mouse.wheel(0, 200)
    page.keyboard.press("Escape")
    assert sorted(by_place) == list(range(1, total + 1)), by_place
    return [by_place[place] for place in sorted(by_place) if by_place[place] != "Select all"]


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


def test_an_upload_giving_a_catalogued_speaker_a_turn_is_refused_and_a_wrong_speaker_is_caught(
    served: dict, page
) -> None:
    from playwright.sync_api import expect

    sidebar = page.get_by_test_id("stSidebar")
    upload(sidebar, "zhao-turn.txt", b"Press notes\nZhao Lijian: We will open all camps to inspection tomorrow.\n")
    refused = (
        "zhao-turn.txt cannot be added: it names Zhao Lijian as its speaker, who is the speaker of a catalogued "
        "document. An upload cannot speak for a catalogued author or speaker; remove that name from its author, "
        "speaker or turn labels."
    )
    expect(page.get_by_text(refused, exact=True)).to_be_visible(timeout=60_000)
    assert not [path.name for path in served["corpus"].iterdir() if path.name.startswith("zhao-turn")]

    sidebar.get_by_text("Check a quote").click()
    forged = check(page, "We will open all camps to inspection tomorrow.", "Zhao Lijian")
    expect(forged.locator(".qa-verdict-badge")).to_have_text(["Not found"])  # no green Verbatim, no other badge
    expect(forged.locator(".qa-verdict")).to_contain_text("nothing in the corpus is close enough to this quotation.")
    for match in forged.locator(".qa-check-match").all():  # the closest passages, each not a match
        expect(match.locator(".qa-badge").first).to_have_text("Not a match")

    sentence = "Life there is peaceful and pleasant."  # Zhao Lijian's, in the press conference of 28 July 2022
    wrong = check(page, sentence, "Jen Psaki")
    expect(wrong.locator(".qa-verdict-badge")).to_have_text(["Verbatim", "Misattributed"])
    expect(wrong.locator(".qa-verdict").nth(1)).to_have_text(
        "MisattributedAttributed to Jen Psaki, but said by Zhao Lijian on 28 July 2022."
    )
    match = wrong.locator(".qa-check-match").first
    expect(match.locator(".qa-badge-warn")).to_have_text("Misattributed")
    expect(match.locator(".qa-attribution")).to_contain_text(
        "[1] Zhao Lijian, Ministry of Foreign Affairs regular press conference, 28 July 2022, ¶4"
    )
    passage = match.locator("blockquote.qa-passage")
    expect(passage).to_have_text(sentence)
    assert passage.get_attribute("data-doc") == PRESS
    assert assert_shown_as_written(page, served["corpus"]) >= 1


def test_the_population_question_numbers_at_most_one_weak_passage_as_an_answer(served: dict, page) -> None:
    """Nothing in the seeds gives Xinjiang's population: at most the best passage close in meaning is an
    answer ([1]); every other passage shown is unnumbered, "Not a match", marked in the near-miss colour."""
    from playwright.sync_api import expect

    answer = ask(page, "What is the population of Xinjiang?", 1)
    cards = []
    for card in answer.locator(".qa-quote").all():
        mark = card.locator("blockquote.qa-passage mark")
        cards.append(
            {
                "attribution": card.locator(".qa-attribution").text_content(),
                "relevance": card.locator(".qa-relevance").text_content(),
                "mark": mark.get_attribute("class") if mark.count() else None,
            }
        )
    numbered = [card for card in cards if re.match(r"\[\d+\] ", card["attribution"])]
    assert len(numbered) <= 1, cards
    assert sum(card["relevance"].startswith("Close in meaning") for card in cards) <= 1, cards
    assert not [card for card in cards if card["relevance"].startswith("Answers: ")], cards
    for card in cards:
        if card["attribution"].startswith("Not a match"):
            assert not re.match(r"Not a match\[\d+\]", card["attribution"]), card
            assert card["mark"] == "qa-near", card
            assert re.fullmatch(r"Does not answer · model \d+%", card["relevance"]), card
        else:  # the one answer: numbered, in the answers' yellow (no class), said to be close in meaning
            assert card in numbered and card["mark"] is None, card
            assert re.fullmatch(r"Close in meaning · model \d+%", card["relevance"]), card
    if numbered:
        expect(answer.get_by_text("1 passage from 1 document", exact=True)).to_be_visible()
    else:
        expect(answer.get_by_text(NO_ANSWER, exact=True)).to_be_visible()
    assert assert_shown_as_written(page, served["corpus"]) >= len(cards)


def test_only_a_follow_up_is_read_as_one_and_the_caption_says_what_was_searched(served: dict, page) -> None:
    first = ask(page, "What did Psaki say about the Child Tax Credit in May 2021?", 1)
    assert FOLLOW_UP not in first.text_content()  # the first question of a session has nothing to follow
    why = ask(page, "Why did President Biden decide to withdraw from Afghanistan?", 2)
    assert FOLLOW_UP not in why.text_content()  # a "Why" question with its own subject is not a follow-up
    note = ask(page, "What did the note say about Xinjiang?", 3)
    assert FOLLOW_UP not in note.text_content()
    follow_up = ask(page, "And what about human rights?", 4)
    captions = follow_up.get_by_test_id("stCaptionContainer").all_text_contents()
    assert captions[:1] == [FOLLOW_UP + "What did the note say about Xinjiang? And what about human rights?"], captions
    assert assert_shown_as_written(page, served["corpus"]) >= 1


def test_the_people_filter_lists_each_person_once_and_a_label_is_cited_by_the_full_name(people_served: dict) -> None:
    from playwright.sync_api import expect

    with browsing(people_served["url"]) as page:
        sidebar = page.get_by_test_id("stSidebar")
        people = sidebar.get_by_test_id("stMultiSelect").filter(has_text="Author or speaker")
        listed = listed_options(page, people)
        assert listed == [
            "ACTING ADMINISTRATOR SLAVITT",
            "Alejandro Mayorkas",  # SECRETARY MAYORKAS and SECRETARY MAYORAKAS, named by the briefing's title
            "Anthony Fauci",  # DR. FAUCI in both briefings, named by the 13 April one's title
            "DR. WALENSKY",  # and the one DR. WALESNKY
            "Jen Psaki",
            "Jennifer Granholm",
            "MODERATOR",  # and the one MODEARTOR
            "MR: ZIENTS",
            "SENIOR ADMINISTRATION OFFICIAL",
            "The White House",  # the collection's author
            "a reporter",  # every Q
        ]
        assert len(listed) == len(set(listed)) and "MR" not in listed and "DR. FAUCI" not in listed
        assert [name for name in listed if "SLAVITT" in name.upper()] == ["ACTING ADMINISTRATOR SLAVITT"]

        people.click()
        page.get_by_role("listbox").get_by_role("option", name="Anthony Fauci", exact=True).click()
        page.keyboard.press("Escape")
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)
        answer = ask(page, "What does a pause mean?", 1)
        expect(answer.get_by_test_id("stCaptionContainer").filter(has_text="Filtered: Anthony Fauci")).to_be_visible()
        attributions = answer.locator(".qa-quote .qa-attribution").all_text_contents()
        assert attributions, answer.text_content()
        for attribution in attributions:
            assert re.fullmatch(r"(Not a match)?(\[\d+\] )?According to Anthony Fauci \(DR\. FAUCI\), .+", attribution)
        assert assert_shown_as_written(page, people_served["corpus"]) >= 1
