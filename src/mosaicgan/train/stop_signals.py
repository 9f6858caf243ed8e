"""Ctrl-C and SIGTERM during training: finish the current step, save, stop; a second one stops at once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While active, the first SIGINT/SIGTERM only sets `signum` (the loop saves and returns);
    the next one raises KeyboardInterrupt where the process is, as an unhandled Ctrl-C would.

    Outside the main thread Python cannot install handlers; then it does nothing.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._pid = os.getpid()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            # A DataLoader worker forked with this handler: Ctrl-C reaches the whole process
            # group, and the main process alone decides when the workers end.
            return
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        name = signal.Signals(signum).name
        print(f"\nmosaicgan: {name} received: saving a checkpoint after this iteration "
              "(press Ctrl-C again to stop at once, without saving)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopSignals:
        self._pid = os.getpid()
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
