"""The per-frame core of `remove`: restore the mosaics of one frame.

`remove_mosaics(frame, restorer=..., mask=None)` is all a file loop (`files`) or a video loop
calls per frame. Where: the given mask, split into its connected regions, each with the grid
`estimate_grid` reads inside it; or, with no mask, whatever the mosaic detector finds
(`localize.mosaics.detector.mosaic_detector`: the network, or the classical `find_mosaics`).
What: the restorer's estimate inside each region (grown, feathered), every other pixel
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
from mosaicgan.infer.remove.restorer import MARGIN_BLOCKS, Restorer
from mosaicgan.localize.mosaics.finder import DetectMosaics, find_mosaics
from mosaicgan.localize.mosaics.grid import estimate_grid
from mosaicgan.localize.mosaics.recipe import RecipeEstimate
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, feather_mask, grow_mask


@dataclass
class RegionResult:
    """One region: its box (x0, y0, x1, y1; x1, y1 exclusive), its grid (None: no grid could
    be read there, so it was left as it is), what found it ("mask" or "detector"), and how the
    restorer read its mosaic (the recipe family and its probability; None for a restorer
    without a recipe head, which reads every mosaic as block means)."""

    box: tuple[int, int, int, int]
    grid: Grid | None
    found_by: str
    recipe: RecipeEstimate | None = None

    def to_dict(self) -> dict:
        grid = None if self.grid is None else (f"{self.grid.block_h}x{self.grid.block_w} "
                                                f"offset {self.grid.offset_y},{self.grid.offset_x}")
        record = {"box": list(self.box), "grid": grid, "found_by": self.found_by}
        if self.recipe is not None:
            record.update(self.recipe.to_dict())
        return record


@dataclass
class RemoveResult:
    """frame: the restored frame (the input's channels; the input itself when nothing was
    restored, so copy before writing into it); mask: (H, W) in [0, 1], every pixel
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


def split_regions(mask: torch.Tensor) -> list[tuple[Box, torch.Tensor]]:
    """A mask (H, W) -> for each 8-connected region of mask > 0.5, its box and a bool mask of
    the box's size (the region's pixels in it)."""
    inside = (mask > 0.5).cpu().numpy().astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    regions = []
    for k in range(1, count):
        x, y, w, h = (int(v) for v in stats[k, :4])
        regions.append((Box(x, y, x + w, y + h), torch.from_numpy(labels[y : y + h, x : x + w] == k)))
    return regions


def region_weights(region: torch.Tensor, *, mask: torch.Tensor | None = None, grow: int = 0,
                   feather: int = 0) -> torch.Tensor:
    """How much of the restoration each pixel takes for one region given as a full-frame bool
    mask (H, W) (a video follows its regions this way): 1 inside (a soft user `mask` keeps its
    grey levels there), grown by `grow` and feathered over `feather` pixels, as in
    `remove_mosaics`. (H, W) in [0, 1]."""
    soft = region.float()
    if mask is not None:
        soft = torch.where(region, mask.float(), soft)
    if grow == 0 and feather == 0:
        return soft
    return feather_mask(grow_mask(soft[None], radius=grow), width=feather).reshape(soft.shape)


def _tight(region: torch.Tensor) -> tuple[Box, torch.Tensor]:
    """A full-frame bool mask -> its box and the box-sized crop of it."""
    ys, xs = torch.nonzero(region, as_tuple=True)
    box = Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return box, region[box.y0 : box.y1, box.x0 : box.x1]


def _grid_in(rgb: torch.Tensor, box: Box, inside: torch.Tensor) -> Grid | None:
    """estimate_grid on the box alone, offsets put back into the frame's coordinates."""
    g = estimate_grid(rgb[:, box.y0 : box.y1, box.x0 : box.x1], inside)
    return None if g is None else Grid(g.block_h, g.block_w, g.offset_y + box.y0, g.offset_x + box.x0)


def remove_mosaics(
    frame: torch.Tensor,
    *,
    restorer: Restorer,
    mask: torch.Tensor | None = None,
    grid: Grid | None = None,
    grow: int = 0,
    feather: int = 0,
    detect: DetectMosaics | None = None,
) -> RemoveResult:
    """Restore the mosaics of `frame` ((C, H, W) in [-1, 1], C = 1 or 3).

    mask: (H, W) in [0, 1], where the mosaics are (None: find them). grid: use this grid for
    every region instead of reading it from the pixels. grow, feather: pixels added around
    each region (`ops.masks.grow_mask`, `feather_mask`); pixels farther out never change.
    detect: how mosaics are found with no mask (`localize.mosaics.detector.mosaic_detector`;
    None: the classical finder).
    Each region is worked on in a window around it (its reach, plus the restorer's context),
    so a small region in a large photo costs about what the region costs.
    """
    if frame.ndim != 3 or frame.shape[0] not in (1, 3):
        raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(frame.shape)}")
    rgb = to_rgb(frame)
    height, width = frame.shape[1:]
    regions: list[tuple[Box, torch.Tensor, Grid | None, str]] = []
    if mask is None:
        _, found = (detect or find_mosaics)(rgb)
        regions = [(*_tight(f.mask), grid or f.grid, "detector") for f in found]
    else:
        for box, inside in split_regions(mask):
            regions.append((box, inside, grid or _grid_in(rgb, box, inside), "mask"))
    out = rgb
    applied = torch.zeros(height, width)
    results = []
    for box, inside, region_grid, how in regions:
        if region_grid is None:
            results.append(RegionResult(tuple(box), region_grid, how))
            continue
        # Everything this region can change or read: grow + feather around it, then the
        # restorer's context (MARGIN_BLOCKS, plus one block to reach the grid lines).
        reach = grow + feather + 1 + (MARGIN_BLOCKS + 1) * max(region_grid.block_h, region_grid.block_w)
        win = Box(max(box.x0 - reach, 0), max(box.y0 - reach, 0),
                  min(box.x1 + reach, width), min(box.y1 + reach, height))
        rows, cols = slice(win.y0, win.y1), slice(win.x0, win.x1)
        here = (slice(box.y0 - win.y0, box.y1 - win.y0), slice(box.x0 - win.x0, box.x1 - win.x0))
        soft = torch.zeros(win.height, win.width)
        soft[here] = inside.float()
        if mask is not None:  # a soft user mask keeps its grey levels inside the region
            soft[here] = torch.where(inside, mask[box.y0 : box.y1, box.x0 : box.x1].float(), soft[here])
        soft = feather_mask(grow_mask(soft[None], radius=grow), width=feather).reshape(soft.shape)
        local = Grid(region_grid.block_h, region_grid.block_w, region_grid.offset_y - win.y0,
                     region_grid.offset_x - win.x0)
        # The recipe is read from the region as found (not grown) in the frame as it came.
        found = torch.zeros(1, win.height, win.width)
        found[0][here] = inside.float()
        recipe = restorer.estimate_recipe(rgb[:, rows, cols], found, grid=local)
        results.append(RegionResult(tuple(box), region_grid, how, recipe))
        if out is rgb:
            out = rgb.clone()  # only when something is restored: a frame with none is not copied
        out[:, rows, cols] = restorer.restore(out[:, rows, cols], soft[None], grid=local, recipe=recipe)
        applied[rows, cols] = torch.maximum(applied[rows, cols], soft)
    if out is rgb:
        return RemoveResult(frame=frame, mask=applied, regions=results)
    if frame.shape[0] == 1:
        # Grey in, grey out: the restorer saw the grey repeated three times; its channels
        # differ a little, and their mean is the grey estimate. Untouched pixels stay exact.
        grey = out.mean(dim=0, keepdim=True)
        out = torch.where(applied[None] > 0, grey, frame)
    return RemoveResult(frame=out, mask=applied, regions=results)
