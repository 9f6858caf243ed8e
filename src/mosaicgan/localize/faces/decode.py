"""From CenterFace's maps to faces (`Face`): the heatmap's local maxima, each decoded to a box and
5 landmarks, carried from a piece's input pixels to the image's, and the window a candidate's
mirror-image score is computed on (`FaceDetector._window_score`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mosaicgan.localize.faces.pyramid import MULTIPLE, Piece

# The mirror-image score is computed on a window around each candidate face (not the whole
# input: most of a frame holds no face). The window holds the face and this much context; on
# the photos of benchmarks/faces.py the scores then match those of whole mirrored inputs.
MIRROR_CONTEXT = 3.0  # x the face's size, on every side
MIRROR_MARGIN = 96  # px
# As seen in the image: "left" is the image's left.
LANDMARKS = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")
Raw = tuple[float, ...]  # x0, y0, x1, y1, score, 10 landmark coordinates, in image pixels


@dataclass(frozen=True)
class Face:
    """A detected face in image pixels: box corners (x0, y0) - (x1, y1) (floats, may reach
    past the image border), the heatmap score in [0, 1], and 5 landmarks (x, y) in the order
    of `LANDMARKS`."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    landmarks: tuple[tuple[float, float], ...] = ()

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def size(self) -> float:
        """The face's size: its box's longer side."""
        return max(self.width, self.height)


def face_of(d: Raw) -> Face:
    return Face(*d[:5], landmarks=tuple((d[5 + 2 * k], d[6 + 2 * k]) for k in range(5)))


def find_peaks(heat: torch.Tensor, *, threshold: float) -> list[tuple[int, int, int]]:
    """(n, i, j) of the local maxima (3x3, as in CenterNet) of heatmaps (N, h, w) above
    `threshold`: one per face."""
    peaks = (heat == F.max_pool2d(heat[:, None], 3, 1, 1)[:, 0]) & (heat > threshold)
    return [tuple(p) for p in peaks.nonzero().tolist()]


def decode_peak(maps: dict[str, torch.Tensor], n: int, i: int, j: int, *, score: float) -> tuple[float, ...]:
    """The face at heatmap cell (i, j) of input n, in input pixels: (x0, y0, x1, y1, score,
    10 landmark coordinates x, y, x, y, ...)."""
    size_h, size_w = (maps["scale"][n, :, i, j].float().exp() * 4).tolist()
    off_y, off_x = maps["offset"][n, :, i, j].tolist()
    cy, cx = (i + off_y + 0.5) * 4, (j + off_x + 0.5) * 4
    x0, y0 = cx - size_w / 2, cy - size_h / 2
    lm = maps["landmarks"][n, :, i, j].tolist()
    points = []
    for k in range(5):  # stored as (y, x) fractions of the box
        points += [x0 + lm[2 * k + 1] * size_w, y0 + lm[2 * k] * size_h]
    return (x0, y0, x0 + size_w, y0 + size_h, score, *points)


def to_image(det: tuple[float, ...], piece: Piece) -> Raw:
    """A detection in a piece's input pixels -> the image's pixels."""
    if piece.crop is None:
        sx = sy = 1 / piece.scale
        ox, oy = piece.x * sx, piece.y * sy
    else:  # the crop's exact scale (its size was rounded)
        x0, y0, x1, y1 = piece.crop
        sx, sy, ox, oy = (x1 - x0) / piece.width, (y1 - y0) / piece.height, x0, y0
    coords = [v * sx + ox if k % 2 == 0 else v * sy + oy for k, v in enumerate(det[:4] + det[5:])]
    return (*coords[:4], det[4], *coords[4:])


def mirror_window(cy: float, cx: float, *, size: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the part of an input (height, width) around a face centred at
    (cy, cx) of `size` pixels that its mirror-image score is computed on: the face and
    `MIRROR_CONTEXT` x its size plus `MIRROR_MARGIN` pixels on every side, on the network's
    32-pixel grid (so the features inside match those of the whole input), cut to the input."""
    reach = MIRROR_CONTEXT * size + size / 2 + MIRROR_MARGIN
    y0 = max(0, math.floor((cy - reach) / MULTIPLE) * MULTIPLE)
    x0 = max(0, math.floor((cx - reach) / MULTIPLE) * MULTIPLE)
    y1 = min(height, math.ceil((cy + reach) / MULTIPLE) * MULTIPLE)
    x1 = min(width, math.ceil((cx + reach) / MULTIPLE) * MULTIPLE)
    return y0, y1, x0, x1


def centre_inside(det: Raw, boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)


def cell_size(maps: dict[str, torch.Tensor], n: int, i: int, j: int) -> float:
    return float((maps["scale"][n, :, i, j].float().exp() * 4).max())
