"""Faces for privacy mosaics: detect them (shipped CenterFace, `localize/faces/centerface.py`) and
turn them into a mask that covers the whole head.

A detector box runs from about the brow to the chin; hair, ears and a turned head's far side
lie outside it. So each face's region is its box, first stretched to hold its 5 landmarks,
then grown by `grow` times its width and height on every side (0.3 by default, the 1.3 mask
scale of deface), drawn as an ellipse inscribed in that grown box or as the box itself.
For privacy a miss is worse than an extra box: the defaults lean towards recall.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from PIL import Image

from mosaicgan.choices import FACE_SHAPES
from mosaicgan.localize.faces.centerface import (
    DEFAULT_FLIP,
    DEFAULT_MIN_FACE,
    DEFAULT_THRESHOLD,
    Face,
    FaceDetector,
    load_face_detector,
    nms,
)
from mosaicgan.ops.masks import Box

DEFAULT_GROW = 0.3
__all__ = ["DEFAULT_FLIP", "DEFAULT_GROW", "DEFAULT_MIN_FACE", "DEFAULT_THRESHOLD", "detect_faces",
           "detect_faces_batch", "detect_faces_near", "face_box", "face_extent", "face_mask", "shipped_detector"]



@lru_cache(maxsize=4)
def shipped_detector(device: str = "cpu") -> FaceDetector:
    """The shipped CenterFace, loaded once per device."""
    return load_face_detector(device=device)


def _as_image(image: Image.Image | np.ndarray | torch.Tensor) -> Image.Image | torch.Tensor:
    """A uint8 RGB array (H, W, 3) becomes a PIL image; PIL images and tensors pass."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 RGB array (H, W, 3), got {image.dtype} {image.shape}")
        return Image.fromarray(image)
    return image


def detect_faces(
    image: Image.Image | np.ndarray | torch.Tensor,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_face: float = DEFAULT_MIN_FACE,
    flip: bool = DEFAULT_FLIP,
    detector: FaceDetector | None = None,
    tiny: str = "confirm",
) -> list[Face]:
    """The faces in one image (PIL image, uint8 RGB array (H, W, 3), or tensor (3, H, W) in
    [-1, 1]), best first, in its own pixels. See `FaceDetector` for the options."""
    detector = detector or shipped_detector()
    return detector.detect([_as_image(image)], threshold=threshold, min_face=min_face, flip=flip, tiny=tiny)[0]


def detect_faces_batch(
    images: Sequence[Image.Image | np.ndarray | torch.Tensor],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_face: float = DEFAULT_MIN_FACE,
    flip: bool = DEFAULT_FLIP,
    detector: FaceDetector | None = None,
) -> list[list[Face]]:
    """`detect_faces` for several images (video frames) at once, through shared network batches."""
    detector = detector or shipped_detector()
    return detector.detect([_as_image(i) for i in images], threshold=threshold, min_face=min_face, flip=flip)


def detect_faces_near(
    image: Image.Image | np.ndarray | torch.Tensor,
    boxes: Sequence[tuple[float, float, float, float]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_face: float = DEFAULT_MIN_FACE,
    flip: bool = DEFAULT_FLIP,
    detector: FaceDetector | None = None,
) -> list[Face]:
    """Known faces (boxes x0, y0, x1, y1 where they were, or are expected) found again in the
    image, in its pixels (`FaceDetector.follow`): each box's window (the box and its size on
    every side) scaled so the box is 32 pixels, all windows in one batch, searched for
    faces from half the box's size up. They were found before, so they need half the threshold
    (with flip) and no mirror score. On a video frame this follows the faces of the frame
    before for a fraction of a whole-frame search (a window of 96 x 96 input pixels per face,
    a 720p frame is 960 x 640 times that); faces elsewhere are not looked for."""
    detector = detector or shipped_detector()
    found = [f for f in detector.follow(_as_image(image) if isinstance(image, Image.Image) else image, boxes,
                                        threshold=threshold, flip=flip, min_face=min_face)
             if f is not None]
    if len(found) < 2:
        return found
    table = torch.tensor([[f.x0, f.y0, f.x1, f.y1] for f in found], dtype=torch.float64)
    keep = nms(table, torch.tensor([f.score for f in found], dtype=torch.float64), iou=0.3)
    return [found[i] for i in keep]


def shift_face(face: Face, *, dx: float, dy: float, scale: float = 1.0) -> Face:
    """The face scaled by `scale` (about the image's corner), then moved by (dx, dy) pixels
    (from a window's or a scaled copy's pixels to the image's)."""
    return Face(face.x0 * scale + dx, face.y0 * scale + dy, face.x1 * scale + dx, face.y1 * scale + dy, face.score,
                landmarks=tuple((x * scale + dx, y * scale + dy) for x, y in face.landmarks))


def face_extent(face: Face, *, grow: float = DEFAULT_GROW) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the region a face's mask fills: its box stretched to hold its
    landmarks, then grown by `grow` x its width / height on every side."""
    if grow < 0:
        raise ValueError(f"grow must be >= 0, got {grow}")
    xs = [face.x0, face.x1] + [x for x, _ in face.landmarks]
    ys = [face.y0, face.y1] + [y for _, y in face.landmarks]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx, dy = (x1 - x0) * grow, (y1 - y0) * grow
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def face_mask(
    faces: Sequence[Face], *, height: int, width: int, grow: float = DEFAULT_GROW, shape: str = "ellipse"
) -> torch.Tensor:
    """Bool mask (H, W) covering every face's region (see `face_extent`), as an ellipse
    inscribed in the region or the region's box. A pixel is inside when its centre is."""
    if shape not in FACE_SHAPES:
        raise ValueError(f"shape must be one of {FACE_SHAPES}, got {shape!r}")
    mask = torch.zeros(height, width, dtype=torch.bool)
    for face in faces:
        x0, y0, x1, y1 = face_extent(face, grow=grow)
        # Only the window the region spans is evaluated (faces are small in large photos).
        c0, c1 = max(0, math.floor(x0)), min(width, math.ceil(x1) + 1)
        r0, r1 = max(0, math.floor(y0)), min(height, math.ceil(y1) + 1)
        if c0 >= c1 or r0 >= r1:
            continue
        xs = torch.arange(c0, c1, dtype=torch.float32)[None, :] + 0.5
        ys = torch.arange(r0, r1, dtype=torch.float32)[:, None] + 0.5
        if shape == "box":
            inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
        else:
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, max((x1 - x0) / 2, 0.5), max((y1 - y0) / 2, 0.5)
            inside = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
        mask[r0:r1, c0:c1] |= inside
    return mask


def face_box(face: Face, *, height: int, width: int) -> Box:
    """The face's detector box in whole pixels (rounded outwards), cut to the image."""
    return Box(max(0, math.floor(face.x0)), max(0, math.floor(face.y0)),
               min(width, math.ceil(face.x1)), min(height, math.ceil(face.y1)))
