"""Face boxes for privacy mosaics, from OpenCV's Haar cascades.

The cascades ship inside opencv-python-headless 4.x (`cv2.data.haarcascades`; 5.x dropped
them), so detection works offline with no weights of our own. They are fast and miss faces
turned far from the camera or strongly tilted; for privacy a miss is worse than an extra box,
so the defaults lean towards recall (profile faces both ways, overlapping boxes merged by
union, a margin around each box).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from mosaicgan.errors import UserError
from mosaicgan.localize.boxes import Box, boxes_to_mask, merge_boxes, pad_box

FRONTAL_CASCADE = "haarcascade_frontalface_default.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"  # trained on faces turned one way; run mirrored too


@lru_cache(maxsize=None)
def load_cascade(name: str) -> cv2.CascadeClassifier:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / name).is_file():
        raise UserError(f"OpenCV has no Haar cascade {name} (opencv-python-headless 4.x ships them; 5.x does not)")
    cascade = cv2.CascadeClassifier(str(Path(folder) / name))
    if cascade.empty():
        raise UserError(f"cannot load the Haar cascade {name}", path=Path(folder) / name)
    return cascade


def to_gray(image: Image.Image | np.ndarray | torch.Tensor) -> np.ndarray:
    """PIL image, uint8 array (H, W[, 3]) RGB, or tensor (3, H, W) in [-1, 1] -> uint8 (H, W)."""
    if isinstance(image, Image.Image):
        return np.array(image.convert("L"))
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f"expected a tensor (C, H, W) with C in 1, 3; got {tuple(image.shape)}")
        image = image.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        image = image.permute(1, 2, 0).numpy()
    arr = np.ascontiguousarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 array, got {arr.dtype}")
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY) if arr.shape[2] == 3 else arr[:, :, 0]
    return arr


def detect_faces(
    image: Image.Image | np.ndarray | torch.Tensor,
    *,
    profile: bool = True,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: float = 0.04,
    max_side: int = 1280,
    merge: bool = True,
    pad: float = 0.1,
) -> list[Box]:
    """Boxes (x0, y0, x1, y1) of the faces in an image, in its own pixel coordinates, top to bottom.

    min_neighbors: overlapping detections a face needs (higher: fewer false faces, more misses).
    min_size: smallest face side as a fraction of the image's short side (at least 20 px).
    max_side: larger images are searched at this size (speed); boxes are scaled back.
    merge: replace overlapping boxes (frontal and profile of one face) by their union.
    pad: margin added on every side, as a fraction of the box size (Haar boxes are tight).
    """
    gray = to_gray(image)
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    # Histogram equalisation evens out lighting, which the Haar features are sensitive to.
    gray = cv2.equalizeHist(gray)
    side = max(20, round(min_size * min(gray.shape)))
    options = {"scaleFactor": scale_factor, "minNeighbors": min_neighbors, "minSize": (side, side)}

    # OpenCV gives (x, y, w, h); the mirrored profile search gives them in the flipped image.
    found = list(load_cascade(FRONTAL_CASCADE).detectMultiScale(gray, **options))
    if profile:
        cascade = load_cascade(PROFILE_CASCADE)
        found += list(cascade.detectMultiScale(gray, **options))
        mirrored = cascade.detectMultiScale(cv2.flip(gray, 1), **options)
        found += [(gray.shape[1] - x - w, y, w, h) for x, y, w, h in mirrored]

    boxes = [Box(*(round(v / scale) for v in (x, y, x + w, y + h))) for x, y, w, h in found]
    if merge:
        boxes = merge_boxes(boxes)
    boxes = [pad_box(b, pad=pad, size=(height, width)) for b in boxes]
    return sorted(boxes, key=lambda b: (b.y0, b.x0))


def face_mask(image: Image.Image | np.ndarray | torch.Tensor, **options) -> torch.Tensor:
    """Bool mask (H, W) covering every face `detect_faces(image, **options)` finds."""
    gray = to_gray(image)
    return boxes_to_mask(detect_faces(gray, **options), height=gray.shape[0], width=gray.shape[1])[0] > 0
