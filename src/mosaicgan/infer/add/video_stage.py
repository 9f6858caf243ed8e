"""The frame stage of `add` on a video (see `video_pipeline`): find regions, mosaic.

A mask file or boxes say where, so they are found once and used for every frame. Faces (and
CAM) are searched in whole frames every `detect_every` frames, in a thread of their own (so the
search overlaps the mosaic and the encoder; `RegionFinder.find_batch` where the finder has one),
on a copy scaled to `detect_side`; in the frames between, faces are searched for only near where
they were last found (`FaceFollower`, in 1 frame of `follow_every`: a window around each, a few
ms instead of a whole frame's search). Everything found passes through `steady.Steadier`, which tracks the boxes,
smooths them and bridges short misses (a face is covered from `bridge` >= detect_every - 1
frames before the search that first finds it: `TrackingOptions.reach`). A frame
gets the mosaic of `mosaic_core.mosaic_image`, run on the part of the frame that the
region's blocks cover (`mosaic_frame`: the result is the whole-frame result, because the crop
starts on a block line and reaches past the grow, feather and blur margins).
The user's --also boxes and --keep areas apply frame by frame (`RegionFinder.compose`); an
optional `VideoWatch` sees the tracker's boxes (--keep-track, the report) and each frame before
its cover (--lock-to).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.device import usable_cpus
from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions, block_for, mosaic_generator, mosaic_image
from mosaicgan.infer.add.face_track import FaceTracker
from mosaicgan.infer.add.regions import Region, RegionFinder
from mosaicgan.infer.add.video_watch import VideoWatch
from mosaicgan.infer.video.pipeline import END, Stage, VideoResult, put_unless, torch_threads
from mosaicgan.infer.video.steady import BlockHold, Steadier, TrackBox, TrackingOptions
from mosaicgan.localize.boxes import merge_boxes
from mosaicgan.ops.masks import Box, boxes_to_mask, mask_to_boxes
from mosaicgan.ops.shapes import Ellipse, draw_shapes

SEARCH_THREADS = 2  # onnxruntime threads of the face search (`_search_faces`)


@dataclass(frozen=True)
class AddVideoOptions:
    """tracking: how regions are followed across frames (`steady.TrackingOptions`; for faces,
    detect_every is the longest gap between whole-frame searches, `face_track.FaceTracker`).
    batch: CAM only, frames searched per call. detect_side: search a copy of the frame scaled
    so its long side is at most this (0: full size; faster, but faces under about
    min-face x frame/detect_side pixels are missed). follow: faces, in frames between
    searches, are searched for where the camera's motion took them (`FaceTracker`), in 1 frame
    of `follow_every` (the steadied boxes fill the frames between: a 1-frame gap costs no
    coverage in benchmarks/video_face_cover.py and saves about a fifth of the CPU at 720p)."""

    # Whole-frame searches at least 1 frame in 16 (faces are also searched at cuts and pans, and
    # followed between; the periodic search is for faces appearing inside the picture).
    tracking: TrackingOptions = TrackingOptions(detect_every=16)
    batch: int = 1
    detect_side: int = 0
    follow: bool = True
    follow_every: int = 2

    def check(self) -> None:
        self.tracking.check()
        if self.batch < 1 or self.follow_every < 1:
            raise UserError("--follow-every and the batch size must be >= 1")
        if self.detect_side < 0 or 0 < self.detect_side < 64:
            raise UserError(f"--detect-side must be 0 (full size) or at least 64 pixels, got {self.detect_side}")


def mosaic_frame(frame: np.ndarray, mask: torch.Tensor, *, options: MosaicOptions,
                 generator: torch.Generator | None = None, keep: torch.Tensor | None = None,
                 boxes: list[Box] | None = None) -> np.ndarray:
    """`mosaic_image` on an array frame (H, W, 3) uint8/uint16, in place, computing only the
    crop that the region's blocks, grow, feather and blur reach. mask: (H, W) in [0, 1].
    keep: (H, W) bool, pixels never changed (--keep), or None.
    boxes: the mask's parts (e.g. the faces of a crowd), each computed in a crop of its own
    where those crops do not overlap (the same result: the block grid starts at the frame's
    corner, crops end on block lines and reach past every margin), instead of one crop over all
    of them (most of a frame, for faces spread across it). Not for the "random" style, whose
    picks follow one generator over one crop."""
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
    parts = boxes if boxes and options.style != "random" else [box]
    scale = 255.0 if frame.dtype == np.uint8 else 65535.0
    for y0, y1, x0, x1 in _crops(parts, block=block, margin=margin, height=height, width=width):
        crop = frame[y0:y1, x0:x1]
        tensor = torch.from_numpy(crop).permute(2, 0, 1).float().mul_(2.0 / scale).sub_(1.0)
        out = mosaic_image(tensor, mask[y0:y1, x0:x1], options=replace(options, block=block), generator=generator,
                           keep=None if keep is None else keep[y0:y1, x0:x1])
        back = out.add_(1.0).mul_(scale / 2.0).round_().clamp_(0, scale).permute(1, 2, 0)
        frame[y0:y1, x0:x1] = back.numpy().astype(frame.dtype)
    return frame


def _crops(boxes: list[Box], *, block: int, margin: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of the crops that hold the boxes with their margins, out to block lines
    (the mosaic grid starts at the frame's corner, so every block a region meets is whole in
    its crop); overlapping crops merged into one, so no pixel is computed twice."""
    snapped = [Box((max(0, b.x0 - margin) // block) * block, (max(0, b.y0 - margin) // block) * block,
                   min(width, -(-(b.x1 + margin) // block) * block), min(height, -(-(b.y1 + margin) // block) * block))
               for b in boxes]
    # iou=0: any two crops that share a pixel are joined, until none do.
    return [(c.y0, c.y1, c.x0, c.x1) for c in merge_boxes(snapped, iou=0.0)]


def _bbox(mask: torch.Tensor) -> Box | None:
    m = mask.numpy() > 0
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _find_many(finder: RegionFinder, frames: list[np.ndarray], path: Path, *,
               side: int = 0) -> list[tuple[torch.Tensor, list[list[int]]]]:
    """The finder's masks for frames (H, W, 3), at the frames' size, searched at `side`, each
    with its face boxes (x0, y0, x1, y1 in the frame's pixels; empty for other regions)."""
    if not frames:
        return []
    height, width = frames[0].shape[:2]
    scale = side / max(height, width) if side else 1.0
    small = []
    for f in frames:
        f = _as_uint8(f)
        if scale < 1.0:
            f = cv2.resize(f, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        small.append(f)
    find_batch = getattr(finder, "find_batch", None)  # a batched detector, where the finder has one
    regions = find_batch(small, path=path) if find_batch else [finder.find(f, path=path) for f in small]
    found = []
    for region in regions:
        mask, boxes = region.mask, region.info.get("boxes", []) if region.info.get("kind") == "faces" else []
        if scale < 1.0:
            mask = F.interpolate(mask[None, None], size=(height, width), mode="nearest")[0, 0]
            boxes = [[math.floor(b[0] / scale), math.floor(b[1] / scale), math.ceil(b[2] / scale),
                      math.ceil(b[3] / scale)] for b in boxes]
        found.append((mask, boxes))
    return found


def _as_uint8(frame: np.ndarray) -> np.ndarray:
    """A frame as the detectors take it: 8 bits (a 16-bit frame keeps its high byte)."""
    return frame if frame.dtype == np.uint8 else (frame >> 8).astype(np.uint8)


@dataclass(frozen=True)
class _Seen:
    """What the search thread hands on for a frame it searched or followed: boxes (faces: the
    regions their masks fill) or a mask (CAM), whether the frame starts a shot, and how."""

    boxes: list[Box] | None
    mask: torch.Tensor | None
    cut: bool
    how: str
    keys: list[int] | None = None  # faces: which is which, while followed (`FaceTracker`)
    scores: list[float] | None = None  # faces: the detector's score of each


def mosaic_stage(*, finder: RegionFinder, options: MosaicOptions, video: AddVideoOptions, path: Path,
                 result: VideoResult, watch: VideoWatch | None = None) -> Stage:
    """The frame stage of `add`: each frame gets the mosaic over the region `finder` gives
    (steadied over time for detected regions), with the user's --also and --keep; `watch`
    sees the tracker's boxes and each frame before its cover (see `video_watch`)."""
    hold = BlockHold()
    result.seconds.setdefault("mosaic", 0.0)

    def options_for(mask: torch.Tensor, boxes: list[Box] | None) -> MosaicOptions:
        if options.block is not None or not video.tracking.steady:
            return options
        if boxes:  # the steadied faces: measured on their crops, not on the whole frame
            return replace(options, block=hold(block_for(mask, options, parts=boxes)))
        box = _bbox(mask)
        grow = max(options.grow, 0)
        sub = mask[max(0, box.y0 - grow):box.y1 + grow, max(0, box.x0 - grow):box.x1 + grow]
        return replace(options, block=hold(block_for(sub, options)))

    def mosaic(emit, pts: int, frame: np.ndarray, mask: torch.Tensor | None, index: int,
               boxes: list[Box] | None = None) -> None:
        t0 = time.perf_counter()
        keep = None
        if finder.chooses:
            mask, keep = _chosen(finder, mask, frame, index, watch)
            boxes = None  # --also boxes are in the mask too: one crop
        if mask is not None:
            if watch is not None:
                watch.covering(index, frame, mask)
            generator = mosaic_generator(options, f"{path.name}#{index}")
            frame = mosaic_frame(frame, mask, options=options_for(mask, boxes), generator=generator, keep=keep,
                                 boxes=boxes)
        result.add_time("mosaic", time.perf_counter() - t0)
        emit(pts, frame, mask is not None)

    def stage(frames, emit) -> None:
        # One thread per torch operation: the search, the mosaic, the decoder and the encoder
        # already run side by side, and a second torch thread only spins while it waits (a CPU
        # core busy for nothing: `add --box` on a 720p crowd clip took 63 ms of CPU a frame with
        # 2 threads, 39 with 1).
        with torch_threads(1):
            if finder.detected:
                _detected(frames, finder=finder, video=video, path=path, emit=lambda *a: mosaic(emit, *a),
                          result=result, watch=watch)
                return
            fixed = None
            for index, pts, frame in frames:
                if fixed is None:
                    t0 = time.perf_counter()
                    blank = torch.zeros(3, 1, 1).expand(3, frame.shape[0], frame.shape[1])
                    fixed = finder.find(blank, path=path).mask
                    result.add_time("find", time.perf_counter() - t0)
                mosaic(emit, pts, frame, fixed, index)

    return stage


def _chosen(finder: RegionFinder, mask: torch.Tensor | None, frame: np.ndarray, index: int,
            watch: VideoWatch | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(mask, keep) of a frame with the user's --also boxes of this frame and --keep areas."""
    region = finder.compose(Region(mask if mask is not None else torch.zeros(frame.shape[:2])), frame=index)
    if watch is not None:
        watch.added(index, region.info.get("also", []))
    return (None if region.empty else region.mask), region.keep


def _detected(frames, *, finder: RegionFinder, video: AddVideoOptions, path: Path, emit, result: VideoResult,
              watch: VideoWatch | None = None) -> None:
    """Detected regions: a thread searches the frames (the slow part; torch, OpenCV and PyAV
    release the GIL) while this one steadies, mosaics and hands frames on to the encoder."""
    every = video.tracking.detect_every
    found: queue.Queue = queue.Queue(maxsize=2 * every + 2 * video.batch + 8)
    stop = threading.Event()
    errors: list[BaseException] = []
    faces = finder.request.kind == "faces"

    def put(item) -> bool:
        return put_unless(found, item, stop)

    def search() -> None:
        try:
            if faces:
                _search_faces(frames, put, finder=finder, video=video, result=result)
            else:
                _search_cam(frames, put, finder=finder, video=video, path=path, result=result)
        except BaseException as err:  # noqa: BLE001  (handed to the stage's thread)
            errors.append(err)
        finally:
            put(END)

    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    try:
        # Faces are masked as on images: an ellipse inscribed in each (steadied) box of the
        # head, or the box itself (--face-shape).
        shape = finder.request.face_shape if faces else "box"
        _steady_and_emit(found, tracking=video.tracking, emit=emit, shape=shape, followed=faces and video.follow,
                         watch=watch)
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]


def _search_faces(frames, put, *, finder: RegionFinder, video: AddVideoOptions, result: VideoResult) -> None:
    """Every frame through the `FaceTracker` (whole searches where the picture changed, faces
    followed between); frames neither searched nor followed are handed on with nothing."""
    tracker = FaceTracker(finder, detect_every=video.tracking.detect_every, follow=video.follow,
                          follow_every=video.follow_every, detect_side=video.detect_side)
    detector = getattr(finder, "face_detector", None)
    # The network through onnxruntime where it is installed: faster on a CPU, above all for the
    # small windows of followed faces; the shipped int8 model, 1.6x faster again for the same
    # faces found (`localize/faces/onnx_engine.py`). Up to SEARCH_THREADS threads (idle ones
    # sleep): a whole-frame search is the pipeline's longest step, and the stages after it soon
    # wait for its frames (720p crowd clips, 2 cores: 10-20% more fps for the same CPU time).
    threads = min(SEARCH_THREADS, usable_cpus())
    with detector.onnxruntime(threads=threads, int8=True) if detector is not None else contextlib.nullcontext():
        for index, pts, frame in frames:
            t0 = time.perf_counter()
            seen = tracker(_as_uint8(frame))
            result.add_time("find", time.perf_counter() - t0)
            if not put((index, pts, frame,
                        None if seen is None else _Seen(seen.regions, None, seen.cut, seen.how, seen.keys,
                                                        [f.face.score for f in seen.found]))):
                return


def _search_cam(frames, put, *, finder: RegionFinder, video: AddVideoOptions, path: Path,
                result: VideoResult) -> None:
    """CAM regions: the whole frame searched 1 frame in detect_every, `batch` frames per call."""
    every = video.tracking.detect_every
    group: list[tuple[int, int, np.ndarray]] = []  # frames up to the last one to search
    waiting = 0
    for item in frames:
        group.append(item)
        waiting += item[0] % every == 0
        if waiting == 0:  # nothing to search before it: on at once
            if not put((*group.pop(), None)):
                return
        elif waiting == video.batch:
            if not _search_group(group, put, finder=finder, every=every, path=path, side=video.detect_side,
                                 result=result):
                return
            group, waiting = [], 0
    if group:
        _search_group(group, put, finder=finder, every=every, path=path, side=video.detect_side, result=result)


def _search_group(group, put, *, finder: RegionFinder, every: int, path: Path, side: int, result: VideoResult) -> bool:
    searched = [g for g in group if g[0] % every == 0]
    t0 = time.perf_counter()
    masks = dict(zip([g[0] for g in searched], _find_many(finder, [g[2] for g in searched], path, side=side),
                     strict=True))
    result.add_time("find", time.perf_counter() - t0)
    return all(put((*g, _Seen(None, masks[g[0]][0], False, "search") if g[0] in masks else None)) for g in group)


def _steady_and_emit(found: queue.Queue, *, tracking: TrackingOptions, emit, shape: str, followed: bool = False,
                     watch: VideoWatch | None = None) -> None:
    steadier = None
    waiting: dict[int, tuple[int, np.ndarray, str]] = {}
    last_mask = None  # frame by frame: a frame not searched gets the last search's region
    height = width = 0
    while True:
        item = found.get()
        if item is END:
            break
        i, pts, frame, seen = item
        if not tracking.steady:
            if seen is not None:
                height, width = frame.shape[:2]
                mask = seen.mask if seen.mask is not None else regions_mask(seen.boxes, height=height, width=width,
                                                                             shape=shape)
                last_mask = mask if bool((mask > 0).any()) else None
            emit(pts, frame, last_mask, i)
            continue
        if steadier is None:
            height, width = frame.shape[:2]
            # The window holds at least two searches either side, whatever --detect-every is
            # (followed faces are found in every frame: the window stays short, so a box does not
            # lag behind a face that turns).
            window = tracking.window if followed else max(tracking.window, 2 * tracking.detect_every)
            steadier = Steadier(window=window, bridge=tracking.reach, size=(width, height))
        waiting[i] = (pts, frame, seen.how if seen else "")
        boxes = None if seen is None else seen.boxes if seen.boxes is not None else mask_to_boxes(seen.mask)
        for j, tracked in steadier.push_tracks(i, boxes, cut=seen is not None and seen.cut,
                                               keys=seen.keys if seen is not None else None,
                                               scores=seen.scores if seen is not None else None):
            _emit_boxes(waiting.pop(j), tracked, j, emit, height, width, shape, watch)
    if steadier is not None:
        for j, tracked in steadier.flush_tracks():
            _emit_boxes(waiting.pop(j), tracked, j, emit, height, width, shape, watch)


def _emit_boxes(item, tracked: list[TrackBox], index: int, emit, height: int, width: int, shape: str,
                watch: VideoWatch | None = None) -> None:
    """A frame's steadied boxes (with their tracks) become its mask; the watch sees them first
    (it may drop kept tracks) with how the frame was searched and each box's score."""
    pts, frame, how = item
    boxes = [t.box for t in tracked]
    if watch is not None:
        boxes = watch.placed(index, frame, boxes, [(t.track, t.seen) for t in tracked], how=how,
                             scores=[t.score for t in tracked])
    emit(pts, frame, regions_mask(boxes, height=height, width=width, shape=shape) if boxes else None, index, boxes)


def regions_mask(boxes: list[Box], *, height: int, width: int, shape: str = "box") -> torch.Tensor:
    """(H, W) 0/1: the boxes, or the ellipses inscribed in them (drawn in each box only)."""
    if shape == "box":
        return boxes_to_mask(boxes, height=height, width=width)[0]
    mask = torch.zeros(height, width)
    for b in boxes:
        w, h = b.x1 - b.x0, b.y1 - b.y0
        ellipse = Ellipse(cx=(w - 1) / 2, cy=(h - 1) / 2, rx=max(w / 2, 0.5), ry=max(h / 2, 0.5))
        part = draw_shapes(ellipse, height=h, width=w)[0]
        mask[b.y0:b.y1, b.x0:b.x1] = torch.maximum(mask[b.y0:b.y1, b.x0:b.x1], part)
    return mask
