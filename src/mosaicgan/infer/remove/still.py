"""Restored regions that keep still where the mosaic under them keeps still.

A restorer sees one frame. On a still mosaic after a video codec the block means wobble by a
level or so from frame to frame, and a restoration made afresh for each frame moves with them
(and the network amplifies them): the restored region shimmers although nothing moved. Here
each region is compared block by block with the previous frame on the mosaic's own grid:

- a block whose mean (every channel) moved by at most `tolerance` levels (0-255 scale) keeps
  the previous output, shifted by exactly that change of mean, so the output still has the
  observed block means, and a slow fade is followed without a fresh restoration;
- a block that changed more takes the fresh restoration; the two are blended over about a
  block at their border, so no seam shows;
- a region whose every block is still is not restored at all (the restorer is skipped).

This needs the region to lie where the previous frame's restored region lay, on the same
grid; otherwise (a moving mosaic, a new one) the region is restored afresh. The previous
output is kept in float, so the shifts add up to the true change since the last restoration.
What a restorer puts in a region is synthesized, still or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from mosaicgan.infer.remove.restorer import crop_on_grid
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, mask_bbox
from mosaicgan.ops.unmosaic import block_means, spread_blocks

Restore = Callable[[torch.Tensor, torch.Tensor, Grid], torch.Tensor]  # (frame, soft (H, W), grid) -> frame


@dataclass
class HeldRegion:
    """A region restored in the previous frame: bool pixels, soft weights, grid."""

    mask: torch.Tensor
    soft: torch.Tensor
    grid: Grid


@dataclass
class StillStats:
    regions: int = 0
    held: int = 0  # regions whose every block was still: no restoration run
    blended: int = 0  # regions partly still
    fresh: int = 0


def grid_box(mask: torch.Tensor, grid: Grid, *, ring: int = 0) -> Box | None:
    """The box of mask > 0 out to the grid's lines, `ring` more blocks on every side, cut to the frame."""
    box = mask_bbox(mask)
    if box is None:
        return None
    height, width = mask.shape[-2:]
    return crop_on_grid(box, grid, height=height, width=width, margin=ring)


def _local(grid: Grid, box: Box) -> Grid:
    return Grid(grid.block_h, grid.block_w, grid.offset_y - box.y0, grid.offset_x - box.x0)


class StillRegions:
    """Frame after frame (in order): `restore(frame, regions, restore=...)` gives the frame with
    its regions restored, still where the mosaic is still. tolerance: levels (0-255) a block
    mean may move and still count as unchanged; 0 turns holding off (every region afresh)."""

    def __init__(self, *, tolerance: float = 6.0) -> None:
        self.tol = tolerance * 2.0 / 255.0  # frames are in [-1, 1]
        self.prev_in: torch.Tensor | None = None
        self.prev_out: torch.Tensor | None = None
        self.prev: list[HeldRegion] = []
        self.stats = StillStats()

    def still_region(self, frame: torch.Tensor, box: Box) -> HeldRegion | None:
        """A region of the previous frame overlapping `box` whose blocks, and a ring of one
        block around them, kept their means: the same mosaic, where it was (so it need not be
        searched for again)."""
        if self.prev_in is None or self.tol <= 0:
            return None
        for held in self.prev:
            b = mask_bbox(held.mask)
            if b is None or b.x0 >= box.x1 or box.x0 >= b.x1 or b.y0 >= box.y1 or box.y0 >= b.y1:
                continue
            ring = grid_box(held.mask, held.grid, ring=1)
            diff = self._mean_change(frame, ring, held.grid)
            if float(diff.abs().amax()) <= self.tol:
                return held
        return None

    def _mean_change(self, frame: torch.Tensor, box: Box, grid: Grid) -> torch.Tensor:
        """(1, C, rows, cols): block means of frame minus those of the previous frame, in box."""
        now = frame[None, :, box.y0:box.y1, box.x0:box.x1]
        before = self.prev_in[None, :, box.y0:box.y1, box.x0:box.x1]
        return block_means(now, _local(grid, box)) - block_means(before, _local(grid, box))

    def _previous(self, soft: torch.Tensor, grid: Grid) -> torch.Tensor | None:
        """The previous frame's weights on `grid` (H, W), where they held at least half of
        `soft`'s pixels; None where they did not (a new or moved mosaic)."""
        inside = soft > 0
        before = None
        for held in self.prev:
            if held.grid == grid:
                before = held.soft if before is None else torch.maximum(before, held.soft)
        if before is None or int((before[inside] >= soft[inside] - 1e-3).sum()) * 2 < int(inside.sum()):
            return None
        return before

    def restore(self, frame: torch.Tensor, regions: list[HeldRegion], *, restore: Restore
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """frame (C, H, W) in [-1, 1]; regions: where (bool, soft) and on which grid. Returns
        (the frame restored, the weights (H, W) applied)."""
        out = frame.clone()
        applied = torch.zeros(frame.shape[1:])
        for region in regions:
            self.stats.regions += 1
            soft, grid = region.soft, region.grid
            box = grid_box(soft, grid)
            if box is None:
                continue
            applied = torch.maximum(applied, soft)
            before = None if self.prev_in is None or self.tol <= 0 else self._previous(soft, grid)
            if before is None:
                out = restore(out, soft, grid)
                self.stats.fresh += 1
                continue
            local = _local(grid, box)
            h, w = box.y1 - box.y0, box.x1 - box.x0
            diff = self._mean_change(frame, box, grid)
            inside = (soft[box.y0:box.y1, box.x0:box.x1] > 0)
            held = self.prev_out[:, box.y0:box.y1, box.x0:box.x1] + spread_blocks(diff, local, height=h, width=w)[0]
            # A block moved when its mean did, or when it holds pixels the previous frame did not restore.
            new_px = (soft[box.y0:box.y1, box.x0:box.x1] > before[box.y0:box.y1, box.x0:box.x1] + 1e-3).float()
            moved = ((diff.abs().amax(dim=1, keepdim=True) > self.tol)
                     | (block_means(new_px[None, None], local) > 0)).float()  # (1, 1, rows, cols)
            moved_px = spread_blocks(moved, local, height=h, width=w)[0, 0]
            if not bool(moved_px[inside].any()):
                out[:, box.y0:box.y1, box.x0:box.x1] = torch.where(inside, held.clamp(-1, 1),
                                                                   out[:, box.y0:box.y1, box.x0:box.x1])
                self.stats.held += 1
                continue
            fresh = restore(out, soft, grid)[:, box.y0:box.y1, box.x0:box.x1]
            # Fresh where blocks moved, held where they did not, blended over about a block.
            k = (max(1, grid.block_w) | 1, max(1, grid.block_h) | 1)
            weight = torch.from_numpy(cv2.blur(moved_px.numpy().astype(np.float32), k))
            weight = torch.maximum(weight, moved_px)  # a moved block is fresh all over
            mixed = weight * fresh + (1 - weight) * held.clamp(-1, 1)
            out[:, box.y0:box.y1, box.x0:box.x1] = torch.where(inside, mixed, out[:, box.y0:box.y1, box.x0:box.x1])
            self.stats.blended += 1
        self.prev_in, self.prev_out, self.prev = frame, out, list(regions)
        return out, applied

    def reset(self) -> None:
        """Forget the previous frame (a frame without regions, a cut)."""
        self.prev_in, self.prev_out, self.prev = None, None, []
