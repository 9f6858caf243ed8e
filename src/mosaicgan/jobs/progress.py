"""How a job tells its caller how far it is, and how the caller stops it.

`progress`: a callable that receives a `Progress` after each image and each video frame (from
the job's own thread). `cancel`: a callable polled as often; once it returns True the job
raises `Cancelled` at the next image or frame. Outputs already finished stay (each was
written atomically); the one under way is not written (its temporary file is removed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class Cancelled(Exception):
    """The caller's `cancel()` returned True: the job stopped between two images or frames."""


@dataclass(frozen=True)
class Progress:
    """input: the video being worked on (None for a run of images); done, total: images or
    frames (total None while a video's length is unknown); unit: "image" or "frame"."""

    input: Path | None
    done: int
    total: int | None
    unit: str

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)


OnProgress = Callable[[Progress], None]
Cancel = Callable[[], bool]


class Ticker:
    """What the image and video loops count on (the `update(n)`, `total` and `refresh()` of a
    tqdm bar, which the loops were written against): each tick tells `progress` and polls
    `cancel`."""

    def __init__(self, *, input: Path | None, unit: str, total: int | None = None,
                 progress: OnProgress | None = None, cancel: Cancel | None = None) -> None:
        self.input, self.unit, self.total = input, unit, total
        self.done = 0
        self.progress, self.cancel = progress, cancel

    def update(self, n: int = 1) -> None:
        self.done += n
        self.refresh()

    def refresh(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled
        if self.progress is not None:
            self.progress(Progress(input=self.input, done=self.done, total=self.total or None, unit=self.unit))
