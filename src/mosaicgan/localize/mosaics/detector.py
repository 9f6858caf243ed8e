"""Finding mosaics with the shipped detector network, and reading each one's grid.

The network (`nets.mosaic_detector`) says where a mosaic is: a probability per 4 x 4 pixels.
The classical grid reader (`mosaic_grid.estimate_grid`) says which grid it sits on, inside
each region the network proposes. Both must agree: a region with no block grid in its pixels
is not a mosaic the restorer could undo, and is dropped (a blur, a soft patch of sky).

The region: pixels where the upsampled probability passes `threshold`, in connected groups
of at least `min_pixels` pixels whose probability reaches `seed` somewhere and averages at
least `min_mean`; its outline is then put on the grid (`_snap`). The settings were chosen among
a few on the train split only (pairs from 60 Sun_Hays80 + Urban100 photos at half size, as PNG
and JPEG q75, and 132 of its clean photos), never on the held-out photos; see the README.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.choices import MOSAIC_DETECTORS
from mosaicgan.errors import UserError
from mosaicgan.localize.mosaics.blocks import block_index, block_mean, block_rms, mosaic_outline, to_pixels
from mosaicgan.localize.mosaics.finder import DetectMosaics, FoundMosaic, find_mosaics
from mosaicgan.localize.mosaics.grid import estimate_grid, luma
from mosaicgan.ops.tiles import run_tiled

SHIPPED_WEIGHTS = "mosaic_detector.safetensors"
KIND = "mosaic_detector"
THRESHOLD = 0.5
SEED = 0.9
LOW = 0.3
MIN_MEAN = 0.8
MIN_PIXELS = 2048
# A block is mosaic whole when the net's region covers this much of it (the others, along the
# outline, are decided pixel by pixel).
CORE = 0.9
# A saved clean mosaic's blocks are flat (RMS 0 in 95% of train-split pairs); JPEG q75 leaves 0.7 or more.
LOSSLESS_RMS = 0.5
# Tiles bound memory on large photos; the overlap covers most of the net's ~250 px reach.
TILE = 1024
OVERLAP = 256


def shipped_mosaic_detector_path() -> Path:
    return Path(str(importlib.resources.files("mosaicgan") / "assets" / SHIPPED_WEIGHTS))


class MosaicDetector:
    """`find(image)` -> (mask (1, H, W) float 0/1, [FoundMosaic]) like `mosaics.find_mosaics`.

    threshold, seed, min_pixels, min_mean: which regions count (see the module docstring).
    outline: "hybrid" (the default, see `_snap`), "blocks" (always the block-value pixels) or
    "net" (the net's region as it is). core: the share of a block the region must cover for the
    block to count whole. low: the lower threshold of a lossy region's outline."""

    def __init__(self, net: torch.nn.Module, *, threshold: float = THRESHOLD, seed: float = SEED,
                 min_pixels: int = MIN_PIXELS, outline: str = "hybrid", core: float = CORE,
                 low: float = LOW, min_mean: float = MIN_MEAN, device: str | torch.device = "cpu") -> None:
        self.net = net.float().eval().to(device)
        self.device = torch.device(device)
        self.threshold, self.seed, self.min_pixels = threshold, seed, min_pixels
        self.outline, self.core, self.low = outline, core, low
        self.min_mean = min_mean

    @torch.no_grad()
    def probability(self, image: torch.Tensor) -> torch.Tensor:
        """(C, H, W) in [-1, 1] (C = 3; 1 is repeated) -> (H, W) in [0, 1]."""
        x = image.detach().float()[None].to(self.device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = x[:, :3]

        def fn(t: torch.Tensor) -> torch.Tensor:
            p = torch.sigmoid(self.net(t))
            return F.interpolate(p, scale_factor=self.net.out_stride, mode="bilinear",
                                 align_corners=False)[..., : t.shape[-2], : t.shape[-1]]

        return run_tiled(fn, x, tile=TILE, overlap=OVERLAP)[0, 0].cpu()

    def find(self, image: torch.Tensor) -> tuple[torch.Tensor, list[FoundMosaic]]:
        prob = self.probability(image).numpy()
        h, w = prob.shape
        count, labels = cv2.connectedComponents((prob > self.threshold).astype(np.uint8), connectivity=8)
        claimed = np.zeros((h, w), dtype=bool)
        found: list[FoundMosaic] = []
        for k in range(1, count):
            pixels = labels == k
            if pixels.sum() < self.min_pixels or prob[pixels].max() < self.seed:
                continue
            mean = float(prob[pixels].mean())
            if mean < self.min_mean:
                continue
            grid = estimate_grid(image, torch.from_numpy(pixels))
            if grid is None:
                continue
            if self.outline != "net":
                pixels = self._snap(image, pixels, grid, prob)
            ys, xs = np.nonzero(pixels)
            box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
            blocks = int(pixels.sum()) // (grid.block_h * grid.block_w)
            found.append(FoundMosaic(mask=torch.from_numpy(pixels), box=box, grid=grid, blocks=blocks))
            claimed |= pixels
        mask = torch.from_numpy(claimed.astype(np.float32))[None]
        return mask, sorted(found, key=lambda f: (f.box[1], f.box[0]))


    def _snap(self, image: torch.Tensor, pixels: np.ndarray, grid, prob: np.ndarray) -> np.ndarray:
        """The region on its grid. Blocks the net's region (mostly) covers are mosaic whole. Around
        them, in a clean mosaic (blocks flat to a level), the pixels that hold their block's flat
        value (`blocks.mosaic_outline`, exact to the pixel); after lossy compression, whose ringing
        blurs that test, the net's own outline, drawn at the lower threshold `low` (the net is
        less sure near a re-encoded mosaic's edge)."""
        core = block_mean(pixels.astype(np.float32), grid) >= self.core
        if not core.any():
            return pixels
        y = luma(image)
        lossy = float(np.percentile(block_rms(y, grid)[core], 25)) > LOSSLESS_RMS
        if not lossy or self.outline == "blocks":
            return mosaic_outline(to_pixels(image), y, grid, core)
        h, w = y.shape
        rows, cols = block_index(h, grid.block_h, grid.offset_y), block_index(w, grid.block_w, grid.offset_x)
        wide = pixels
        if self.low < self.threshold:
            _, labels = cv2.connectedComponents((prob > self.low).astype(np.uint8), connectivity=8)
            wide = np.isin(labels, np.unique(labels[pixels]))
        return wide | core[rows[:, None], cols[None, :]]


def load_mosaic_detector(path: str | Path | None = None, *, device: str | torch.device = "cpu",
                         **options) -> MosaicDetector:
    """The shipped detector (path None), or a mosaic_detector checkpoint / run folder."""
    path = shipped_mosaic_detector_path() if path is None else Path(path)
    ckpt = load_checkpoint(path, device=device, kind=KIND)
    if "detector" not in ckpt.nets:
        raise UserError(f"checkpoint holds no 'detector' network (it has: {', '.join(ckpt.nets)})", path=ckpt.path)
    return MosaicDetector(ckpt.nets["detector"], device=device, **options)


def mosaic_detector(name: str, *, device: str | torch.device = "cpu") -> DetectMosaics:
    """How `remove` finds mosaics with no mask (`choices.MOSAIC_DETECTORS`): "net", the shipped
    detector network with each region confirmed by its grid, or "grid", the classical finder."""
    if name not in MOSAIC_DETECTORS:
        raise ValueError(f"detector must be one of {MOSAIC_DETECTORS}, got {name!r}")
    if name == "grid":
        return find_mosaics
    return load_mosaic_detector(device=device).find
