"""The machine and software a benchmark ran on, read from /proc and the installed packages."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from bench.measure import REPO_ROOT, load_average

PACKAGES = (
    "torch",
    "sentence-transformers",
    "transformers",
    "onnxruntime",
    "optimum-onnx",
    "faiss-cpu",
    "numpy",
    "streamlit",
    "playwright",
)


def describe_machine() -> dict:
    """Cores, memory, CPU model and vector extensions, Python and package versions, date, engine source hash."""
    cpuinfo = _cpuinfo()
    flags = set(cpuinfo.get("flags", "").split())
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "ram_gib": round(_mem_total_kib() / 1024 / 1024, 1),
        "cpu_model": cpuinfo.get("model name", "unknown"),
        "cpu_extensions": sorted(
            f for f in flags if f in {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8"}
        ),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "torch_threads": _torch_threads(),
        "load_average_at_start": load_average(),
        "engine_source_sha256": engine_source_hash(),
        "git_commit": _git_commit(),
    }


def engine_source_hash() -> str:
    """A short hash of assistant/*.py, so numbers can be tied to the engine code they measured."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "assistant").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _cpuinfo() -> dict:
    """The first processor's fields from /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def _git_commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None
