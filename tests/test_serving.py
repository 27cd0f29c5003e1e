"""How `make run` serves the app: this machine only by default, the network when asked; no look-ups, no details."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.apphelpers import REPO, free_port

CONFIG = REPO / ".streamlit" / "config.toml"


def this_machines_address() -> str | None:
    """An address of this machine other than loopback (the route out; nothing is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: connecting a UDP socket only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def make_run(tmp_path: Path, **variables: str) -> subprocess.Popen:
    """Start the command `make run` runs (read with `make -n`, so nothing is installed) on a tmp corpus."""
    assignments = [f"{name}={value}" for name, value in variables.items()]
    # --no-print-directory: under `make test` this make is nested and would add "make[1]: Leaving directory".
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "run", *assignments],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    command = shlex.split(planned.stdout.strip().splitlines()[-1])
    assert command[:3] == [".venv/bin/streamlit", "run", "app.py"]
    env = {**os.environ, "ASSISTANT_CORPUS": str(tmp_path / "corpus"), "ASSISTANT_INDEX": str(tmp_path / "index")}
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def healthy(host: str, port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "streamlit exited"
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"streamlit did not answer on {host}:{port}")


def refuses(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) != 0


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def test_the_config_keeps_the_app_private_and_quiet() -> None:
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["server"]["address"] == "localhost"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"] == {"showErrorDetails": "none", "toolbarMode": "viewer"}


def test_make_run_serves_this_machine_only_and_looks_nothing_up(tmp_path: Path) -> None:
    port, outside = free_port(), this_machines_address()
    server = make_run(tmp_path, PORT=str(port))
    try:
        healthy("127.0.0.1", port, server)
        if outside is not None:
            assert refuses(outside, port), f"reachable on {outside}"
    finally:
        stop(server)
    banner = (tmp_path / "streamlit.log").read_text(errors="replace")
    assert f"URL: http://localhost:{port}" in banner
    assert "External URL" not in banner and "Network URL" not in banner
    assert "Did not auto detect external IP" not in banner  # what a failed look-up logs (offline)


def test_make_run_with_host_serves_the_network_without_an_external_ip_look_up(tmp_path: Path) -> None:
    outside = this_machines_address()
    if outside is None:
        pytest.skip("this machine has no address but loopback")
    port = free_port()
    server = make_run(tmp_path, PORT=str(port), HOST="0.0.0.0")
    try:
        healthy(outside, port, server)
    finally:
        stop(server)
    banner = (tmp_path / "streamlit.log").read_text(errors="replace")
    assert f"URL: http://{socket.gethostname()}:{port}" in banner
    # Either would mean Streamlit asked checkip.amazonaws.com for this machine's address (online, offline).
    assert "External URL" not in banner and "Did not auto detect external IP" not in banner
