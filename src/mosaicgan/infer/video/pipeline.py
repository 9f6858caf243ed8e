"""The streaming loop of a video command: decode, process frames, encode, overlapping.

Three stages run at once: a thread decodes (and demuxes the audio and subtitle packets), the
calling thread runs the command's frame stage (`add`: find regions and mosaic, see
`video_mosaic`; `remove`: find mosaics and restore, see `video_restore`), a thread encodes and
muxes; PyAV releases the GIL while it codes. The queues between them are short, so memory
holds a few dozen frames whatever the video's length.

A frame stage is a callable `stage(frames, emit)`: `frames` yields (index, pts, frame) in
display order, frame (H, W, 3) uint8 or uint16, upright; the stage calls
`emit(pts, frame, changed)` once per frame, in order (it may hold a few frames back to look
ahead), with changed=True where it put a region into the frame.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mosaicgan.errors import UserError
from mosaicgan.infer.video.decode import VideoInput
from mosaicgan.infer.video.encode import VideoOutput

END = object()  # the end of a queue's items

Emit = Callable[[int, np.ndarray, bool], None]
Stage = Callable[[Iterator[tuple[int, int, np.ndarray]], Emit], None]


@dataclass
class VideoResult:
    """frames written; frames_with_region: frames the stage changed; seconds: busy time per
    stage (the stages overlap, so they may add up to more than the wall time); regions: what
    the stage reports for provenance (remove: the regions restored). faces: `remove` saw a
    restored region that looks like a face (`restored_faces.FaceWatch`). notes: what the user
    should be told about the output in a line each (a second video stream left out)."""

    frames: int = 0
    frames_with_region: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "find": 0.0, "encode": 0.0})
    dropped_streams: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = True  # False: no frame had a region (nothing found), so no file
    faces: bool = False
    locked: dict | None = None  # add --lock-to: {"sealed_bytes", "sidecar"} (infer/lock/video.py)

    def add_time(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds


def run_pipeline(src: VideoInput, sink: VideoOutput, *, stage: Stage, path: Path, result: VideoResult, progress,
                 skip: int = 0, queue_size: int = 16) -> None:
    """Decode `src`, pass its frames through `stage`, encode into `sink` (frames and the other
    streams' packets). skip: the first frames are decoded but not given (a resumed job)."""
    decoded: queue.Queue = queue.Queue(maxsize=queue_size)
    encoded: queue.Queue = queue.Queue(maxsize=16)
    packets: queue.Queue = queue.Queue()  # audio/subtitle packets: small, and drained by the encoder
    stop = threading.Event()  # set on any failure: every stage winds down
    # Set with `stop`, and alone on Ctrl-C: decoding ends, while the writer still encodes the
    # frames already processed (a resumable job keeps every segment they complete).
    decode_stop = threading.Event()
    writer_stop = threading.Event()  # set once the loop put its last frame, or gave up
    errors: list[BaseException] = []

    def decode() -> None:
        try:
            t0 = time.perf_counter()
            for item in src.frames(on_packet=packets.put, skip=skip):
                result.seconds["decode"] += time.perf_counter() - t0
                if not put_unless(decoded, item, decode_stop):
                    return
                t0 = time.perf_counter()
        except BaseException as err:  # noqa: BLE001  (handed to the main thread)
            errors.append(err)
        finally:
            put_unless(decoded, END, decode_stop)

    def write() -> None:
        try:
            first = True
            while True:
                item = get_until(encoded, writer_stop)
                if item is END or stop.is_set():
                    break
                t0 = time.perf_counter()
                pts, frame, changed = item
                if first:
                    sink.shift(pts if src.start > 0 else 0)
                    first = False
                sink.write(pts, frame, changed=changed)
                while True:
                    try:
                        sink.write_packet(packets.get_nowait())
                    except queue.Empty:
                        break
                result.seconds["encode"] += time.perf_counter() - t0
            if first and src.start > 0:
                sink.shift(0)
            while not packets.empty():
                sink.write_packet(packets.get_nowait())
        except BaseException as err:  # noqa: BLE001  (handed to the main thread)
            errors.append(err)
            stop.set()
            decode_stop.set()

    threads = [threading.Thread(target=decode, daemon=True), threading.Thread(target=write, daemon=True)]

    def frames() -> Iterator[tuple[int, int, np.ndarray]]:
        index = skip
        while not stop.is_set():
            item = get_until(decoded, stop)
            if item is END:
                return
            yield (index, *item)
            index += 1

    def emit(pts: int, frame: np.ndarray, changed: bool) -> None:
        result.frames += 1
        result.frames_with_region += int(changed)
        put_unless(encoded, (pts, frame, changed), stop)
        if progress is not None:
            progress.update(1)

    try:
        # Started inside the try: a Ctrl-C (or SIGTERM) that lands while a thread starts still
        # stops and joins both. A thread left running would read or write a container that
        # the caller closes next (a segmentation fault, seen about 1 in 6 such interrupts).
        for t in threads:
            t.start()
        stage(frames(), emit)
    except KeyboardInterrupt:
        decode_stop.set()
        raise
    except BaseException:
        stop.set()
        decode_stop.set()
        raise
    finally:
        # The writer finishes what is queued, unless something failed (then it just stops).
        put_unless(encoded, END, stop)
        writer_stop.set()
        join_all(threads, stops=(stop, decode_stop, writer_stop))
    if errors:
        raise errors[0]
    if result.frames == 0 and not skip:
        raise UserError("no frames to write (the video is empty, or --start is past its end)", path=path)


@contextlib.contextmanager
def torch_threads(count: int):
    """torch's intra-op threads set to `count` for a block (then put back): for a pipeline
    whose stages already keep the cores busy side by side."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def join_all(threads: list[threading.Thread], *, stops: tuple[threading.Event, ...]) -> None:
    """Join every started thread, even through a second Ctrl-C (which stops them all at once,
    then is raised once they have ended)."""
    interrupted: BaseException | None = None
    for t in threads:
        while t.ident is not None and t.is_alive():
            try:
                t.join()
            except KeyboardInterrupt as err:
                for event in stops:
                    event.set()
                interrupted = err
    if interrupted is not None:
        raise interrupted


def put_unless(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put, waiting while the queue is full, unless `stop` is set (then False)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def get_until(q: queue.Queue, stop: threading.Event):
    """Get, waiting while the queue is empty; END once it is empty and `stop` is set."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return END
