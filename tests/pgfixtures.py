"""PostgreSQL fixtures: one local server for the test session (assistant.localpg), a fresh database per test.

Registered in tests/conftest.py. They never skip: when the server cannot start, the tests that need it fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from assistant import localpg


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localpg.LocalServer]:
    """The session's local PostgreSQL server, in a temporary data folder; stopped when the session ends."""
    with localpg.start(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: localpg.LocalServer) -> Iterator[str]:
    """The URL of a database of its own, with the extensions vector and pg_trgm; dropped after the test."""
    with fresh_database(postgres_server) as url:
        yield url


@contextmanager
def fresh_database(server: localpg.LocalServer) -> Iterator[str]:
    """Create an empty database `test_<random hex>` with the extensions, yield its URL, then drop it."""
    database = f"test_{uuid.uuid4().hex}"
    name = sql.Identifier(database)
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        url = server.url_for(database)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE EXTENSION vector")
            connection.execute("CREATE EXTENSION pg_trgm")
        yield url
    finally:
        # FORCE ends connections a test left open, which would otherwise block the drop.
        with psycopg.connect(server.url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
