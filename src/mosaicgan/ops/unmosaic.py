"""Undoing an average mosaic, classically: block means, a smooth base, and data consistency.

An "average" mosaic (`ops.mosaic.pixelate(style="average")`) keeps exactly one number per
block and channel, the block's mean. So every image that could lie under a block of the
mosaic has that mean: the truth lies in the affine set {x : block_means(x) = observed}.
`project_means` is the orthogonal projection onto that set (each block shifted by one
constant), which can never move an estimate farther from the truth; the restorer uses it as
its last layer. `smooth_base` is the classical estimate the restorer improves on: bicubic
interpolation of the block means placed at the block centres.

Blocks follow `ops.grid.Grid` (lines at offset + k * block) exactly as `pixelate` does; blocks
cut by the image border hold only their real pixels, nothing is padded in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import as_mask

FULL = 1.0 - 1e-6  # a block counts as inside the mask when every real pixel has mask >= this


@dataclass(frozen=True)
class BlockLayout:
    """How a grid tiles an image of `height` x `width`: `rows` x `cols` blocks (border blocks
    included), after padding `top`/`left` pixels before the first grid line and
    `bottom`/`right` after the image, so that the padded image is whole blocks."""

    height: int
    width: int
    block_h: int
    block_w: int
    top: int
    left: int
    rows: int
    cols: int

    @property
    def bottom(self) -> int:
        return self.rows * self.block_h - self.height - self.top

    @property
    def right(self) -> int:
        return self.cols * self.block_w - self.width - self.left


def block_layout(grid: Grid, *, height: int, width: int) -> BlockLayout:
    top = (-grid.offset_y) % grid.block_h
    left = (-grid.offset_x) % grid.block_w
    rows = -(-(height + top) // grid.block_h)
    cols = -(-(width + left) // grid.block_w)
    return BlockLayout(height, width, grid.block_h, grid.block_w, top, left, rows, cols)


def _pad(x: torch.Tensor, lay: BlockLayout) -> torch.Tensor:
    return F.pad(x, (lay.left, lay.right, lay.top, lay.bottom))


def _block_sums(x: torch.Tensor, lay: BlockLayout) -> torch.Tensor:
    n, c = x.shape[:2]
    blocks = _pad(x, lay).view(n, c, lay.rows, lay.block_h, lay.cols, lay.block_w)
    return blocks.sum(dim=(3, 5))


def _real_counts(lay: BlockLayout, like: torch.Tensor) -> torch.Tensor:
    """Real (unpadded) pixels per block: (1, 1, rows, cols)."""
    ones = like.new_ones(1, 1, lay.height, lay.width)
    return _block_sums(ones, lay)


def block_means(img: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Mean of each block over its real pixels: (N, C, H, W) -> (N, C, rows, cols)."""
    lay = block_layout(grid, height=img.shape[-2], width=img.shape[-1])
    return _block_sums(img, lay) / _real_counts(lay, img)


def spread_blocks(values: torch.Tensor, grid: Grid, *, height: int, width: int) -> torch.Tensor:
    """Each block's value over its pixels: (N, C, rows, cols) -> (N, C, H, W) (the mosaic itself)."""
    lay = block_layout(grid, height=height, width=width)
    full = values.repeat_interleave(lay.block_h, dim=-2).repeat_interleave(lay.block_w, dim=-1)
    return full[..., lay.top : lay.top + height, lay.left : lay.left + width]


def full_blocks(mask: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Bool (N, 1, rows, cols): blocks whose every real pixel lies inside the mask (mask ~ 1).
    Only there is the observed block mean known to be the true one."""
    mask = as_mask(mask)
    lay = block_layout(grid, height=mask.shape[-2], width=mask.shape[-1])
    outside = (mask < FULL).float()
    return _block_sums(outside, lay) == 0


def smooth_base(means: torch.Tensor, grid: Grid, *, height: int, width: int) -> torch.Tensor:
    """Bicubic interpolation of block means placed at the block centres, clamped to [-1, 1].

    With align_corners=False and an integer factor per axis, input sample k lands exactly on
    the centre of block k of the padded image; beyond the outer centres the values are held.
    """
    lay = block_layout(grid, height=height, width=width)
    up = F.interpolate(means, size=(lay.rows * lay.block_h, lay.cols * lay.block_w), mode="bicubic",
                       align_corners=False)
    return up[..., lay.top : lay.top + height, lay.left : lay.left + width].clamp(-1, 1)


def placed_base(values: torch.Tensor, grid: Grid, *, height: int, width: int,
                centroid: tuple[float, float]) -> torch.Tensor:
    """Bicubic interpolation (a = -0.75, edges held) of block values placed where they were
    measured: `centroid` (y, x) pixels from each block's first pixel (`ops.recipes.measurement`).
    With the block centre ((block - 1) / 2) it is `smooth_base`; a mosaic of top-left pixels
    needs its values placed at the top left, or the whole estimate shifts by half a block.
    (N, C, rows, cols) -> (N, C, H, W), clamped to [-1, 1]."""
    lay = block_layout(grid, height=height, width=width)
    n = values.shape[0]

    def coords(length: int, before: int, block: int, centre: float, count: int) -> torch.Tensor:
        # Pixel p of the image sits at (p + before - centre) / block in units of sample indices.
        u = (torch.arange(length, dtype=torch.float64) + before - centre) / block
        if count == 1:
            return torch.zeros(length, dtype=values.dtype)
        return (2 * u / max(count - 1, 1) - 1).to(values.dtype)

    gy = coords(height, lay.top, grid.block_h, centroid[0], lay.rows).to(values.device)
    gx = coords(width, lay.left, grid.block_w, centroid[1], lay.cols).to(values.device)
    where = torch.stack(torch.broadcast_tensors(gx[None, :], gy[:, None]), dim=-1)  # (H, W, 2) as (x, y)
    out = F.grid_sample(values, where[None].expand(n, -1, -1, -1), mode="bicubic", padding_mode="border",
                        align_corners=True)
    return out.clamp(-1, 1)


def shift_lattice(values: torch.Tensor, shift: tuple[float, float]) -> torch.Tensor:
    """Values measured at lattice positions k + shift (in blocks, per axis; see
    `ops.recipes.Measurement.offset_from_centre`) -> the values at k, by bicubic interpolation
    (edges held). What a network that reads values at the block centres needs to be given."""
    if shift == (0.0, 0.0):
        return values
    n, _, rows, cols = values.shape

    def coords(count: int, s: float) -> torch.Tensor:
        u = torch.arange(count, dtype=torch.float64) - s
        return (2 * u / max(count - 1, 1) - 1).to(values.dtype) if count > 1 else torch.zeros(count, dtype=values.dtype)

    gy, gx = coords(rows, shift[0]).to(values.device), coords(cols, shift[1]).to(values.device)
    where = torch.stack(torch.broadcast_tensors(gx[None, :], gy[:, None]), dim=-1)
    return F.grid_sample(values, where[None].expand(n, -1, -1, -1), mode="bicubic", padding_mode="border",
                         align_corners=True)


def project_means(x: torch.Tensor, means: torch.Tensor, grid: Grid, *, where: torch.Tensor) -> torch.Tensor:
    """Shift each block where `where` (bool (N or 1, 1, rows, cols)) holds so that its mean is
    `means`; other blocks are left as they are.

    Adding one constant to a block's pixels is the smallest change (in L2) that gives the block
    a prescribed mean, so this is the orthogonal projection onto the affine set of images with
    those block means: for any image z in that set, |project(x) - z| <= |x - z|.
    No clamping: clamping to [-1, 1] afterwards is a second projection (onto a convex set that
    also holds the truth), and callers do it where they need it.
    """
    h, w = x.shape[-2:]
    shift = (means - block_means(x, grid)) * where.to(x.dtype)
    return x + spread_blocks(shift, grid, height=h, width=w)


def resample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) to `size`: area averaging when shrinking both sides (block means are kept
    exactly for whole ratios), antialiased bicubic otherwise."""
    if size == tuple(x.shape[-2:]):
        return x
    if size[0] <= x.shape[-2] and size[1] <= x.shape[-1]:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def classical_restore(img: torch.Tensor, mask: torch.Tensor, grid: Grid) -> torch.Tensor:
    """The classical restoration, the one to beat: the smooth base, projected onto the observed
    block means of the blocks fully inside the mask, clamped to [-1, 1]. Returns the whole
    estimate; callers blend it in through the mask.

    Measured on 18 dev photos (BSD68, Set14), an elliptic region, block 8 at offset (3, 5):
    mosaic 20.22 dB, base 21.13 dB, base + projection 21.28 dB inside the region. Further rounds
    of (Gaussian blur, projection) lowered it at every blur width tried (sigma 1/4 to 1/2 block,
    3 to 30 rounds): natural images are not that smooth, so the iteration is not used.
    """
    h, w = img.shape[-2:]
    means = block_means(img, grid)
    base = smooth_base(means, grid, height=h, width=w)
    return project_means(base, means, grid, where=full_blocks(mask, grid)).clamp(-1, 1)


def lattice_features(img: torch.Tensor, mask: torch.Tensor, grid: Grid, *, scale: int) -> torch.Tensor:
    """What the restorer network sees, one value per block: (N, 7, rows, cols) =
    the block means of the observed image (3), the share of the block inside the mask (1),
    whether the block is fully inside (1, so its mean is exact), and log2(block_h / scale),
    log2(block_w / scale) (2: how much the network's fixed scale was resampled)."""
    import math

    n = img.shape[0]
    mask = as_mask(mask, image=img)
    means = block_means(img, grid)
    fraction = block_means(mask.expand(n, 1, *mask.shape[-2:]), grid)
    full = full_blocks(mask, grid).to(img.dtype).expand_as(fraction)
    rows, cols = means.shape[-2:]
    size = img.new_empty(n, 2, rows, cols)
    size[:, 0] = math.log2(grid.block_h / scale)
    size[:, 1] = math.log2(grid.block_w / scale)
    return torch.cat([means, fraction, full, size], dim=1)
