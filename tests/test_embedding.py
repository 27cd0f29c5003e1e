"""Embedding backends: which one a CPU gets, ONNX exports made once and atomically, vectors that agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings, model_for
from assistant.embedding import SentenceTransformerEmbedder, export_onnx, int8_config, resolve_backend
from assistant.errors import EmbeddingError
from assistant.index import Index
from assistant.ingest import ingest


@pytest.mark.parametrize(
    ("flags", "machine", "config"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, "x86_64", "avx2"),
        ({"avx2", "avx512f"}, "x86_64", "avx2"),
        ({"avx2"}, "x86_64", "avx2"),
        ({"sse4_2"}, "x86_64", None),
        (set(), "aarch64", "arm64"),
    ],
)
def test_int8_config_is_one_format_for_every_x86_cpu(flags, machine, config) -> None:
    assert int8_config(flags, machine) == config


def test_backend_names_are_checked_and_made_concrete(monkeypatch) -> None:
    monkeypatch.setattr("assistant.embedding.int8_config", lambda: "avx2")
    assert resolve_backend("auto") == "onnx-int8-avx2"
    assert resolve_backend("onnx-int8") == "onnx-int8-avx2"
    assert resolve_backend("torch") == "torch"
    monkeypatch.setattr("assistant.embedding.int8_config", lambda: None)
    assert resolve_backend("auto") == "onnx"
    with pytest.raises(EmbeddingError, match="ASSISTANT_BACKEND=onnx"):
        resolve_backend("onnx-int8")
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("gpu")
    with pytest.raises(ValueError, match="backend must be one of"):
        Settings(backend="tensorflow")


def test_an_index_from_another_backend_is_rebuilt_not_mixed(settings, fake_embedder) -> None:
    fake_embedder.backend = "torch"
    ingest(settings, fake_embedder)
    fake_embedder.backend = "onnx-int8-avx2"
    report = ingest(settings, fake_embedder)
    assert report.rebuilt == "embedding backend changed (torch -> onnx-int8-avx2)"
    assert Index.load(settings.index_dir).manifest["backend"] == "onnx-int8-avx2"


def test_a_failed_export_is_a_clear_error_and_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    class DiskFullDuringSave:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def save_pretrained(self, path: str) -> None:
            (Path(path) / "onnx").mkdir(parents=True)
            (Path(path) / "onnx" / "model.onnx").write_bytes(b"half an export")
            raise OSError("No space left on device")

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr("sentence_transformers.SentenceTransformer", DiskFullDuringSave)
    with pytest.raises(EmbeddingError, match="No space left on device.*ASSISTANT_BACKEND=torch"):
        export_onnx(Settings().model, "onnx", cache)
    assert list(cache.iterdir()) == [], "no half-written export is left to be mistaken for a good one"


@pytest.mark.integration
def test_int8_onnx_vectors_agree_with_the_shipped_model(tmp_path) -> None:
    texts = [
        "Which organizations launched the event on Xinjiang?",
        "The Xinjiang-related issues are not about human rights.",
        "What is the capital of Australia?",
    ]
    torch_vectors = SentenceTransformerEmbedder(Settings().model, backend="torch").encode(texts)
    int8 = SentenceTransformerEmbedder(Settings().model, backend="auto", cache=tmp_path)
    vectors = int8.encode(texts)

    assert vectors.shape == torch_vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert (np.sum(vectors * torch_vectors, axis=1) > 0.95).all()
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.onnx"))
    assert len(made) == (2 if int8.backend.startswith("onnx-int8") else 1), made
    again = SentenceTransformerEmbedder(Settings().model, backend="auto", cache=tmp_path)
    assert np.array_equal(again.encode(texts), vectors), "the cached export is reused, not redone"


@pytest.mark.integration
@pytest.mark.parametrize("config", ["avx2", "avx512_vnni", "arm64"])
def test_every_int8_config_exports_a_model_the_embedder_loads(tmp_path, config) -> None:
    # avx2's export is named model_quint8_avx2.onnx (unsigned weights), the others model_qint8_*: a machine
    # without AVX-512 could not build an index when only the second name was looked for.
    minilm = model_for("all-MiniLM-L6-v2")
    folder, file_name = export_onnx(minilm, f"onnx-int8-{config}", tmp_path)
    assert (folder / file_name).is_file() and config in file_name
    texts = ["Which organizations launched the event on Xinjiang?", "What is the capital of Australia?"]
    reference = SentenceTransformerEmbedder(minilm, backend="torch").encode(texts)
    from sentence_transformers import SentenceTransformer

    exported = SentenceTransformer(str(folder), device="cpu", backend="onnx", model_kwargs={"file_name": file_name})
    vectors = exported.encode(texts, normalize_embeddings=True)
    assert (np.sum(vectors * reference, axis=1) > 0.95).all()
