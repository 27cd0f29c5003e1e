"""Export: Markdown that renders quotes literally, with citations and a numbered list of sources."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.answer import Answer, Quote
from assistant.check import CheckMatch, CheckResult, Claim, DiffOp
from assistant.export import NOT_FOUND as NOT_FOUND_TEXT
from assistant.export import conversation_markdown, markdown_escape

markdown_it = pytest.importorskip("markdown_it")
TRICKY = 'The *budget* of __project__ is <script>alert("x")</script> and [click](javascript:alert(1)) & $5.'


def rendered_text(markdown: str) -> str:
    """What a CommonMark renderer shows for some Markdown: its HTML with tags dropped and entities decoded."""
    body = markdown_it.MarkdownIt("commonmark").render(markdown)
    body = re.sub(r"<br />\n", "\n", body)
    return html.unescape(re.sub(r"<[^>]+>", "", body)).strip("\n")


def quote(doc_id: str, text: str, paragraph: int, is_match: bool = True) -> Quote:
    return Quote(
        doc_id=doc_id,
        path=f"/corpus/{doc_id}.txt",
        title=f"Title of {doc_id}",
        author="Ministry",
        speaker=None,
        date="2023-09-14",
        paragraph=paragraph,
        start=0,
        end=len(text),
        text=text,
        highlight_start=0,
        highlight_end=len(text),
        score=0.5,
        citation=f"Ministry, {doc_id}, 14 September 2023, ¶{paragraph}",
        matched_by="meaning" if is_match else None,
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain words, no syntax.", "plain words, no syntax."),
        ("*bold* and _it_", r"\*bold\* and \_it\_"),
        ("# not a heading", r"\# not a heading"),
        ("1. not a list", r"1\. not a list"),
        ("- not a bullet", r"\- not a bullet"),
        ("<script>", r"\<script\>"),
        ("[x](javascript:alert(1))", r"\[x\](javascript:alert(1))"),
        ("costs $5 & more", r"costs \$5 \& more"),
        ("a\\b", r"a\\b"),
    ],
)
def test_markdown_escape(text: str, escaped: str) -> None:
    assert markdown_escape(text) == escaped


@pytest.mark.parametrize(
    "line", [TRICKY, "# Heading", "> quoted", "1) one", "+ plus", "=====", "***", "`code` ~~strike~~ | a | b |"]
)
def test_escaped_markdown_renders_as_the_text_itself(line: str) -> None:
    assert rendered_text(markdown_escape(line)) == line


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=80))
def test_escaped_line_renders_as_itself(text: str) -> None:
    line = " ".join(text.split())  # one line, no edge whitespace (Markdown trims and folds those)
    assert rendered_text(markdown_escape(line)) == line


def test_conversation_has_every_quote_its_citation_and_numbered_sources() -> None:
    first = Answer(
        "What about the budget?",
        True,
        [quote("note", TRICKY, 6), quote("press", "Second text.", 2), quote("note", "Weak one.", 9, is_match=False)],
    )
    second = Answer("Anything on cake?", False, [quote("press", "Closest.", 4, is_match=False)], NOT_FOUND_TEXT)

    markdown = conversation_markdown([first, second], title="Session")

    assert markdown.startswith("# Session\n")
    assert "## 1. What about the budget?" in markdown and "## 2. Anything on cake?" in markdown
    assert "2 passages from 2 documents" in markdown
    assert NOT_FOUND_TEXT in markdown and "Closest passages (not a match):" in markdown
    assert "> " + markdown_escape(TRICKY) in markdown
    assert "— Ministry, note, 14 September 2023, ¶6 [1]" in markdown
    assert "— Ministry, press, 14 September 2023, ¶4 [2]" in markdown
    assert "According to Ministry, note, 14 September 2023, ¶9: (not a match)" in markdown
    sources = markdown.split("## Sources\n\n")[1].splitlines()
    assert sources == [
        "1. Title of note, Ministry, 14 September 2023 (document note)",
        "2. Title of press, Ministry, 14 September 2023 (document press)",
    ]
    rendered = rendered_text(markdown)
    assert TRICKY in rendered


def test_quote_keeps_its_line_breaks() -> None:
    markdown = conversation_markdown([Answer("q", True, [quote("d", "line one\nline two\n\nnew paragraph", 1)])])
    assert "> line one\\\n> line two\n>\n> new paragraph" in markdown


def checked(verdict: str, text: str, matches: list[CheckMatch], claim: Claim | None = None) -> CheckResult:
    return CheckResult(text, verdict, tuple(matches), claim or Claim())


def check_match(doc_id: str, text: str, diff: tuple[DiffOp, ...] = (), **changes) -> CheckMatch:
    fields = dict(
        doc_id=doc_id,
        path=f"/corpus/{doc_id}.txt",
        title=f"Title of {doc_id}",
        author="Ministry",
        speaker="Ministry",
        date="2023-09-14",
        paragraph=6,
        start=0,
        end=len(text),
        text=text,
        citation=f"Ministry, {doc_id}, 14 September 2023, ¶6",
        similarity=1.0 if not diff else 0.93,
        diff=diff,
        quoted=text,
    )
    return CheckMatch(**(fields | changes))


def test_checked_quotations_follow_the_conversation_with_verdicts_differences_and_shared_sources() -> None:
    answer = Answer("What about the budget?", True, [quote("note", "Some text.", 6)])
    altered = checked(
        "altered",
        "for over *ten* years",
        [check_match("note", "for over six years", (DiffOp("replace", "*ten*", "six", 9, 12),), misattributed=True)],
        Claim("Zhao <b>Lijian</b>", "2022-07-28"),
    )
    verbatim = checked("verbatim", TRICKY, [check_match("press", TRICKY)])
    not_found = checked("not_found", "made up", [check_match("press", "Closest.", is_match=False, similarity=0.2)])

    markdown = conversation_markdown([answer], title="Session", checks=[altered, verbatim, not_found])

    assert markdown.index("## 1. What about the budget?") < markdown.index("## Quotations checked")
    assert "### 1. “for over \\*ten\\* years”" in markdown
    assert "Attributed to Zhao \\<b\\>Lijian\\</b\\> on 28 July 2022" in markdown
    assert "**Altered:** a passage says nearly the same; the differences are marked." in markdown
    assert (
        "**Misattributed:** attributed to Zhao \\<b\\>Lijian\\</b\\> on 28 July 2022, "
        "but said by Ministry on 14 September 2023."
    ) in markdown
    assert "In Ministry, note, 14 September 2023, ¶6 [1], similarity 0.93" in markdown
    assert "- quoted “\\*ten\\*” where the source says “six”" in markdown
    assert "**Verbatim:** these words are in the corpus." in markdown and "> " + markdown_escape(TRICKY) in markdown
    assert "Closest passages (not a match):\n\nNot a match: Ministry, press, 14 September 2023, ¶6 [2]" in markdown
    assert markdown.split("## Sources\n\n")[1].splitlines() == [
        "1. Title of note, Ministry, 14 September 2023 (document note)",
        "2. Title of press, Ministry, 14 September 2023 (document press)",
    ]
    rendered = rendered_text(markdown)
    assert TRICKY in rendered and "“for over *ten* years”" in rendered and "Zhao <b>Lijian</b>" in rendered


def test_chinese_quotes_and_a_checked_chinese_quotation_export_as_themselves(mixed_engine) -> None:
    answer = mixed_engine.ask("涉疆问题的实质是什么？", top_k=2, mode="keyword")
    check = mixed_engine.check("涉疆问题就是人权问题")
    shown = rendered_text(conversation_markdown([answer], title="涉疆问题", checks=[check]))
    assert shown.startswith("涉疆问题\n")
    assert answer.quotes[0].text in shown and "答：中方坚决反对这一反华活动。" in shown
    assert "quoted “就” where the source says “不”" in shown
    assert "外交部发言人, 外交部发言人答记者问, 15 September 2023, ¶2" in shown


def test_a_paste_checked_sentence_by_sentence_exports_each_part_with_its_best_match(fake_engine) -> None:
    note = fake_engine.document("2023-09-14-china-un-mission-note-verbale").text.strip()
    made_up = "The alpaca games come to Kashgar next *year*."
    paste = fake_engine.check_paste(f"<p>{note}</p><p>{made_up}</p>")

    shown = rendered_text(conversation_markdown([], title="Checks", checks=[paste]))

    assert "1. A text of 18 sentences" in shown
    assert "Mixed: 18 sentences, checked one by one: 17 verbatim (as 1 passage), 1 not found." in shown
    assert "Markup removed before matching: HTML tags, Markdown emphasis (* and _)." in shown
    assert "1. Sentences 1–17: “" in shown and f"1. Sentence 18: “{made_up.replace('*', '')}”" in shown
    assert shown.count("In Permanent Mission") == 1  # the verbatim run's one match; none for the made-up sentence
    assert "Not a match" not in shown
