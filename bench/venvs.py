"""Separate virtual environments for the peer and the ONNX backend, under .bench/ (not committed).

Each is made from a pinned requirements file in bench/. torch==2.13.0 is installed on
its own first, so pip takes the machine's local CPU wheel; the rest is installed with
torch held at that version by a constraint, and the result is checked for CUDA
packages. An environment is rebuilt only when its requirements file changes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from bench.measure import BENCH_DIR, BenchError, log

TORCH = "torch==2.13.0"


def ensure_venv(name: str, requirements: Path) -> Path:
    """The python of .bench/NAME, created or updated from `requirements`. Raises BenchError on failure."""
    venv = BENCH_DIR / name
    python = venv / "bin" / "python"
    stamp = venv / ".bench-requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    log(f"venv: setting up {venv} from {requirements.name} (a few minutes, once)")
    if not python.exists():
        base = getattr(sys, "_base_executable", None) or sys.executable
        _run([base, "-m", "venv", str(venv)])
    constraint = venv / "torch-constraint.txt"
    constraint.write_text(TORCH + "\n")
    _run([str(python), "-m", "pip", "install", "--quiet", TORCH])
    _run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements), "-c", str(constraint)])
    installed = installed_packages(python)
    cuda = sorted(name for name in installed if name.startswith("nvidia-") or name.startswith("cuda-"))
    if cuda or not installed.get("torch", "").startswith("2.13.0"):
        raise BenchError(f"{venv} resolved to a CUDA or different torch ({installed.get('torch')}, {cuda[:3]})")
    stamp.write_text(digest + "\n")
    return python


def installed_packages(python: Path) -> dict[str, str]:
    """Every package in an environment and its version (what actually resolved)."""
    done = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    return {row["name"].lower(): row["version"] for row in json.loads(done.stdout)}


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines() if "is ignored" not in line)[-1500:]
        raise BenchError(f"{' '.join(argv[:6])} failed:\n{tail}")
