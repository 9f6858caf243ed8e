"""Where CenterFace looks: the network inputs ("pieces") that cover an image at every scale a
face may need, and the suppression of the boxes they find twice.

- `plan_pieces`: the image pyramid (level 0 scales a face of `min_face` pixels to the
  network's smallest, each next level 4x smaller) cut into overlapping tiles of bounded size;
- `window_pieces`: windows of an image around given spots, each at its own scale (the faces
  followed in a video, tiny candidates confirmed at full size), cut first and scaled after,
  so a few small windows never scale the whole image;
- `piece_input`: a piece's pixels as a network input;
- `nms`: greedy non-maximum suppression across levels, tiles and windows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.data.images import array_to_tensor

NET_MIN_FACE = 16  # px: the smallest face the network finds reliably (heatmap peak > 0.5)
NET_MAX_FACE = 512  # px: the largest
LEVEL_STEP = 4  # size ratio of two pyramid levels: well under NET_MAX_FACE / NET_MIN_FACE = 32
MULTIPLE = 32  # the network's input sides are multiples of this


@dataclass(frozen=True)
class Piece:
    """One network input: image `index` at `scale`, the input's corner (x, y) in the scaled
    image's pixels and its size (width, height). crop: None for a tile of a pyramid level (the
    whole image is scaled, tiles share it); else (x0, y0, x1, y1) in image pixels, the window
    cut first and then scaled to (width, height) (x, y = x0, y0 times the scale), padded to a
    square of `side` input pixels (windows of one side share a batch, cut or not)."""

    index: int
    scale: float
    x: float
    y: float
    width: int
    height: int
    crop: tuple[int, int, int, int] | None = None
    side: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the padded network input."""
        return (self.side, self.side) if self.side else (round_up(self.height), round_up(self.width))


def round_up(value: float, multiple: int = MULTIPLE) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def pyramid_scales(height: int, width: int, *, min_face: float) -> list[float]:
    """Scales of the image at which it is searched, largest first."""
    scales = [NET_MIN_FACE / min_face]
    # A face is at most about the image's short side; stop once the network sees that whole.
    while min(height, width) * scales[-1] > NET_MAX_FACE and min(height, width) * scales[-1] / LEVEL_STEP >= MULTIPLE:
        scales.append(scales[-1] / LEVEL_STEP)
    return scales


def tile_windows(length: int, *, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, size) of equal windows covering [0, length), neighbours overlapping by at least
    `overlap`, each at most `tile` long; one window when the length fits."""
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = min(tile, math.ceil((length + (count - 1) * overlap) / count))
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    return [(s, size) for s in starts]


def plan_pieces(sizes: Sequence[tuple[int, int]], *, min_face: float, tile: int, overlap: int) -> list[Piece]:
    """Every network input for images of `sizes` (H, W)."""
    pieces = []
    for index, (height, width) in enumerate(sizes):
        for scale in pyramid_scales(height, width, min_face=min_face):
            h, w = max(1, round(height * scale)), max(1, round(width * scale))
            for y, th in tile_windows(h, tile=tile, overlap=overlap):
                for x, tw in tile_windows(w, tile=tile, overlap=overlap):
                    pieces.append(Piece(index, scale, x, y, tw, th))
    return pieces


def window_piece(index: int, *, centre: tuple[float, float], side: float, out: int,
                 size: tuple[int, int]) -> Piece | None:
    """The square window of image `index` (of `size` (H, W)) of `side` pixels around `centre`
    (x, y), scaled to `out` x `out` input pixels (less where the image's edge cuts it, so every
    window of one `out` shares a batch); None when nothing of it is inside."""
    height, width = size
    side = max(2, math.ceil(side))
    scale = out / side
    x0, y0 = math.floor(centre[0] - side / 2), math.floor(centre[1] - side / 2)
    x1, y1 = min(width, x0 + side), min(height, y0 + side)
    x0, y0 = max(0, x0), max(0, y0)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return Piece(index, scale, x0 * scale, y0 * scale, min(out, max(1, round((x1 - x0) * scale))),
                 min(out, max(1, round((y1 - y0) * scale))), crop=(x0, y0, x1, y1), side=round_up(out))


def piece_input(tensors: list, piece: Piece, *, batch_shape: tuple[int, int],
           scaled: dict[tuple[int, float], torch.Tensor]) -> torch.Tensor:
    """The piece's pixels, padded with black at the bottom and right to the batch's shape.
    `scaled` caches each image at each scale, shared by that level's tiles; a window is
    cut first (from a uint8 frame: only it becomes floats) and scaled after."""
    image = tensors[piece.index]
    if piece.crop is not None:
        x0, y0, x1, y1 = piece.crop
        if isinstance(image, np.ndarray):  # OpenCV scales uint8 several times faster than torch's antialias
            interpolation = cv2.INTER_AREA if piece.scale < 1 else cv2.INTER_LINEAR
            crop = array_to_tensor(cv2.resize(image[y0:y1, x0:x1], (piece.width, piece.height),
                                              interpolation=interpolation))
        else:
            crop = F.interpolate(image[:, y0:y1, x0:x1].float()[None], size=(piece.height, piece.width),
                                 mode="bilinear", align_corners=False, antialias=piece.scale < 1)[0]
    else:
        key = (piece.index, piece.scale)
        if key not in scaled:
            full = array_to_tensor(image) if isinstance(image, np.ndarray) else image.float()
            if piece.scale != 1.0:
                size = (max(1, round(full.shape[-2] * piece.scale)), max(1, round(full.shape[-1] * piece.scale)))
                full = F.interpolate(full[None], size=size, mode="bilinear", align_corners=False,
                                     antialias=piece.scale < 1)[0]
            scaled[key] = full
        x, y = int(piece.x), int(piece.y)
        crop = scaled[key][:, y:y + piece.height, x:x + piece.width]
    out = torch.full((3, *batch_shape), -1.0)
    out[:, :crop.shape[1], :crop.shape[2]] = crop
    return out


def batches(pieces: list[Piece], *, batch_pixels: int):
    """Groups of pieces of one padded input shape, each within `batch_pixels` input pixels:
    yields (pieces, (H, W))."""
    by_shape: dict[tuple[int, int], list[Piece]] = defaultdict(list)
    for piece in pieces:
        by_shape[piece.shape].append(piece)
    for shape, group in by_shape.items():
        per_batch = max(1, batch_pixels // (shape[0] * shape[1]))
        for start in range(0, len(group), per_batch):
            yield group[start:start + per_batch], shape


def box_overlaps(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, N) IoU of boxes (N, 4) x0, y0, x1, y1, and (N, N) share of box j's area inside box i."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-9)
    return iou, inter / area[None, :].clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, *, iou: float, inside: float = 0.8) -> list[int]:
    """Indices kept by greedy non-maximum suppression, highest score first. A box is dropped when
    its IoU with a kept box exceeds `iou`, or when `inside` of its area lies within a kept box
    (a part of a face seen at a finer pyramid level; its mask would add nothing)."""
    order = scores.argsort(descending=True)
    overlaps, contained = box_overlaps(boxes[order])
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        suppressed |= (overlaps[i] > iou) | (contained[i] > inside)
    return keep
