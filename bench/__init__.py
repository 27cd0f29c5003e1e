"""Benchmarks of the quote engine: ingest, ask() latency, memory, app start and a LangChain peer.

Run `python -m bench.run` (or `make bench`); it writes docs/benchmarks.md, docs/benchmarks.json
and docs/latency.png. Working files (corpus copies, indexes, virtual environments) go to
.bench/, which is not committed.
"""
