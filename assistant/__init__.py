"""Quote-first question answering: every answer is verbatim passages from the corpus, cited."""

__version__ = "0.1.0"
