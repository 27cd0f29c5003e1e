"""ui/render.py: every corpus and user string is escaped, passages show their exact text, diffs read right.

Escaping is the app's security boundary: `<script>`, `*`, `[x](javascript:...)` in a
document, its metadata or a pasted quotation must come out as those characters.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer import Quote
from assistant.config import Settings
from assistant.engine import QuoteEngine
from assistant.ingest import ingest
from assistant.passages import Passage
from tests.apphelpers import shown_passages
from tests.conftest import FakeEmbedder
from ui import render

SCRIPT = '<script>alert("pwned")</script>'
TRICKY = f"The *budget* of __project__ is {SCRIPT} and [click here](javascript:alert(1)) & $5 <b>bold</b>."
TRICKY_DOCUMENT = f"""---
title: 'Tricky *notes* <b>bold</b> {SCRIPT}'
author: 'Team _underscore_ <i>it</i>'
date: 2024-05-01
url: 'javascript:alert(2)'
---

# Heading that must stay a hash

{TRICKY}

There has been no violent terrorist incident in Xinjiang for over six consecutive years. It was a long time.
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> QuoteEngine:
    """One tricky Markdown document, indexed with the fake embedder."""
    root = tmp_path_factory.mktemp("render")
    (root / "corpus").mkdir()
    (root / "corpus" / "tricky.md").write_text(TRICKY_DOCUMENT, encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model="fake", threshold=0.3)
    embedder = FakeEmbedder()
    ingest(settings, embedder)
    return QuoteEngine.open(settings, embedder)


def visible(markup: str) -> str:
    """What a browser shows of some HTML: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def assert_safe(markup: str) -> None:
    """No element or link from the corpus made it into the HTML."""
    assert "<script" not in markup and "<b>" not in markup and "<i>" not in markup
    assert 'href="javascript' not in markup


def assert_exact_passages(markup: str, engine: QuoteEngine) -> int:
    passages = shown_passages(markup)
    for passage in passages:
        assert passage.text == engine.document(passage.doc_id).text[passage.start : passage.end]
        assert passage.tags <= {"mark"}
    return len(passages)


def tricky_quote(text: str = TRICKY, start: int = 100) -> Quote:
    return Quote(
        doc_id="tricky",
        path="/corpus/tricky.md",
        title=f"Tricky {SCRIPT}",
        author="Team <i>it</i>",
        speaker=None,
        date="2024-05-01",
        paragraph=2,
        start=start,
        end=start + len(text),
        text=text,
        highlight_start=start + 4,
        highlight_end=start + 12,
        score=0.5,
        citation=f"Team <i>it</i>, Tricky {SCRIPT}, 1 May 2024, ¶2",
        matched_by="meaning",
    )


# --- Quotes, context, document, corpus ----------------------------------------------------------------------


def test_quote_card_escapes_text_attribution_and_copy_text() -> None:
    quote = tricky_quote()
    before = Passage("tricky", 0, 20, 1, None, "<img src=x onerror=1>", ())

    card = render.quote_card_html(quote, (before, None), number=1)

    assert_safe(card)
    assert "&lt;img src=x onerror=1&gt;" in card
    assert f"[1] According to Team &lt;i&gt;it&lt;/i&gt;, Tricky {html.escape(SCRIPT)}" in card
    shown = shown_passages(card)
    assert [p.text for p in shown] == [TRICKY, "<img src=x onerror=1>", TRICKY]
    assert shown[0].marked == "*budget*"
    (copy,) = re.findall(r'data-copy="([^"]*)"', card)
    assert html.unescape(copy) == render.copy_text(quote)


def test_document_view_escapes_text_and_metadata_and_links_only_web_addresses(engine: QuoteEngine) -> None:
    view = engine.document("tricky")
    start = view.text.index("The *budget*")

    page = render.metadata_html(view) + render.document_html(view, (start, start + len(TRICKY)))

    assert_safe(page)
    assert "javascript:alert(2)" in visible(page)  # the url shown as text, not a link
    assert "# Heading that must stay a hash" in visible(page)
    assert assert_exact_passages(page, engine) == 4  # the front matter (unnumbered) and three paragraphs
    (cited,) = re.findall(r'<mark class="qa-cited-text" id="cited-passage">(.*?)</mark>', page, re.S)
    assert html.unescape(cited) == TRICKY
    assert render.link_html("https://example.org/?a=1&b=<2>") == (
        '<a href="https://example.org/?a=1&amp;b=&lt;2&gt;" target="_blank" rel="noopener">'
        "https://example.org/?a=1&amp;b=&lt;2&gt;</a>"
    )


def test_corpus_list_escapes_titles_and_authors(engine: QuoteEngine) -> None:
    listing = render.corpus_html(engine.documents())
    assert_safe(listing)
    assert f"Tricky *notes* &lt;b&gt;bold&lt;/b&gt; {html.escape(SCRIPT)}" in listing


# --- Checked quotations ---------------------------------------------------------------------------------------


def test_altered_check_marks_dropped_changed_and_added_words_distinctly(engine: QuoteEngine) -> None:
    result = engine.check(
        "There has been no terrorist incident at all in Xinjiang for over ten consecutive years.",
        speaker=f"Someone {SCRIPT}",
        date="2020-01-01",
    )

    page = render.check_html(result)

    assert result.verdict == "altered" and result.misattributed
    assert_safe(page)
    assert render.diff_html(result.matches[0]) == (
        'There has been no <del class="qa-del">violent</del> terrorist incident <ins class="qa-ins">at all</ins> in '
        'Xinjiang for over <del class="qa-del">six</del> <ins class="qa-ins">ten</ins> consecutive years.'
    )
    (passage,) = shown_passages(page)
    assert passage.marked == "violentsix"  # the source's words that the quotation left out or changed
    assert assert_exact_passages(page, engine) == 1
    assert f"Attributed to Someone {html.escape(SCRIPT)} on 1 January 2020" in page
    assert '<span class="qa-verdict-badge qa-misattributed">Misattributed</span>' in page
    assert "but said by Team _underscore_ &lt;i&gt;it&lt;/i&gt; on 1 May 2024." in page


def test_check_of_a_quotation_with_markup_shows_it_literally(engine: QuoteEngine) -> None:
    quotation = "The *budget* of __project__ is <script>alert('x')</script> and [click here](javascript:alert(1))"

    result = engine.check(quotation)
    page = render.check_html(result)

    assert result.verdict == "altered"
    assert_safe(page)
    assert visible(page).startswith(quotation)
    assert '<del class="qa-del">&quot;pwned&quot;</del> <ins class="qa-ins">&#x27;x&#x27;</ins>' in page
    assert assert_exact_passages(page, engine) == 1


def test_verbatim_check_has_no_differences_and_not_found_marks_each_passage(engine: QuoteEngine) -> None:
    verbatim = render.check_html(engine.check("“It was a long time.”"))
    not_found = render.check_html(engine.check("Completely different words about fisheries quotas."))

    assert "qa-diff" not in verbatim and "<mark" not in verbatim
    assert '<span class="qa-verdict-badge qa-verbatim">Verbatim</span>these words are in the corpus.' in verbatim
    assert "Closest passages (not a match):" in not_found
    assert not_found.count("Not a match</span>") == assert_exact_passages(not_found, engine) >= 1


def test_marked_ranges_escape_and_skip_empty_ranges() -> None:
    assert render.marked_ranges("a<b>c", [(1, 4), (4, 4)], "x") == 'a<mark class="x">&lt;b&gt;</mark>c'
    assert render.marked_ranges("abc", [], "x") == "abc"


# --- CSS and scripts are files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["app.css", "copy.js", "scroll.js"])
def test_style_and_scripts_come_from_files(name: str) -> None:
    content = (render.STATIC / name).read_text(encoding="utf-8")
    wrapped = render.style() if name.endswith(".css") else render.script(name)
    assert wrapped.startswith(("<style>\n", "<script>\n")) and content in wrapped


def test_the_scroll_script_targets_the_cited_passage_id() -> None:
    assert f'document.getElementById("{render.CITED_ID}")' in Path(render.STATIC / "scroll.js").read_text()


def test_the_corpus_list_counts_one_passage_as_one(engine: QuoteEngine) -> None:
    info = engine.documents()[0]
    single = replace(info, passage_count=1)
    assert " · 1 passage</span>" in render.corpus_html([single])
    assert f" · {info.passage_count} passages</span>" in render.corpus_html([info])


# --- Relevance label ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matched_by", "label"),
    [
        ("model", "Answers: 81%"),
        ("meaning", "Close in meaning · model 81%"),
        ("phrase", "Holds your phrase · model 81%"),
        ("named", "Within your restriction · model 81%"),
        (None, "Does not answer · model 81%"),
    ],
)
def test_relevance_label_says_why_a_quote_the_model_doubts_is_still_an_answer(matched_by, label) -> None:
    quote = replace(tricky_quote(), score=0.81, score_kind="probability", matched_by=matched_by)
    markup = render.relevance_html(quote)
    assert re.search(r">([^<]*)</span>", markup).group(1) == html.escape(label)
    if matched_by in ("meaning", "phrase", "named"):
        assert "Counted as an answer because" in markup


def test_relevance_label_without_the_model_is_the_cosine() -> None:
    assert ">Relevance 0.50</span>" in render.relevance_html(tricky_quote())


def test_the_lead_line_is_the_best_sentence_exactly_and_its_citation_escaped() -> None:
    quote = tricky_quote()

    lead = render.lead_html(quote)

    assert_safe(lead)
    (sentence,) = shown_passages(lead)
    assert (sentence.start, sentence.end) == (quote.highlight_start, quote.highlight_end)
    assert sentence.text == quote.text[4:12] == "*budget*"
    assert visible(lead) == f"“*budget*”{quote.citation}"


def test_a_transcripts_hard_line_wraps_stay_in_the_page_and_the_copy_and_are_reflowed_only_by_css() -> None:
    wrapped = "MS. PSAKI:  Well, the President\nhas been clear\nabout this."
    quote = tricky_quote(wrapped)

    card = render.quote_card_html(quote, (None, None))

    assert shown_passages(card)[0].text == wrapped  # the characters in the page are the source's, newlines too
    (copy,) = re.findall(r'data-copy="([^"]*)"', card)
    assert html.unescape(copy) == f"“{wrapped}”\n— {quote.citation}"  # the copy is the source span exactly
    css = (render.STATIC / "app.css").read_text(encoding="utf-8")
    assert re.search(r"\.qa-passage \{ white-space: normal;", css)  # displayed as running text


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ("", True),
        ("tricky", True),
        ("TEAM it", True),
        ("1 may 2024", True),
        ("2024-05", True),
        ("psaki", False),
        ("ricky", False),  # words are found by their start
    ],
)
def test_the_corpus_search_box_matches_every_word_in_title_author_or_date(
    engine: QuoteEngine, wanted: str, found: bool
) -> None:
    (info,) = engine.documents()
    assert render.corpus_matches(info, wanted) is found
