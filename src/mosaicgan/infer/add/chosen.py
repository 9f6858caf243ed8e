"""The user's word over a detector: areas never anonymized (--keep x,y,w,h, --keep-track ID) and
areas always anonymized (--also x,y,w,h[@start-end]), e.g. a face the detector missed.

- A kept area is never changed, whatever grows into it (the mosaic core cuts it out of the mask
  after grow and feather). A detected face whose box lies mostly (half its area or more) inside
  a kept area is dropped whole, so a chosen face does not keep a mosaicked rim of hair.
- An added box is covered as a box in every image, and in a video from frame `start` to `end`
  (counted from 0, both included; no end: to the last frame). An image counts as frame 0.
  A kept area wins over an added box.
- A kept track (videos) is a track id of the detection report: its boxes are not covered.
  The same settings give the same ids on a rerun (the tracker is deterministic).
Nothing here detects anything; `RegionFinder.compose` applies these to what a detector found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from mosaicgan.errors import UserError
from mosaicgan.ops.masks import Box, boxes_to_mask

XYWH = tuple[int, int, int, int]
# Share of a face's box inside a kept area that keeps the whole face.
KEEP_FACE_SHARE = 0.5


@dataclass(frozen=True)
class Also:
    """A box (x, y, w, h) covered from frame `start` to `end` (both included; None: to the end)."""

    box: XYWH
    start: int = 0
    end: int | None = None

    def covers(self, frame: int) -> bool:
        return self.start <= frame and (self.end is None or frame <= self.end)

    def to_dict(self) -> dict:
        x, y, w, h = self.box
        return {"box": [x, y, x + w, y + h], "frames": [self.start, self.end]}


def parse_xywh(text: str, *, flag: str) -> XYWH:
    """"x,y,w,h" -> (x, y, w, h) in pixels; a one-line UserError naming `flag` otherwise."""
    try:
        x, y, w, h = (int(p.strip()) for p in text.split(","))
    except ValueError:
        raise UserError(f"{flag} expects x,y,w,h (four integers, in pixels), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise UserError(f"{flag} {text}: width and height must be positive")
    return x, y, w, h


_RANGE = re.compile(r"^(\d+)-(\d*)$")


def parse_also(text: str) -> Also:
    """"x,y,w,h" or "x,y,w,h@start-end" (frames; "@start-" runs to the last frame)."""
    box_text, _, span = text.partition("@")
    box = parse_xywh(box_text, flag="--also")
    if not span:
        return Also(box)
    found = _RANGE.match(span.strip())
    if not found:
        raise UserError(f"--also {text}: the frame range after @ must be START-END or START- (frames, from 0)")
    start, end = int(found.group(1)), int(found.group(2)) if found.group(2) else None
    if end is not None and end < start:
        raise UserError(f"--also {text}: the range ends (frame {end}) before it starts (frame {start})")
    return Also(box, start, end)


def parse_track(text: str) -> int:
    try:
        track = int(text)
    except ValueError:
        raise UserError(f"--keep-track expects a track id from the report (a whole number), got {text!r}") from None
    if track < 1:
        raise UserError(f"--keep-track: track ids start at 1, got {track}")
    return track


def corners(xywh: XYWH, *, width: int, height: int) -> Box:
    """(x, y, w, h) -> a Box cut to the image (may be empty)."""
    x, y, w, h = xywh
    return Box(max(0, x), max(0, y), min(width, x + w), min(height, y + h))


def check_boxes(also: tuple[Also, ...], *, size: tuple[int, int], path=None) -> None:
    """An --also box that misses the image entirely is the user's mistake (size: width, height):
    they meant to cover something. A --keep area off an image keeps nothing there, and is fine
    (the inputs may differ in size)."""
    width, height = size
    for x, y, w, h in (a.box for a in also):
        if x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise UserError(f"--also {x},{y},{w},{h} lies outside the {width}x{height} image", path=path)


def keep_mask(keep: tuple[XYWH, ...], *, height: int, width: int) -> torch.Tensor | None:
    """(H, W) bool: the kept areas, or None when there are none."""
    if not keep:
        return None
    return boxes_to_mask([corners(k, width=width, height=height) for k in keep], height=height, width=width)[0] > 0


def also_mask(also: tuple[Also, ...], *, frame: int, height: int, width: int) -> torch.Tensor | None:
    """(H, W) float 0/1: the added boxes that cover `frame`, or None when none does."""
    boxes = [corners(a.box, width=width, height=height) for a in also if a.covers(frame)]
    if not boxes:
        return None
    return boxes_to_mask(boxes, height=height, width=width)[0].float()


def inside_share(box: tuple[float, float, float, float], keep: tuple[XYWH, ...]) -> float:
    """The largest share of `box` (x0, y0, x1, y1) that one kept area holds."""
    x0, y0, x1, y1 = box
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area == 0:
        return 0.0
    best = 0.0
    for x, y, w, h in keep:
        ix = max(0.0, min(x1, x + w) - max(x0, x))
        iy = max(0.0, min(y1, y + h) - max(y0, y))
        best = max(best, ix * iy / area)
    return best


def is_kept_face(box: tuple[float, float, float, float], keep: tuple[XYWH, ...]) -> bool:
    return inside_share(box, keep) >= KEEP_FACE_SHARE
