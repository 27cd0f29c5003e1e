"""App start and answer times: the CLI cold start, where that time goes, and the Streamlit app in a browser.

Cold start (proxy): the wall time of `python -m assistant ask QUESTION` end to end,
a new process each time (the OS file cache is warm after the first run). `python -m
bench.app_start --phases ...` runs the same steps in one process and times each.

Browser (optional): `streamlit run app.py` is started and headless Chromium (Debian's,
driven by Playwright) waits for the page, types a question into the chat box and
waits until the app has drawn the answer and finished its run; cold is from starting
streamlit to that point (the browser is launched before the clock starts), warm is
from pressing Enter to the rendered answer for later questions. Skipped, with the
reason, when app.py is missing or the app fails.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import BENCH_DIR, REPO_ROOT, BenchError, bench_env, emit_json, run_json_child, timed_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ANSWER_RENDERED = """n => {
  const app = document.querySelector('[data-testid="stApp"]');
  const messages = document.querySelectorAll('[data-testid="stChatMessage"]').length;
  return app !== null && messages >= n && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


def cli_cold_start(corpus: Path, index: Path, question: str, runs: int = 3) -> dict:
    """Wall seconds of `python -m assistant ask` (new process each run) and one run's phases."""
    argv = [sys.executable, "-m", "assistant", "ask", question, "--corpus", str(corpus), "--index", str(index)]
    walls = [timed_run(argv, env=bench_env()) for _ in range(runs)]
    phases = run_json_child(
        [sys.executable, "-m", "bench.app_start", "--phases", "--corpus", str(corpus), "--index", str(index), question]
    )
    return {
        "command": "python -m assistant ask QUESTION --corpus CORPUS --index INDEX",
        "runs_s": [round(w, 3) for w in walls],
        "median_s": round(statistics.median(walls), 3),
        "phases_s": phases["phases_s"],
        "phases_wall_s": phases["wall_s"],
    }


def _phases(corpus: Path, index: Path, question: str) -> dict:
    """The CLI's steps, timed one by one, in this (new) process."""
    phases = {}
    started = time.perf_counter()
    from assistant.config import Settings
    from assistant.engine import QuoteEngine
    from assistant.index import Index
    from assistant.ingest import is_stale

    phases["import_engine"] = time.perf_counter() - started
    settings = Settings(corpus_dir=corpus, index_dir=index)
    started = time.perf_counter()
    embedder = settings.embedder()
    stale = is_stale(settings, embedder)
    phases["staleness_check"] = time.perf_counter() - started
    started = time.perf_counter()
    engine = QuoteEngine(settings, Index.load(settings.index_dir), embedder)
    phases["open_index"] = time.perf_counter() - started
    started = time.perf_counter()
    embedder.encode(["warm-up"])
    phases["load_model"] = time.perf_counter() - started
    started = time.perf_counter()
    engine.ask(question)
    phases["first_ask"] = time.perf_counter() - started
    started = time.perf_counter()
    engine.ask(question)
    phases["second_ask"] = time.perf_counter() - started
    return {"phases_s": {name: round(value, 3) for name, value in phases.items()}, "stale": stale}


def browser_answers(app: Path, corpus: Path, index: Path, questions: list[str], warm_runs: int = 5) -> dict:
    """Streamlit cold start to first answer and warm submit-to-answer times; {'skipped': why} when not possible."""
    if not app.is_file():
        return {"skipped": f"{app.name} is not in the repository"}
    if not CHROMIUM.exists():
        return {"skipped": f"{CHROMIUM} is not installed (apt-get install chromium)"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "playwright is not installed in this environment"}
    port = _free_port()
    log_path = BENCH_DIR / "streamlit.log"
    env = bench_env(ASSISTANT_CORPUS=str(corpus), ASSISTANT_INDEX=str(index))
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        with open(log_path, "w") as streamlit_log:
            started = time.perf_counter()
            server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=streamlit_log, stderr=subprocess.STDOUT)
            try:
                screenshot = BENCH_DIR / f"app-answer-{Path(index).name}.png"
                return _drive(browser.new_page(), port, started, questions, warm_runs, screenshot)
            except Exception as error:  # the app is someone else's work in progress: report, do not crash
                tail = "\n".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])
                return {"skipped": f"the app did not answer: {str(error).splitlines()[0][:300]}", "log_tail": tail}
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                browser.close()


def _drive(page, port: int, started: float, questions: list[str], warm_runs: int, screenshot: Path) -> dict:
    """Open the app, ask the first question (cold), then the next ones (warm)."""
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            page.goto(url, timeout=5000)
            break
        except Exception:
            if time.perf_counter() - started > 120:
                raise
            time.sleep(0.1)
    page_loaded = time.perf_counter() - started
    box = page.locator('[data-testid="stChatInput"] textarea')
    box.wait_for(timeout=180_000)
    input_ready = time.perf_counter() - started
    _ask(page, box, questions[0])
    cold = time.perf_counter() - started
    _check_no_exception(page)
    page.screenshot(path=str(screenshot), full_page=True)
    warm = []
    for question in questions[1 : 1 + warm_runs]:
        submitted = time.perf_counter()
        _ask(page, box, question)
        warm.append(time.perf_counter() - submitted)
    _check_no_exception(page)
    return {
        "cold_to_first_answer_s": round(cold, 3),
        "page_loaded_s": round(page_loaded, 3),
        "chat_input_ready_s": round(input_ready, 3),
        "warm_s": [round(w, 3) for w in warm],
        "warm_median_s": round(statistics.median(warm), 3) if warm else None,
        "warm_max_s": round(max(warm), 3) if warm else None,
        "screenshot": str(screenshot.relative_to(REPO_ROOT)),
    }


def _ask(page, box, question: str) -> None:
    """Type a question, press Enter, and wait until its answer is drawn and the app's run is over."""
    before = page.locator('[data-testid="stChatMessage"]').count()
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(ANSWER_RENDERED, arg=before + 2, timeout=120_000)


def _check_no_exception(page) -> None:
    if page.locator('[data-testid="stException"]').count():
        raise BenchError(
            "the app showed an exception: " + page.locator('[data-testid="stException"]').first.inner_text()
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the CLI's start-up steps in one process.")
    parser.add_argument("--phases", action="store_true", required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("question")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    emit_json(_phases(args.corpus, args.index, args.question))
    return 0


if __name__ == "__main__":
    sys.exit(main())
