"""Errors the command line reports as one ``error: ...`` line, and its exit codes."""

from __future__ import annotations

__all__ = [
    "EXIT_BROKEN_PIPE", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_TERMINATED", "EXIT_USAGE", "CliError",
    "Propagate",
    "is_user_error",
]

#: Everything went fine.
EXIT_OK = 0
#: A run failed, or ``validate`` found invalid definitions.
EXIT_FAILURE = 1
#: Bad arguments, an unloadable TARGET, a malformed ``rivers.toml``, a rivers error before any run.
EXIT_USAGE = 2
#: Interrupted with Ctrl-C (SIGINT); the run is recorded as canceled.
EXIT_INTERRUPTED = 130
#: The reader of the output went away (``rivers runs | head``): 128 + SIGPIPE, as the shell reports it.
EXIT_BROKEN_PIPE = 141
#: Stopped by SIGTERM; the run is recorded as canceled (reason "terminated").
EXIT_TERMINATED = 143


class CliError(Exception):
    """A mistake reported without a Python traceback (unless ``--traceback``).

    :param message: The complete message, printed after ``error:``.
    :param exit_code: The process exit code (default :data:`EXIT_USAGE`).
    :param details: Extra lines printed under the message (e.g. where user
        code raised).
    """

    def __init__(self, message: str, *, exit_code: int = EXIT_USAGE, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.details = details


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is one of the exceptions of :mod:`rivers.exceptions` (a user mistake)."""
    from rivers import exceptions

    classes = tuple(getattr(exceptions, name) for name in exceptions.__all__)
    return isinstance(error, classes)


class Propagate(Exception):
    """Asks the dispatcher to re-raise ``error`` unchanged (``materialize --raise``)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
