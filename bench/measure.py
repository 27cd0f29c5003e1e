"""Measuring helpers shared by the benchmarks: percentiles, memory, and child processes that report JSON.

Measurements that must not share a process with earlier work (peak memory, a cold
start, another virtual environment) run as a child that prints one line
`BENCH-JSON {...}`; `run_json_child` starts it and returns that object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / ".bench"
JSON_PREFIX = "BENCH-JSON "


class BenchError(RuntimeError):
    """A benchmark step could not run; the message says which and why."""


def percentiles(seconds: Sequence[float]) -> dict:
    """p50, p95, mean, min and max in milliseconds (rounded to 0.01 ms) of timings given in seconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds, dtype=float) * 1000.0
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "mean_ms": round(float(ms.mean()), 2),
        "min_ms": round(float(ms.min()), 2),
        "max_ms": round(float(ms.max()), 2),
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB.

    Not ru_maxrss: Linux carries that over from the parent through fork and exec, so a
    child started by a big parent would report the parent's peak.
    """
    return _proc_status_mib("VmHWM:")


def current_rss_mib() -> float:
    """This process's resident memory now (VmRSS), in MiB."""
    return _proc_status_mib("VmRSS:")


def _proc_status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class MachineLoad:
    """How much CPU other processes used while a section ran, so contention is visible in the report.

    Machine-wide busy time comes from /proc/stat; this process's and its waited-for
    children's CPU time from os.times(); the difference, over the wall time, is the
    average number of cores that something else kept busy.
    """

    def __enter__(self) -> MachineLoad:
        self._busy, self._own, self._wall = _machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall
        others = (_machine_busy_seconds() - self._busy) - (_own_cpu_seconds() - self._own)
        self.others_cores = round(max(0.0, others) / wall, 2) if wall > 0 else 0.0
        self.wall_s = round(wall, 1)


def wait_until_quiet(max_wait_s: float = 120, busy_below: float = 0.25) -> float:
    """Wait (at most max_wait_s) until other processes use under `busy_below` cores; return what they used."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy = _machine_busy_seconds()
        time.sleep(2.0)
        cores = (_machine_busy_seconds() - busy) / 2.0
        if cores < busy_below or time.monotonic() > deadline:
            return round(cores, 2)


def _machine_busy_seconds() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: a busy machine makes every number here slower."""
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def stopwatch(into: dict, key: str):
    """Add the seconds spent in the block to into[key]."""
    started = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - started


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for children: offline hub, quiet tokenizers, the repository importable."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TRANSFORMERS_VERBOSITY="error",
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


def emit_json(data: dict) -> None:
    """Print the child's result where `run_json_child` will find it."""
    print(JSON_PREFIX + json.dumps(data), flush=True)


def run_json_child(argv: Sequence[str], env: dict | None = None, timeout: float = 1800, cwd: Path = REPO_ROOT) -> dict:
    """Run a child process and return the JSON object it emitted, with its wall time in `wall_s`.

    Raises BenchError when it fails, times out or emits nothing.
    """
    started = time.perf_counter()
    try:
        done = subprocess.run(
            list(argv), env=env or bench_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise BenchError(f"{' '.join(map(str, argv[:4]))} timed out after {timeout:.0f} s") from error
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(JSON_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{' '.join(map(str, argv[:4]))} exited {done.returncode}:\n{tail}")
    result = json.loads(lines[-1][len(JSON_PREFIX) :])
    result["wall_s"] = round(wall, 3)
    return result


def timed_run(argv: Sequence[str], env: dict | None = None, timeout: float = 600, cwd: Path = REPO_ROOT) -> float:
    """Wall seconds of one command, end to end. Raises BenchError when it fails."""
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=env or bench_env(), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise BenchError(f"{' '.join(map(str, argv[:5]))} exited {done.returncode}:\n{tail}")
    return wall


def log(message: str) -> None:
    """Progress on stderr, with the time of day, so a long run shows where it is."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
