"""The one exception type users see as a one-line message (the CLI prints it, exits non-zero)."""

from __future__ import annotations

import os
import re
from pathlib import Path

# What a terminal would act on instead of showing: C0 and C1 control characters (escape
# sequences start with ESC or CSI), DEL, the line and paragraph separators, Unicode's
# bidirectional overrides and isolates (which reorder the rest of the line), and the
# surrogates Python uses for the bytes of a file name that are not UTF-8.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of the name that is not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(name: str | os.PathLike) -> str:
    """A file name (or any text from outside) as it may be printed: every character a terminal
    would act on rather than show is written as a Python-style escape (`\\x1b`, `\\n`), so a
    crafted name can neither move the cursor, clear the screen, nor fake a line of output.
    Printable text, backslashes included, is left as it is, so applying it twice changes nothing."""
    return _UNPRINTABLE.sub(_escape, os.fspath(name) if isinstance(name, os.PathLike) else str(name))


# Exit status of a command that ran without error but found nothing to do (`add --faces` where
# no image has a face): scripts can tell it from success (0), bad input (2) and Ctrl-C (130).
NOTHING_DONE = 3


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a checkpoint), not a bug.

    The message is one line and names the file when there is one.
    """

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        super().__init__(f"{printable(path)}: {message}" if path is not None else message)


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
