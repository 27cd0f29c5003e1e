"""The command line with the real bundled model: ingest, ask (text and JSON), show, and its errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED_CORPUS

pytestmark = pytest.mark.integration


def run(*args: str, env_extra: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEED_CORPUS, root / "corpus")
    return {"ASSISTANT_CORPUS": str(root / "corpus"), "ASSISTANT_INDEX": str(root / "index")}


def verbatim(quote: dict) -> bool:
    return Path(quote["path"]).open(encoding="utf-8", newline="").read()[quote["start"] : quote["end"]] == quote["text"]


def test_ingest_prints_a_summary_then_reports_up_to_date(places):
    first = run("ingest", env_extra=places)
    assert first.returncode == 0, first.stderr
    assert "Indexed 2 documents, 16 passages (2 added, 0 changed, 0 removed, 0 unchanged" in first.stdout
    second = run("ingest", env_extra=places)
    assert second.stdout.startswith("Index up to date: 2 documents, 16 passages")


def test_the_event_question_quotes_the_organisers_sentence_first(places):
    result = run("ask", "--json", "Which organizations launched the event on Xinjiang?", env_extra=places)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is True
    top = answer["quotes"][0]
    assert "launched by the Atlantic Council, Human Rights Watch and Amnesty International" in top["text"]
    assert top["citation"].endswith("note verbale CMS (2023), 14 September 2023, ¶4")
    assert all(verbatim(q) for q in answer["quotes"])


def test_capital_of_australia_is_not_answered(places):
    answer = json.loads(run("ask", "--json", "What is the capital of Australia?", env_extra=places).stdout)
    assert answer["answered"] is False
    assert answer["quotes"] and all(verbatim(q) for q in answer["quotes"])


def test_batch_questions_from_stdin_and_top_k(places):
    lines = "\n".join(json.dumps({"question": q}) for q in ["Who spoke for China Daily?", "terrorism", "Bachelet"])
    result = run("ask", "--json", "--top-k", "2", "--questions", "-", env_extra=places, stdin=lines)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == ["Who spoke for China Daily?", "terrorism", "Bachelet"]
    assert all(len(a["quotes"]) <= 2 and all(verbatim(q) for q in a["quotes"]) for a in answers)


def test_readable_output_attributes_every_quote(places):
    result = run("ask", "What do the documents say about terrorism?", env_extra=places)
    assert result.returncode == 0
    assert "According to Permanent Mission of the People's Republic of China to the United Nations" in result.stdout
    assert "countering violent terrorism, radicalization and separatism" in result.stdout


def test_readable_output_says_why_a_quote_within_the_restriction_answers(places):
    result = run("ask", "What did the journalist ask the spokesperson?", env_extra=places)
    assert result.returncode == 0, result.stderr
    assert "Searched only: reporters, in documents where Zhao Lijian speaks" in result.stdout
    assert "According to China Daily" in result.stdout
    assert "Best sentence: “What is China’s comment?”" in result.stdout
    assert "a match because the question asks only what was said by the people, or on the dates, it names" in (
        " ".join(result.stdout.split())
    )


def test_show_prints_metadata_and_numbered_paragraphs(places):
    result = run("show", "2022-07-28-mfa-press-conference-zhao-lijian", env_extra=places)
    assert result.returncode == 0
    assert "Speaker: Zhao Lijian" in result.stdout and "Date: 28 July 2022" in result.stdout
    assert "¶5  This co-signed letter speaks" in result.stdout


def test_eval_json_reports_every_mode_and_the_oracle(places):
    result = run("eval", "tests/data/seed_questions.jsonl", "--json", env_extra=places)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 63 and report["answerable"] == 49
    assert set(report["modes"]) == {"reranked", "hybrid", "dense", "keyword"}
    assert report["shipped"] == "reranked"
    dense, keyword = report["modes"]["dense"]["top1"], report["modes"]["keyword"]["top1"]
    assert max(dense, keyword) <= report["better_baseline_top1"] <= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "error: The question is empty"),
        (["ask", "x" * 100_000], "error: The question is 100,000 characters long"),
        (["show", "../../etc/passwd"], "error: There is no document '../../etc/passwd' in the index."),
        (["ask", "--top-k", "0", "q"], "--top-k must be between 1 and 100"),
        (["eval", "/nonexistent/questions.jsonl"], "error: Cannot read /nonexistent/questions.jsonl: No such file"),
    ],
    ids=["empty", "huge", "unknown-doc", "bad-top-k", "missing-eval-file"],
)
def test_bad_input_gets_one_clear_line_and_a_non_zero_exit(places, args, message):
    result = run(*args, env_extra=places)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_or_empty_corpus_is_an_error_and_the_index_is_kept(places, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("ingest", env_extra={**places, "ASSISTANT_CORPUS": str(empty)})
    assert result.returncode == 1 and "error: No readable document in" in result.stderr
    missing = run("ingest", env_extra={**places, "ASSISTANT_CORPUS": str(tmp_path / "missing")})
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert run("ask", "--json", "terrorism", env_extra=places).returncode == 0


def test_unreadable_index_without_a_corpus_is_a_clear_error(places, tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    (index / "CURRENT").write_text("gen-gone\n")
    result = run(
        "ask", "terrorism", env_extra={"ASSISTANT_CORPUS": str(tmp_path / "none"), "ASSISTANT_INDEX": str(index)}
    )
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_a_closed_pipe_ends_quietly_with_status_141(places):
    questions = ["terrorism", "human rights", "Who spoke for China Daily?", "What did the NGOs ask for?"] * 10
    lines = "\n".join(json.dumps({"question": q}) for q in questions)
    pipeline = f'"{sys.executable}" -m assistant ask --json --questions - | head -1'
    pipeline += '; echo "status ${PIPESTATUS[*]}" >&2'

    result = subprocess.run(
        ["bash", "-c", pipeline], cwd=REPO, env={**os.environ, **places}, input=lines, capture_output=True, text=True
    )

    assert json.loads(result.stdout)["question"] == "terrorism"  # head's one line
    assert result.stderr.splitlines()[-1] == "status 141 0"
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


def test_progress_bars_only_on_a_terminal(places, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    logged = run("ingest", env_extra={**places, "ASSISTANT_INDEX": str(tmp_path / "logged")})
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    on_terminal = subprocess.Popen(
        [sys.executable, "-m", "assistant", "ingest"],
        cwd=REPO,
        env={**os.environ, **places, "ASSISTANT_INDEX": str(tmp_path / "terminal")},
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = _read_until_closed(leader)  # read while it runs: a closed terminal drops what was not read

    assert logged.returncode == on_terminal.wait(timeout=300) == 0
    assert "Indexed 2 documents, 16 passages" in logged.stdout  # the result, on stdout
    assert "Embedding" not in logged.stderr and "\x1b" not in logged.stderr and "\r" not in logged.stderr
    assert b"Embedding" in shown and b"\r" in shown  # a live bar, redrawn in place


def _read_until_closed(descriptor: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the process has exited and closed the terminal
        pass
    finally:
        os.close(descriptor)
    return b"".join(chunks)
