"""The exceptions the engine raises; the command line and the app word them for people."""


class AssistantError(Exception):
    """Base class: every message is written to be shown to a user as it is."""


class QuestionError(AssistantError, ValueError):
    """The question cannot be searched (empty, or too long)."""


class CorpusError(AssistantError):
    """The corpus folder is missing or holds no readable document."""


class IndexMissingError(AssistantError):
    """No index has been built in the index folder yet."""


class IndexCorruptError(AssistantError):
    """The index on disk is partial, damaged or from an incompatible build."""


class NotAnIndexError(AssistantError):
    """The index folder holds other files and no index, so nothing is written there."""


class IndexBusyError(AssistantError):
    """Another process held the index's lock for longer than the configured wait."""


class EmbeddingError(AssistantError):
    """The embedding model could not be loaded or exported for the chosen backend."""


class UnknownDocumentError(AssistantError, KeyError):
    """A document id that is not in the index."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class RerankerError(AssistantError):
    """The question–sentence model could not be loaded (a missing or damaged file, named in the message)."""


class QuotationError(AssistantError, ValueError):
    """A quotation that cannot be checked (empty, too long), or an attribution that cannot be read."""
