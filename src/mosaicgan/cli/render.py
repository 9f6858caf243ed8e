"""How the CLI shows a job: progress bars while it runs (a `progress` callback for
`mosaicgan.jobs`), and the summary lines of its result afterwards. The jobs print nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from mosaicgan.cli.common import progress_bar
from mosaicgan.errors import printable
from mosaicgan.jobs import JobResult, Progress

LISTED = 10  # inputs named on stderr; a longer list goes to a file (add) or is cut


class ProgressBars:
    """A `progress` callback: one bar for a run of images (`desc`), one per video (its name)."""

    def __init__(self, *, desc: str, quiet: bool = False) -> None:
        self.desc, self.quiet = desc, quiet
        self.bar = None
        self.current: Path | None = None  # the video under way (None: images, or none yet)

    def __call__(self, event: Progress) -> None:
        if self.bar is None or event.input != self.current:
            self.close()
            self.current = event.input
            name = self.desc if event.input is None else printable(event.input.name)
            self.bar = progress_bar(event.total or 0, desc=name, quiet=self.quiet,
                                    unit="img" if event.unit == "image" else "frame")
        if event.total and self.bar.total != event.total:
            self.bar.total = event.total
        if event.done > self.bar.n:
            self.bar.update(event.done - self.bar.n)
        else:
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def say_resumable(bars: ProgressBars) -> None:
    """After Ctrl-C of a --resume job: the video under way keeps its finished segments."""
    if bars.current is not None:
        print(printable(f"{bars.current.name}: finished segments are kept; run the same command to continue"),
              file=sys.stderr)


def dropped_streams(result: JobResult) -> None:
    """The streams each output left out, and the other notes on it, a line each (names made
    printable: they come from outside)."""
    for item in result.items:
        for what in item.dropped_streams:
            print(printable(f"{item.input.name}: the output container cannot hold {what}; left out"),
                  file=sys.stderr)
        for note in item.notes:
            print(printable(f"{item.input.name}: {note}"), file=sys.stderr)


def names(paths: list[Path], *, limit: int = LISTED) -> str:
    listed = ", ".join(printable(p.name) for p in paths[:limit])
    return listed + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def write_listing(path: Path, inputs: list[Path]) -> Path:
    """Every input path, one a line, written atomically."""
    from mosaicgan.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{p}\n" for p in inputs))
    return path
