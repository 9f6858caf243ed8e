"""`add` over video files: decode, find regions, mosaic, encode, as a stream.

Three stages overlap: a thread decodes (and demuxes the audio and subtitle packets), the
calling thread finds regions and mosaics, a thread encodes and muxes; PyAV releases the GIL
while it codes. The queues between them are short, so memory holds a few dozen frames
whatever the video's length.

Regions come from the same `RegionFinder` as images. A mask file or boxes say where, so they
are found once and used for every frame. Faces (and CAM) are searched every `detect_every`
frames, a batch at a time (`RegionFinder.find_batch` where the finder has one), and pass
through `steady.Steadier`, which tracks the boxes, smooths them and bridges short misses; the
frame then gets the mosaic of `mosaic_core.mosaic_image`, run on the part of the frame that
the region's blocks cover (the result is the whole-frame result: the crop starts on a block
line and reaches past the grow, feather and blur margins).
"""

from __future__ import annotations

import math
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.mosaic_core import MosaicOptions, block_for, mosaic_generator, mosaic_image
from mosaicgan.infer.outputs import plan_outputs
from mosaicgan.infer.region_finder import RegionFinder, RegionRequest
from mosaicgan.infer.steady import BlockHold, Steadier
from mosaicgan.infer.video_io import EncodeOptions, VideoInput, VideoOutput, check_encoder, output_format
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


def video_name(path: Path) -> str:
    """The output's name for --out DIR: the input's name, or NAME.mp4 where the input's
    container is not one `add` writes (MPEG-TS, Ogg)."""
    from mosaicgan.infer.video_io import OUTPUT_FORMATS

    return path.name if path.suffix.lower() in OUTPUT_FORMATS else f"{path.stem}.mp4"


def plan_video_outputs(videos: list[Path], out: Path, *, images: bool = False) -> tuple[Path, dict[Path, Path]]:
    """(the output folder, video -> output file). --out names a file when it has a video
    extension, is not a folder and there is one video (and no image); otherwise a folder."""
    from mosaicgan.infer.video_io import OUTPUT_FORMATS

    out = Path(out)
    as_file = out.suffix.lower() in OUTPUT_FORMATS and not out.is_dir()
    if as_file and (len(videos) != 1 or images):
        raise UserError("--out is a video file name, but there is more than one input; give a folder", path=out)
    if as_file:
        plan = plan_outputs(videos, out.parent, names=lambda p: [out.name])
        return out.parent, {v: outs[0] for v, outs in plan.items()}
    plan = plan_outputs(videos, out, names=lambda p: [video_name(p)])
    return out, {v: outs[0] for v, outs in plan.items()}


def provenance_tags(*, request: RegionRequest, options: MosaicOptions, steady: SteadyOptions) -> dict[str, str]:
    """Container metadata saying what made the file: a readable `comment` (every container
    keeps it) and the settings as JSON under `mosaicgan` (MP4/MOV with metadata tags, MKV)."""
    import json

    from mosaicgan import __version__

    where = {"mask": "a mask file", "boxes": "boxes", "faces": "faces", "cam": f"CAM class {request.cam_class}"}
    settings = {"command": "add", "version": __version__, "region": request.kind, "style": options.style,
                "block": options.block or "auto", "grow": options.grow, "feather": options.feather}
    if request.kind == "boxes":
        settings["boxes"] = [list(b) for b in request.boxes]
    if request.kind in ("faces", "cam"):
        settings["steady"] = ({"window": steady.window, "bridge": steady.bridge, "detect_every": steady.detect_every}
                              if steady.steady else False)
    return {"comment": f"mosaicgan {__version__} add: {options.style} mosaic over {where.get(request.kind, request.kind)}",
            "encoder": f"mosaicgan {__version__}", "mosaicgan": json.dumps(settings, sort_keys=True)}


def check_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
                steady: SteadyOptions, start: float = 0.0, duration: float | None = None) -> None:
    """What can be known wrong before anything is written: the file decodes, the explicit
    region fits its frames, the output container takes the codec, the options."""
    options.check()
    steady.check()
    if start < 0 or (duration is not None and duration <= 0):
        raise UserError("--start must be >= 0 and --duration > 0")
    check_encoder(encode, output_format(out))
    with VideoInput(path, start=start, duration=duration) as src:
        finder.check(path, (src.info.width, src.info.height))


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


def add_mosaic_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions,
                     encode: EncodeOptions = EncodeOptions(), steady: SteadyOptions = SteadyOptions(),
                     start: float = 0.0, duration: float | None = None, metadata: dict[str, str] | None = None,
                     progress=None, resume: bool = False) -> VideoResult:
    """Mosaic the region `finder` gives in every frame of the video `path`, written to `out`
    (atomically: a temporary file beside it, renamed once complete). resume: work in
    segments that a rerun after an interruption keeps (see `video_resume`)."""
    check_video(path, out, finder=finder, options=options, encode=encode, steady=steady, start=start,
                duration=duration)
    if resume:
        if start or duration is not None:
            raise UserError("--resume works on whole videos; it takes no --start or --duration")
        return _resumable(path, out, finder=finder, options=options, encode=encode, steady=steady,
                          metadata=metadata, progress=progress)
    result = VideoResult()
    with VideoInput(path, start=start, duration=duration) as src, atomic_path(out) as tmp:
        _start_progress(progress, src.info.frames)
        sink = VideoOutput(tmp, fmt=output_format(out), source=src, options=encode, metadata=metadata)
        result.dropped_streams = list(sink.dropped)
        try:
            _run(src, sink, finder=finder, options=options, steady=steady, path=path, result=result,
                 progress=progress)
            t0 = time.perf_counter()
            sink.close()
            result.seconds["encode"] += time.perf_counter() - t0
        except BaseException:
            sink.abort()
            raise
    return result


def _start_progress(progress, total: int, done: int = 0) -> None:
    if progress is not None and total:
        progress.total = total
        if done:
            progress.update(done)
        progress.refresh()


def _resumable(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
               steady: SteadyOptions, metadata: dict[str, str] | None, progress) -> VideoResult:
    from dataclasses import asdict

    from mosaicgan.infer.video_resume import (SEGMENT_FRAMES, SegmentSink, done_segments, job_key, join_segments,
                                              work_folder)

    fmt, suffix, folder = output_format(out), out.suffix, work_folder(out)
    settings = {"metadata": metadata or {}, "encode": asdict(encode), "options": asdict(options),
                "steady": asdict(steady), "region": repr(finder.request)}
    first = done_segments(folder, job_key(path, settings), suffix=suffix)
    skip = first * SEGMENT_FRAMES
    result = VideoResult(frames=skip)
    with VideoInput(path) as src:
        _start_progress(progress, src.info.frames, skip)
        sink = SegmentSink(folder, fmt=fmt, suffix=suffix, source=src, options=encode, first=first,
                           length=SEGMENT_FRAMES)
        try:
            _run(src, sink, finder=finder, options=options, steady=steady, path=path, result=result,
                 progress=progress, skip=skip)
            sink.close()
        except BaseException:
            sink.abort()
            raise
        count = sink.k
    with VideoInput(path) as src, atomic_path(out) as tmp:
        result.dropped_streams = join_segments(folder, count, tmp, fmt=fmt, suffix=suffix, source=src,
                                               metadata=metadata or {})
    shutil.rmtree(folder)
    return result


def _run(src: VideoInput, sink: VideoOutput, *, finder: RegionFinder, options: MosaicOptions,
         steady: SteadyOptions, path: Path, result: VideoResult, progress, skip: int = 0) -> None:
    info = src.info
    decoded: queue.Queue = queue.Queue(maxsize=max(16, 2 * steady.batch))
    encoded: queue.Queue = queue.Queue(maxsize=16)
    packets: queue.Queue = queue.Queue()  # audio/subtitle packets: small, and drained by the encoder
    stop = threading.Event()
    errors: list[BaseException] = []

    def decode() -> None:
        try:
            t0 = time.perf_counter()
            for item in src.frames(on_packet=packets.put, skip=skip):
                result.seconds["decode"] += time.perf_counter() - t0
                while not stop.is_set():
                    try:
                        decoded.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
                t0 = time.perf_counter()
        except BaseException as err:  # noqa: BLE001  (handed to the main thread)
            errors.append(err)
        finally:
            while not stop.is_set():
                try:
                    decoded.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def write() -> None:
        try:
            first = True
            while True:
                item = encoded.get()
                if item is _END:
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
            while encoded.get() is not _END:  # keep the producer from blocking on a full queue
                pass

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
        while not stop.is_set():
            try:
                encoded.put((pts, frame), timeout=0.1)
                break
            except queue.Full:
                continue
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
                item = decoded.get()
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
        encoded.put(_END) if not stop.is_set() else _drain_put(encoded)
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    if result.frames == 0 and not skip:
        raise UserError("no frames to write (the video is empty, or --start is past its end)", path=path)


def _drain_put(q: queue.Queue) -> None:
    while True:
        try:
            q.put(_END, timeout=0.1)
            return
        except queue.Full:
            try:
                q.get_nowait()
            except queue.Empty:
                pass


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
            item = decoded.get()
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
