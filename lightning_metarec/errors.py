"""User-facing errors: one line naming the file, column or value and what to do."""

__all__ = ["DataError", "LeakageError", "MetaRecError"]


class MetaRecError(Exception):
    """Base class of errors caused by user input (config or data), not by a bug.

    The CLI prints ``str(error)`` as one line and exits with status 2 instead of a traceback.
    """


class DataError(MetaRecError, ValueError):
    """A data file, column or value cannot be used; the message says which and what to do."""


class LeakageError(MetaRecError, RuntimeError):
    """The split would leak evaluation interactions into training (a bug or a bad custom split)."""
