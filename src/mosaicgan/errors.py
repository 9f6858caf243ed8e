"""The one exception type users see as a one-line message (the CLI prints it, exits non-zero)."""

from __future__ import annotations

from pathlib import Path

# Exit status of a command that ran without error but found nothing to do (`add --faces` where
# no image has a face): scripts can tell it from success (0), bad input (2) and Ctrl-C (130).
NOTHING_DONE = 3


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a checkpoint), not a bug.

    The message is one line and names the file when there is one.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{path}: {message}" if path is not None else message)


class NothingFound(UserError):
    """The command ran as asked but found nothing to work on (no face in any photo): not bad
    input, not success. The CLI prints the line and exits with status 3 (`NOTHING_DONE`)."""


class ReportedElsewhere(Exception):
    """Another process of the same torchrun job reports how it ended (`ranks.Agreement`): this
    one exits with the same status and prints nothing."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"reported by rank 0 (exit status {status})")


def one_line(err: BaseException) -> str:
    """The user-facing line of an error.

    A DataLoader worker re-raises a UserError with the worker's traceback folded into the
    message; the last line of that text is the original message behind the class name.
    """
    text = str(err).strip()
    if "\n" not in text:
        return text
    last = text.splitlines()[-1]
    prefix = f"{UserError.__module__}.{UserError.__qualname__}: "
    return last[len(prefix):] if last.startswith(prefix) else last
