"""The latency plot: ask() p50 and p95 against corpus size, exact and approximate index, with the floor."""

from __future__ import annotations

from pathlib import Path

TARGET_200K_MS = 50


def plot_latency(configs: list[dict], path: Path) -> str | None:
    """Draw docs/latency.png from the latency configs; return None, or why the plot was skipped."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed in .venv: pip install -r bench/requirements.txt"
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    colours = {"flat": "tab:blue", "hnsw": "tab:orange"}
    for kind, label in (("flat", "exact (flat)"), ("hnsw", "approximate (HNSW)")):
        rows = sorted((c for c in configs if c["kind"] == kind and "hybrid" in c), key=lambda c: c["passages"])
        if not rows:
            continue
        sizes = [c["passages"] for c in rows]
        axes.plot(sizes, [c["hybrid"]["p50_ms"] for c in rows], "o-", color=colours[kind], label=f"ask() p50, {label}")
        axes.plot(
            sizes,
            [c["hybrid"]["p95_ms"] for c in rows],
            "o--",
            color=colours[kind],
            alpha=0.6,
            label=f"ask() p95, {label}",
        )
    floors = sorted((c["passages"], c["floor"]["p50_ms"]) for c in configs if "floor" in c and c["kind"] == "flat")
    if floors:
        axes.plot(
            [s for s, _ in floors],
            [f for _, f in floors],
            "s:",
            color="tab:gray",
            label="question embedding alone, p50 (floor)",
        )
    axes.axhline(TARGET_200K_MS, color="tab:red", linewidth=0.8, linestyle="-.", label="50 ms target at 200k")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("passages in the index (log)")
    axes.set_ylabel("milliseconds (log)")
    axes.set_title("ask() latency against corpus size (hybrid, top_k=5, 2 CPU cores)")
    axes.grid(True, which="both", alpha=0.25)
    axes.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return None
