"""Quote-first question answering: every answer is verbatim passages from the corpus, cited."""

import os

__version__ = "0.1.0"

# Nothing is fetched at run time: both models are local files. Set before any Hugging Face library is
# imported, so that a missing file is an error rather than a download, and no telemetry is sent.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
