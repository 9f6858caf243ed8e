"""The streaming loop of `add` on a video: decode, find regions, mosaic, encode, overlapping.

Three stages run at once: a thread decodes (and demuxes the audio and subtitle packets), the
calling thread finds regions and mosaics, a thread encodes and muxes; PyAV releases the GIL
while it codes. The queues between them are short, so memory holds a few dozen frames
whatever the video's length.

A mask file or boxes say where, so they are found once and used for every frame. Faces (and
CAM) are searched every `detect_every` frames, a batch at a time (`RegionFinder.find_batch`
where the finder has one), on a copy scaled to `detect_side`, and pass through
`steady.Steadier`, which tracks the boxes, smooths them and bridges short misses. A frame
gets the mosaic of `mosaic_core.mosaic_image`, run on the part of the frame that the
region's blocks cover (`mosaic_frame`: the result is the whole-frame result, because the crop
starts on a block line and reaches past the grow, feather and blur margins).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.errors import UserError
from mosaicgan.infer.mosaic_core import MosaicOptions, block_for, mosaic_generator, mosaic_image
from mosaicgan.infer.region_finder import RegionFinder
from mosaicgan.infer.steady import BlockHold, Steadier
from mosaicgan.infer.video_io import VideoInput, VideoOutput
from mosaicgan.ops.masks import Box, boxes_to_mask, mask_to_boxes

_END = object()


@dataclass(frozen=True)
class SteadyOptions:
    """window: frames either side that smooth a box (0: none). bridge: a region is kept for
    this many frames before and after it was seen, so misses of up to 2 x bridge frames in a
    row are covered. detect_every: search 1 frame in N (the others come from the tracks).
    batch: frames per call of the detector. detect_side: search a copy of the frame scaled so
    its long side is at most this (0: full size; faster, but faces under about
    min-face x frame/detect_side pixels are missed). steady=False: each frame's own region."""

    steady: bool = True
    window: int = 4
    bridge: int = 4
    detect_every: int = 1
    batch: int = 8
    detect_side: int = 0

    def check(self) -> None:
        if self.window < 0 or self.bridge < 0:
            raise UserError(f"--window and --bridge must be >= 0, got {self.window} and {self.bridge}")
        if self.detect_every < 1 or self.batch < 1:
            raise UserError("--detect-every and the batch size must be >= 1")
        if self.detect_side < 0 or 0 < self.detect_side < 64:
            raise UserError(f"--detect-side must be 0 (full size) or at least 64 pixels, got {self.detect_side}")


@dataclass
class VideoResult:
    frames: int = 0
    frames_with_region: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "find": 0.0, "mosaic": 0.0,
                                                                 "encode": 0.0})
    dropped_streams: list[str] = field(default_factory=list)
    written: bool = True  # False: no frame had a region (faces/CAM found nothing), so no file

def mosaic_frame(frame: np.ndarray, mask: torch.Tensor, *, options: MosaicOptions,
                 generator: torch.Generator | None = None) -> np.ndarray:
    """`mosaic_image` on an array frame (H, W, 3) uint8/uint16, in place, computing only the
    crop that the region's blocks, grow, feather and blur reach. mask: (H, W) in [0, 1]."""
    box = _bbox(mask)
    if box is None:
        return frame
    height, width = frame.shape[:2]
    block = options.block if options.block is not None else None
    margin = max(options.grow, 0) + options.feather
    if block is None:
        gy0, gx0 = max(0, box.y0 - margin), max(0, box.x0 - margin)
        block = block_for(mask[gy0:box.y1 + margin, gx0:box.x1 + margin], options)
    if options.style == "blur":
        margin += math.ceil(1.5 * block) + 1
    # Out to block lines (the mosaic grid starts at the frame's corner), so every block the
    # region meets is whole in the crop.
    y0 = (max(0, box.y0 - margin) // block) * block
    x0 = (max(0, box.x0 - margin) // block) * block
    y1 = min(height, -(-(box.y1 + margin) // block) * block)
    x1 = min(width, -(-(box.x1 + margin) // block) * block)
    crop = frame[y0:y1, x0:x1]
    scale = 255.0 if frame.dtype == np.uint8 else 65535.0
    tensor = torch.from_numpy(crop).permute(2, 0, 1).float().mul_(2.0 / scale).sub_(1.0)
    out = mosaic_image(tensor, mask[y0:y1, x0:x1], options=replace(options, block=block), generator=generator)
    back = out.add_(1.0).mul_(scale / 2.0).round_().clamp_(0, scale).permute(1, 2, 0)
    frame[y0:y1, x0:x1] = back.numpy().astype(frame.dtype)
    return frame


def _bbox(mask: torch.Tensor) -> Box | None:
    m = mask.numpy() > 0
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _find_many(finder: RegionFinder, frames: list[np.ndarray], path: Path, *, side: int = 0) -> list[torch.Tensor]:
    """The finder's masks for frames (H, W, 3), at the frames' size; searched at `side`."""
    if not frames:
        return []
    height, width = frames[0].shape[:2]
    scale = side / max(height, width) if side else 1.0
    small = []
    for f in frames:
        f = f if f.dtype == np.uint8 else (f >> 8).astype(np.uint8)
        if scale < 1.0:
            f = cv2.resize(f, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        small.append(f)
    find_batch = getattr(finder, "find_batch", None)  # a batched detector, where the finder has one
    regions = find_batch(small, path=path) if find_batch else [finder.find(f, path=path) for f in small]
    masks = [r.mask for r in regions]
    if scale < 1.0:
        masks = [F.interpolate(m[None, None], size=(height, width), mode="nearest")[0, 0] for m in masks]
    return masks

def run_pipeline(src: VideoInput, sink: VideoOutput, *, finder: RegionFinder, options: MosaicOptions,
         steady: SteadyOptions, path: Path, result: VideoResult, progress, skip: int = 0) -> None:
    info = src.info
    decoded: queue.Queue = queue.Queue(maxsize=max(16, 2 * steady.batch))
    encoded: queue.Queue = queue.Queue(maxsize=16)
    packets: queue.Queue = queue.Queue()  # audio/subtitle packets: small, and drained by the encoder
    stop = threading.Event()  # set on any failure: every stage winds down
    writer_stop = threading.Event()  # set once the loop put its last frame, or gave up
    errors: list[BaseException] = []

    def decode() -> None:
        try:
            t0 = time.perf_counter()
            for item in src.frames(on_packet=packets.put, skip=skip):
                result.seconds["decode"] += time.perf_counter() - t0
                if not _put(decoded, item, stop):
                    return
                t0 = time.perf_counter()
        except BaseException as err:  # noqa: BLE001  (handed to the main thread)
            errors.append(err)
        finally:
            _put(decoded, _END, stop)

    def write() -> None:
        try:
            first = True
            while True:
                item = _get(encoded, writer_stop)
                if item is _END or stop.is_set():
                    break
                t0 = time.perf_counter()
                pts, frame = item
                if first:
                    sink.shift(pts if src.start > 0 else 0)
                    first = False
                sink.write(pts, frame)
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

    threads = [threading.Thread(target=decode, daemon=True), threading.Thread(target=write, daemon=True)]
    for t in threads:
        t.start()

    def emit(pts: int, frame: np.ndarray, mask: torch.Tensor | None, index: int) -> None:
        t0 = time.perf_counter()
        if mask is not None:
            generator = mosaic_generator(options, f"{path.name}#{index}")
            frame = mosaic_frame(frame, mask, options=options_for(mask), generator=generator)
            result.frames_with_region += 1
        result.seconds["mosaic"] += time.perf_counter() - t0
        result.frames += 1
        _put(encoded, (pts, frame), stop)
        if progress is not None:
            progress.update(1)

    hold = BlockHold()

    def options_for(mask: torch.Tensor) -> MosaicOptions:
        if options.block is not None or not steady.steady:
            return options
        box = _bbox(mask)
        grow = max(options.grow, 0)
        sub = mask[max(0, box.y0 - grow):box.y1 + grow, max(0, box.x0 - grow):box.x1 + grow]
        return replace(options, block=hold(block_for(sub, options)))

    try:
        if finder.detected:
            _detected(decoded, finder=finder, steady=steady, info_size=(info.width, info.height), path=path,
                      emit=emit, result=result, stop=stop, first=skip)
        else:
            fixed = None
            index = skip
            while not stop.is_set():
                item = _get(decoded, stop)
                if item is _END:
                    break
                if fixed is None:
                    t0 = time.perf_counter()
                    fixed = finder.find(torch.zeros(3, 1, 1).expand(3, item[1].shape[0], item[1].shape[1]),
                                        path=path).mask
                    result.seconds["find"] += time.perf_counter() - t0
                emit(item[0], item[1], fixed, index)
                index += 1
    except BaseException:
        stop.set()
        raise
    finally:
        # The writer finishes what is queued, unless something failed (then it just stops).
        _put(encoded, _END, stop)
        writer_stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    if result.frames == 0 and not skip:
        raise UserError("no frames to write (the video is empty, or --start is past its end)", path=path)


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put, waiting while the queue is full, unless `stop` is set (then False)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    """Get, waiting while the queue is empty; _END once it is empty and `stop` is set."""
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return _END


def _detected(decoded: queue.Queue, *, finder: RegionFinder, steady: SteadyOptions, info_size: tuple[int, int],
              path: Path, emit, result: VideoResult, stop: threading.Event, first: int = 0) -> None:
    width, height = info_size
    bridge = max(steady.bridge, steady.detect_every - 1)
    steadier = Steadier(window=steady.window, bridge=bridge, size=(width, height)) if steady.steady else None
    waiting: dict[int, tuple[int, np.ndarray]] = {}
    last_mask = None  # frame by frame: a frame not searched gets the last search's region
    index = first
    done = False
    while not done and not stop.is_set():
        batch = []
        while len(batch) < steady.batch:
            item = _get(decoded, stop)
            if item is _END:
                done = True
                break
            batch.append((index, *item))
            index += 1
        searched = [b for b in batch if b[0] % steady.detect_every == 0]
        t0 = time.perf_counter()
        found = _find_many(finder, [b[2] for b in searched], path, side=steady.detect_side)
        masks = dict(zip([b[0] for b in searched], found))
        result.seconds["find"] += time.perf_counter() - t0
        for i, pts, frame in batch:
            mask = masks.get(i)
            if steadier is None:
                if mask is not None:
                    last_mask = mask if bool((mask > 0).any()) else None
                emit(pts, frame, last_mask, i)
                continue
            waiting[i] = (pts, frame)
            boxes = None if mask is None else mask_to_boxes(mask)
            for j, found in steadier.push(i, boxes):
                _emit_boxes(waiting.pop(j), found, j, emit, height, width)
    if steadier is not None:
        for j, found in steadier.flush():
            _emit_boxes(waiting.pop(j), found, j, emit, height, width)


def _emit_boxes(item, boxes: list[Box], index: int, emit, height: int, width: int) -> None:
    pts, frame = item
    mask = boxes_to_mask(boxes, height=height, width=width)[0] if boxes else None
    emit(pts, frame, mask, index)
