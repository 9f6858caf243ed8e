"""The per-frame core of `remove`: restore the mosaics of one frame.

`remove_mosaics(frame, restorer=..., mask=None)` is all a file loop (remove_files.py) or a
video loop calls per frame. Where: the given mask, split into its connected regions, each
with the grid `estimate_grid` reads inside it; or, with no mask, whatever `find_mosaics`
finds. What: the restorer's estimate inside each region (grown, feathered), every other pixel
returned bit for bit. Nothing here reads or writes files.

What a restorer puts in a region is synthesized from the block means: plausible, never the
hidden original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from mosaicgan.infer.image_io import to_rgb
from mosaicgan.infer.restore import Restorer
from mosaicgan.localize.mosaic_grid import estimate_grid
from mosaicgan.localize.mosaics import find_mosaics
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import feather_mask, grow_mask


@dataclass
class RegionResult:
    """One region: its box (x0, y0, x1, y1; x1, y1 exclusive), its grid (None: no grid could
    be read there, so it was left as it is), and what found it ("mask" or "detector")."""

    box: tuple[int, int, int, int]
    grid: Grid | None
    found_by: str

    def to_dict(self) -> dict:
        grid = None if self.grid is None else (f"{self.grid.block_h}x{self.grid.block_w} "
                                                f"offset {self.grid.offset_y},{self.grid.offset_x}")
        return {"box": list(self.box), "grid": grid, "found_by": self.found_by}


@dataclass
class RemoveResult:
    """frame: the restored frame (the input's channels); mask: (H, W) in [0, 1], every pixel
    the restorer was allowed to change (grown, feathered); regions: restored and skipped."""

    frame: torch.Tensor
    mask: torch.Tensor
    regions: list[RegionResult] = field(default_factory=list)

    @property
    def restored(self) -> list[RegionResult]:
        return [r for r in self.regions if r.grid is not None]

    @property
    def skipped(self) -> list[RegionResult]:
        return [r for r in self.regions if r.grid is None]


def split_regions(mask: torch.Tensor) -> list[torch.Tensor]:
    """A mask (H, W) -> one bool mask (H, W) per 8-connected region of mask > 0.5."""
    inside = (mask > 0.5).cpu().numpy().astype(np.uint8)
    count, labels = cv2.connectedComponents(inside, connectivity=8)
    return [torch.from_numpy(labels == k) for k in range(1, count)]


def region_weights(region: torch.Tensor, *, mask: torch.Tensor | None = None, grow: int = 0,
                   feather: int = 0) -> torch.Tensor:
    """How much of the restoration each pixel takes for one region (bool (H, W)): 1 inside (a
    soft user `mask` keeps its grey levels there), grown by `grow` and feathered over
    `feather` pixels. (H, W) in [0, 1]."""
    soft = region.float()
    if mask is not None:  # a soft user mask keeps its grey levels inside the region
        soft = torch.where(region, mask.float(), soft)
    return feather_mask(grow_mask(soft[None], radius=grow), width=feather).reshape(soft.shape)


def _box(region: torch.Tensor) -> tuple[int, int, int, int]:
    ys, xs = torch.nonzero(region, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def remove_mosaics(
    frame: torch.Tensor,
    *,
    restorer: Restorer,
    mask: torch.Tensor | None = None,
    grid: Grid | None = None,
    grow: int = 0,
    feather: int = 0,
) -> RemoveResult:
    """Restore the mosaics of `frame` ((C, H, W) in [-1, 1], C = 1 or 3).

    mask: (H, W) in [0, 1], where the mosaics are (None: find them). grid: use this grid for
    every region instead of reading it from the pixels. grow, feather: pixels added around
    each region (`ops.masks.grow_mask`, `feather_mask`); pixels farther out never change.
    """
    if frame.ndim != 3 or frame.shape[0] not in (1, 3):
        raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(frame.shape)}")
    rgb = to_rgb(frame)
    regions: list[tuple[torch.Tensor, Grid | None, str]] = []
    if mask is None:
        _, found = find_mosaics(rgb)
        regions = [(f.mask, grid or f.grid, "detector") for f in found]
    else:
        for region in split_regions(mask):
            regions.append((region, grid or estimate_grid(rgb, region), "mask"))
    out = rgb.clone()
    applied = torch.zeros(frame.shape[1:])
    results = []
    for region, region_grid, how in regions:
        results.append(RegionResult(_box(region), region_grid, how))
        if region_grid is None:
            continue
        soft = region_weights(region, mask=mask, grow=grow, feather=feather)
        out = restorer.restore(out, soft[None], grid=region_grid)
        applied = torch.maximum(applied, soft)
    if frame.shape[0] == 1:
        # Grey in, grey out: the restorer saw the grey repeated three times; its channels
        # differ a little, and their mean is the grey estimate. Untouched pixels stay exact.
        grey = out.mean(dim=0, keepdim=True)
        out = torch.where(applied[None] > 0, grey, frame)
    return RemoveResult(frame=out, mask=applied, regions=results)
