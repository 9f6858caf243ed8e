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
"""

from __future__ import annotations

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

from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions, block_for, mosaic_generator, mosaic_image
from mosaicgan.infer.add.regions import RegionFinder
from mosaicgan.infer.video.steady import BlockHold, Steadier, TrackingOptions
from mosaicgan.infer.video.pipeline import END, Stage, VideoResult, put_unless
from mosaicgan.ops.masks import Box, boxes_to_mask, mask_to_boxes
from mosaicgan.ops.shapes import Ellipse, draw_shapes


@dataclass(frozen=True)
class AddVideoOptions:
    """tracking: how regions are followed across frames (`steady.TrackingOptions`).
    batch: frames searched per call of the detector (CenterFace costs less CPU per frame one
    frame at a time than in batches on this CPU: 139 against 215 ms per 640 x 360 frame).
    detect_side: search a copy of the frame scaled so its long side is at most this (0: full
    size; faster, but faces under about min-face x frame/detect_side pixels are missed).
    follow: faces, in frames between searches, are searched for near where they were before
    (`FaceFollower`; the batch must be 1), in 1 frame of `follow_every` (the steadied boxes
    fill the frames between: a 1-frame gap costs no coverage in benchmarks/video_face_cover.py
    and saves about a fifth of the CPU at 720p)."""

    tracking: TrackingOptions = TrackingOptions()
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


class FaceFollower:
    """Faces between whole-frame searches: a frame followed is searched only near the faces last
    found (`RegionFinder.find_near`), so a moving face is found all along at a small cost,
    while new faces wait for the next whole search (and are covered back to the search before
    by the bridge). A face not found near its last place is looked for there again `patience`
    more times, then left to the next whole search."""

    def __init__(self, finder: RegionFinder, *, patience: int = 2) -> None:
        self.finder, self.patience = finder, patience
        self.boxes: dict[tuple[int, ...], int] = {}  # box -> frames missed since it was seen

    def searched(self, boxes: list[list[int]]) -> None:
        self.boxes = {tuple(b): 0 for b in boxes}

    def follow(self, frame: np.ndarray, *, path: Path) -> torch.Tensor | None:
        """The mask of the faces found near the last ones (None when there are none to follow)."""
        if not self.boxes:
            return None
        region = self.finder.find_near(_as_uint8(frame), [list(b) for b in self.boxes], path=path)
        found = [tuple(b) for b in region.info["boxes"]]
        kept = {b: 0 for b in found}
        for box, missed in self.boxes.items():
            if missed < self.patience and not any(_overlap(box, f) for f in found):
                kept[box] = missed + 1
        self.boxes = kept
        return region.mask


def _as_uint8(frame: np.ndarray) -> np.ndarray:
    """A frame as the detectors take it: 8 bits (a 16-bit frame keeps its high byte)."""
    return frame if frame.dtype == np.uint8 else (frame >> 8).astype(np.uint8)


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def mosaic_stage(*, finder: RegionFinder, options: MosaicOptions, video: AddVideoOptions, path: Path,
                 result: VideoResult) -> Stage:
    """The frame stage of `add`: each frame gets the mosaic over the region `finder` gives
    (steadied over time for detected regions)."""
    hold = BlockHold()
    result.seconds.setdefault("mosaic", 0.0)

    def options_for(mask: torch.Tensor) -> MosaicOptions:
        if options.block is not None or not video.tracking.steady:
            return options
        box = _bbox(mask)
        grow = max(options.grow, 0)
        sub = mask[max(0, box.y0 - grow):box.y1 + grow, max(0, box.x0 - grow):box.x1 + grow]
        return replace(options, block=hold(block_for(sub, options)))

    def mosaic(emit, pts: int, frame: np.ndarray, mask: torch.Tensor | None, index: int) -> None:
        t0 = time.perf_counter()
        if mask is not None:
            generator = mosaic_generator(options, f"{path.name}#{index}")
            frame = mosaic_frame(frame, mask, options=options_for(mask), generator=generator)
        result.add_time("mosaic", time.perf_counter() - t0)
        emit(pts, frame, mask is not None)

    def stage(frames, emit) -> None:
        if finder.detected:
            _detected(frames, finder=finder, video=video, path=path, emit=lambda *a: mosaic(emit, *a),
                      result=result)
            return
        fixed = None
        for index, pts, frame in frames:
            if fixed is None:
                t0 = time.perf_counter()
                fixed = finder.find(torch.zeros(3, 1, 1).expand(3, frame.shape[0], frame.shape[1]), path=path).mask
                result.add_time("find", time.perf_counter() - t0)
            mosaic(emit, pts, frame, fixed, index)

    return stage


def _detected(frames, *, finder: RegionFinder, video: AddVideoOptions, path: Path, emit,
              result: VideoResult) -> None:
    """Detected regions: a thread searches the frames (the slow part; torch, OpenCV and PyAV
    release the GIL) while this one steadies, mosaics and hands frames on to the encoder."""
    every = video.tracking.detect_every
    found: queue.Queue = queue.Queue(maxsize=2 * every + 2 * video.batch + 8)
    stop = threading.Event()
    errors: list[BaseException] = []

    follower = FaceFollower(finder) if video.follow and finder.request.kind == "faces" else None

    def search() -> None:
        try:
            group: list[tuple[int, int, np.ndarray]] = []  # frames up to the last one to search
            waiting = 0
            for item in frames:
                group.append(item)
                waiting += item[0] % every == 0
                if waiting == 0:  # nothing to search before it: on at once (followed faces, if any)
                    mask = None
                    if follower is not None and item[0] % video.follow_every == 0:
                        t0 = time.perf_counter()
                        mask = follower.follow(item[2], path=path)
                        result.add_time("find", time.perf_counter() - t0)
                    if not put_unless(found, (*group.pop(), mask), stop):
                        return
                elif waiting == video.batch:
                    if not _search_group(group):
                        return
                    group, waiting = [], 0
            if group:
                _search_group(group)
        except BaseException as err:  # noqa: BLE001  (handed to the stage's thread)
            errors.append(err)
        finally:
            put_unless(found, END, stop)

    def _search_group(group) -> bool:
        searched = [g for g in group if g[0] % every == 0]
        t0 = time.perf_counter()
        regions = dict(zip([g[0] for g in searched], _find_many(finder, [g[2] for g in searched], path,
                                                                 side=video.detect_side)))
        result.add_time("find", time.perf_counter() - t0)
        if follower is not None and searched:
            follower.searched(regions[searched[-1][0]][1])
        return all(put_unless(found, (*g, regions[g[0]][0] if g[0] in regions else None), stop) for g in group)

    thread = threading.Thread(target=search, daemon=True)
    thread.start()
    try:
        # Faces are masked as on images: an ellipse inscribed in each (steadied) box of the
        # head, or the box itself (--face-shape).
        shape = finder.request.face_shape if finder.request.kind == "faces" else "box"
        _steady_and_emit(found, tracking=video.tracking, emit=emit, shape=shape, followed=follower is not None)
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]


def _steady_and_emit(found: queue.Queue, *, tracking: TrackingOptions, emit, shape: str,
                     followed: bool = False) -> None:
    steadier = None
    waiting: dict[int, tuple[int, np.ndarray]] = {}
    last_mask = None  # frame by frame: a frame not searched gets the last search's region
    height = width = 0
    while True:
        item = found.get()
        if item is END:
            break
        i, pts, frame, mask = item
        if not tracking.steady:
            if mask is not None:
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
        waiting[i] = (pts, frame)
        boxes = None if mask is None else mask_to_boxes(mask)
        for j, boxes_j in steadier.push(i, boxes):
            _emit_boxes(waiting.pop(j), boxes_j, j, emit, height, width, shape)
    if steadier is not None:
        for j, boxes_j in steadier.flush():
            _emit_boxes(waiting.pop(j), boxes_j, j, emit, height, width, shape)


def _emit_boxes(item, boxes: list[Box], index: int, emit, height: int, width: int, shape: str = "box") -> None:
    pts, frame = item
    emit(pts, frame, regions_mask(boxes, height=height, width=width, shape=shape) if boxes else None, index)


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
