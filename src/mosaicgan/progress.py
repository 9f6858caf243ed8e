"""Progress of a long loop: tqdm's bar on a terminal; elsewhere (nohup, CI logs, a pipe) one
plain line every few seconds, so a long job is not silent until it ends:

    add: 120/400 img (30%), 3.2 img/s, ETA 1m27s

tqdm alone turns itself off when stderr is not a terminal (a redrawn bar makes a log
unreadable), which left such runs with no news at all. `LineProgress` has the part of tqdm's
interface the loops use (update, total, n, refresh, set_postfix, write, close), so a loop
takes either.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

LINE_EVERY = 5.0  # seconds between two lines


def duration(seconds: float) -> str:
    """12s, 1m27s, 2h03m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LineProgress:
    """done/total, rate and ETA as a line on `stream` every `every` seconds while it moves, and
    once more at the end when a line was printed before."""

    def __init__(self, total: int | None = None, *, desc: str = "", unit: str = "it", initial: int = 0,
                 every: float = LINE_EVERY, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.desc, self.unit, self.every = desc, unit, every
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.n = self.initial = initial
        self.start = self.last = clock()
        self.printed_n: int | None = None
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last >= self.every:
            self.emit()

    def refresh(self) -> None:
        """tqdm redraws here; a line only when one is due."""
        if self.clock() - self.last >= self.every:
            self.emit()

    def set_postfix(self, values: dict | None = None, refresh: bool = True, **kwargs) -> None:
        values = {**(values or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def line(self) -> str:
        elapsed = self.clock() - self.start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            text = f"{head}{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            text = f"{head}{self.n} {self.unit}"
        if rate > 0:
            text += f", {rate:.3g} {self.unit}/s" if rate >= 0.1 else f", {duration(1 / rate)}/{self.unit}"
            if self.total and self.n < self.total:
                text += f", ETA {duration((self.total - self.n) / rate)}"
        if not self.total:
            text += f", {duration(elapsed)} so far"
        elif self.n >= self.total:
            text += f" in {duration(elapsed)}"
        return f"{text} [{self.postfix}]" if self.postfix else text

    def emit(self) -> None:
        self.write(self.line())
        self.last = self.clock()
        self.printed_n = self.n

    def close(self) -> None:
        # A run short enough to print no line prints none at the end either (its command's
        # summary says it finished); a longer one gets its last figures.
        if self.printed_n is not None and self.n != self.printed_n:
            self.emit()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int | None, *, desc: str, quiet: bool = False, unit: str = "img", initial: int = 0,
                 stream: TextIO | None = None):
    """tqdm's bar when `stream` (stderr) is a terminal, `LineProgress` when it is not, and a
    silent tqdm with `quiet`."""
    from tqdm import tqdm

    stream = stream if stream is not None else sys.stderr
    if not quiet and not _is_terminal(stream):
        return LineProgress(total, desc=desc, unit=unit, initial=initial, stream=stream)
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=True if quiet else None,
                dynamic_ncols=True, file=stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
