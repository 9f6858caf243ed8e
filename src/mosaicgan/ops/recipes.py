"""How mosaics are made in the wild: recipes, as pure functions, and what a block value measures.

Almost every pixelation tool does the same two things: it reduces each block of the region to
one value, then shows that value over the whole block (a resize back up with "nearest").
They differ in the first step, and so in what a block value says about the pixels under it:

- `mean`: the mean of its pixels (GIMP Pixelize, Photoshop Mosaic, FFmpeg `pixelize` avg,
  resize down with area or Pillow BOX, `mosaicgan add`);
- `median`: the median of its pixels per channel (`mosaicgan add --style median`);
- `nearest`: its top-left pixel (OpenCV INTER_NEAREST, numpy `img[::b, ::b]`, torch "nearest");
- `nearest-centre`: its centre pixel, right of / below the middle for even sizes (Pillow
  NEAREST, torch "nearest-exact", OpenCV INTER_NEAREST_EXACT);
- `random-pixel`: one of its pixels drawn at random (`mosaicgan add --style random`);
- `bilinear`: bilinear at its centre, i.e. the mean of the middle 2 x 2 pixels, or the centre
  pixel for odd sizes (OpenCV INTER_LINEAR, Core Image's CIPixellate);
- `bicubic`: cubic convolution (a = -0.75) at its centre, 4 x 4 taps, no antialiasing (OpenCV
  INTER_CUBIC);
- `pil-bilinear`: a triangle over the 2 x 2 blocks around its centre (Pillow BILINEAR, which
  antialiases: the kernel is stretched by the block size);
- `pil-bicubic`: a cubic (a = -0.5) over 4 x 4 blocks (Pillow BICUBIC, `Image.resize`'s default);
- `min` / `max`: the smallest / largest value of its pixels per channel (FFmpeg `pixelize`
  mode=min / max, on RGB frames; on YUV frames FFmpeg takes them per Y, U, V plane).

Blocks follow `ops.grid.Grid` (lines at offset + k * block, rectangular blocks allowed) over the
whole image, as `ops.mosaic.pixelate` does, and the mosaic is blended in through the mask; a
tool that pixelates a crop starts its grid at the crop's corner, which is one such offset.
Blocks cut by the image border use their real pixels only: kernel weights are renormalised
over them, and a point whose pixel lies outside takes the nearest real pixel of the block.
Tools that resize by a factor that is not whole make blocks of two sizes; that is not modelled.

Each linear recipe's measurement operator (`measurement`) gives, per axis, the taps of the
kernel a block value is (relative to the block's first pixel), where the value sits (the taps'
centroid, what interpolating the values should use) and whether the kernels of different blocks
overlap; `project` is the orthogonal projection onto "every block's kernel gives its value" where
they do not (the consistency step; for `mean` it is `ops.unmosaic.project_means`). `min` and
`max` bound every pixel of the block from one side (`project` clamps); `median` and
`random-pixel` give no constraint that a projection could use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mosaicgan.choices import MOSAIC_RECIPES as RECIPES
from mosaicgan.ops.blend import composite
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import as_mask
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.unmosaic import block_layout, spread_blocks

# Recipes `pixelate` makes itself, and the style it calls each one.
_PIXELATE = {"mean": "average", "median": "median", "random-pixel": "random"}
LINEAR = ("mean", "nearest", "nearest-centre", "bilinear", "bicubic", "pil-bilinear", "pil-bicubic")
BOUNDS = {"min": "lower", "max": "upper"}  # every pixel of the block is >= (lower) / <= (upper) its value


def _cubic(t: torch.Tensor, a: float) -> torch.Tensor:
    """Keys' cubic convolution kernel with parameter a."""
    t = t.abs()
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, near, torch.where(t < 2, far, torch.zeros_like(t)))


def axis_taps(recipe: str, block: int) -> tuple[int, torch.Tensor]:
    """(first, weights): a block value along one axis is sum_k weights[k] * x[start + first + k],
    start the block's first pixel. Weights sum to 1 (float64). Linear recipes only."""
    if recipe not in LINEAR:
        raise ValueError(f"recipe {recipe!r} is not linear; linear ones: {LINEAR}")
    b = block
    one = torch.ones(1, dtype=torch.float64)
    if recipe == "mean":
        return 0, torch.full((b,), 1.0 / b, dtype=torch.float64)
    if recipe == "nearest":
        return 0, one
    if recipe == "nearest-centre":
        return b // 2, one
    centre = (b - 1) / 2  # OpenCV's source position of output pixel k: (k + 0.5) * b - 0.5
    if recipe == "bilinear":
        lo = math.floor(centre)
        frac = centre - lo
        return (lo, one) if frac == 0 else (lo, torch.tensor([1 - frac, frac], dtype=torch.float64))
    if recipe == "bicubic":
        lo = math.floor(centre)
        pos = torch.arange(lo - 1, lo + 3, dtype=torch.float64)
        return lo - 1, _cubic(pos - centre, -0.75)
    # Pillow's antialiased filters: the kernel stretched by the scale, centred on (k + 0.5) * b
    # in pixel-edge coordinates (pixel j's centre at j + 0.5), normalised to sum to 1.
    support = 1.0 if recipe == "pil-bilinear" else 2.0
    mid = b / 2
    lo, hi = math.floor(mid - support * b), math.ceil(mid + support * b)
    pos = torch.arange(lo, hi, dtype=torch.float64)
    t = (pos + 0.5 - mid) / b
    w = (1 - t.abs()).clamp(min=0) if recipe == "pil-bilinear" else _cubic(t, -0.5)
    nonzero = (w != 0).nonzero().flatten()  # trim the zero ends only: a cubic is 0 inside too
    a, z = int(nonzero[0]), int(nonzero[-1]) + 1
    return int(pos[a]), w[a:z] / w[a:z].sum()


@dataclass(frozen=True)
class Measurement:
    """What a block value of `recipe` says about the pixels under it (see the module docstring).

    centroid: (y, x) where the value sits, in pixels from the block's first pixel (the mean
    position of its kernel; the block centre for recipes without one). disjoint: the kernels of
    different blocks share no pixel, so `project` is exact. bound: "lower" / "upper" for min /
    max, else None."""

    recipe: str
    block_h: int
    block_w: int
    centroid: tuple[float, float]
    linear: bool
    disjoint: bool
    bound: str | None

    @property
    def offset_from_centre(self) -> tuple[float, float]:
        """The centroid's offset from the block centre, in blocks (0 for a centred value)."""
        return ((self.centroid[0] - (self.block_h - 1) / 2) / self.block_h,
                (self.centroid[1] - (self.block_w - 1) / 2) / self.block_w)


def measurement(recipe: str, *, block_h: int, block_w: int) -> Measurement:
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if recipe not in LINEAR:
        return Measurement(recipe, block_h, block_w, ((block_h - 1) / 2, (block_w - 1) / 2), linear=False,
                           disjoint=False, bound=BOUNDS.get(recipe))
    cents, disjoint = [], True
    for b in (block_h, block_w):
        first, w = axis_taps(recipe, b)
        cents.append(float((w * torch.arange(first, first + len(w), dtype=torch.float64)).sum()))
        disjoint &= first >= 0 and first + len(w) <= b
    return Measurement(recipe, block_h, block_w, (cents[0], cents[1]), linear=True, disjoint=disjoint, bound=None)


def _axis_matrix(recipe: str, *, length: int, block: int, offset: int, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    """(blocks, length): row i holds block i's weights over the real pixels of this axis
    (renormalised where the kernel leaves the image; the nearest real pixel of the block when
    none of its taps lands on one). Blocks as `ops.unmosaic.block_layout` counts them."""
    before = (-offset) % block
    count = -(-(length + before) // block)
    first, w = axis_taps(recipe, block)
    starts = torch.arange(count, dtype=torch.int64) * block - before
    pos = starts[:, None] + first + torch.arange(len(w))[None, :]  # (count, taps)
    real = (pos >= 0) & (pos < length)
    weights = torch.where(real, w[None, :], torch.zeros((), dtype=torch.float64))
    total = weights.sum(dim=1, keepdim=True)
    mat = torch.zeros(count, length, dtype=torch.float64)
    mat.scatter_add_(1, pos.clamp(0, length - 1), weights)
    # A kernel with (almost) nothing on real pixels: the nearest real pixel of the block itself.
    lost = total[:, 0].abs() < 1e-6
    if lost.any():
        centre = (starts + first + (len(w) - 1) // 2).clamp(0, length - 1)
        lo, hi = starts.clamp(0, length - 1), (starts + block - 1).clamp(0, length - 1)
        pick = torch.minimum(torch.maximum(centre, lo), hi)
        mat[lost] = 0
        mat[lost, pick[lost]] = 1.0
        total = torch.where(lost[:, None], torch.ones_like(total), total)
    return (mat / total).to(device=device, dtype=dtype)


def block_values(img: torch.Tensor, grid: Grid, *, recipe: str,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """The value `recipe` gives each block of `grid`: (N, C, H, W) -> (N, C, rows, cols),
    rows x cols as `ops.unmosaic.block_layout` counts them (border blocks included)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    h, w = img.shape[-2:]
    if recipe in _PIXELATE or recipe in BOUNDS:
        lay = block_layout(grid, height=h, width=w)
        if recipe in BOUNDS:
            fill = math.inf if recipe == "min" else -math.inf
            padded = F.pad(img, (lay.left, lay.right, lay.top, lay.bottom), value=fill)
            blocks = padded.view(*img.shape[:2], lay.rows, lay.block_h, lay.cols, lay.block_w)
            return blocks.amin(dim=(3, 5)) if recipe == "min" else blocks.amax(dim=(3, 5))
        full = pixelate(img, torch.ones(1, 1, h, w, dtype=img.dtype), block=grid.block, offset=grid.offset,
                        style=_PIXELATE[recipe], generator=generator)
        # Each block is flat now: any of its real pixels is its value.
        rows = (torch.arange(lay.rows) * lay.block_h - lay.top).clamp(0, h - 1)
        cols = (torch.arange(lay.cols) * lay.block_w - lay.left).clamp(0, w - 1)
        return full[..., rows, :][..., cols]
    my = _axis_matrix(recipe, length=h, block=grid.block_h, offset=grid.offset_y, dtype=torch.float64,
                      device=img.device)
    mx = _axis_matrix(recipe, length=w, block=grid.block_w, offset=grid.offset_x, dtype=torch.float64,
                      device=img.device)
    return torch.einsum("ip,ncpq,jq->ncij", my, img.double(), mx).to(img.dtype)


def mosaic_recipe(img: torch.Tensor, mask: torch.Tensor, *, recipe: str, grid: Grid,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Mosaic the masked region of `img` ((N, C, H, W) or (C, H, W) in [-1, 1]) the way
    `recipe` does, on `grid`; every pixel where mask == 0 is returned unchanged (soft masks
    blend in part). "random-pixel" needs an explicit generator, as `pixelate`'s "random".

    Only the blocks meeting the region (plus the reach of the recipe's kernel) are computed,
    with the values of the whole-image computation."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if recipe in _PIXELATE:
        return pixelate(img, mask, block=grid.block, offset=grid.offset, style=_PIXELATE[recipe], generator=generator)
    chw = img.ndim == 3
    x = img[None] if chw else img
    m = as_mask(mask, image=x)
    h, w = x.shape[-2:]
    inside = (m > 0).any(dim=0)[0]
    rows, cols = inside.any(dim=1).nonzero().flatten(), inside.any(dim=0).nonzero().flatten()
    if rows.numel() == 0:
        return img.clone()
    # Out to the grid lines around the region, then two more blocks: the widest kernel
    # (pil-bicubic) reaches 1.5 blocks beyond its own.
    y0, y1 = _span(int(rows[0]), int(rows[-1]) + 1, grid.block_h, grid.offset_y, h)
    x0, x1 = _span(int(cols[0]), int(cols[-1]) + 1, grid.block_w, grid.offset_x, w)
    crop = x[..., y0:y1, x0:x1]
    local = Grid(grid.block_h, grid.block_w, grid.offset_y - y0, grid.offset_x - x0)
    values = block_values(crop, local, recipe=recipe)
    mosaic = spread_blocks(values, local, height=y1 - y0, width=x1 - x0)
    out = x.clone()
    out[..., y0:y1, x0:x1] = composite(crop, mosaic, m[..., y0:y1, x0:x1])
    return out[0] if chw else out


def _span(first: int, last: int, block: int, line: int, length: int) -> tuple[int, int]:
    lo = line + (first - line) // block * block - 2 * block
    hi = line - (line - last) // block * block + 2 * block
    return max(lo, 0), min(hi, length)


def project(x: torch.Tensor, values: torch.Tensor, grid: Grid, *, recipe: str, where: torch.Tensor) -> torch.Tensor:
    """The consistency step: x (N, C, H, W) moved onto what the observed block `values`
    (N, C, rows, cols) say, in the blocks where `where` (bool (N or 1, 1, rows, cols)) holds.

    Linear recipes whose kernels do not overlap (`Measurement.disjoint`): each block moved along
    its kernel k by (value - k.x) / |k|^2, the orthogonal projection onto {k.x = value}, which
    can never move x farther from any image that has these values. min / max: each pixel
    clamped to its block's bound (the projection onto that convex set). Other recipes (median,
    random-pixel, overlapping kernels): x as it is. No clamping to [-1, 1]."""
    meas = measurement(recipe, block_h=grid.block_h, block_w=grid.block_w)
    h, w = x.shape[-2:]
    if meas.bound is not None:
        spread = spread_blocks(values, grid, height=h, width=w)
        here = spread_blocks(where.to(x.dtype), grid, height=h, width=w) > 0
        clamped = torch.maximum(x, spread) if meas.bound == "lower" else torch.minimum(x, spread)
        return torch.where(here, clamped, x)
    if not meas.disjoint:
        return x
    my = _axis_matrix(recipe, length=h, block=grid.block_h, offset=grid.offset_y, dtype=x.dtype, device=x.device)
    mx = _axis_matrix(recipe, length=w, block=grid.block_w, offset=grid.offset_x, dtype=x.dtype, device=x.device)
    now = torch.einsum("ip,ncpq,jq->ncij", my, x, mx)
    # |k|^2 per block (kernels are separable): the product of the axes' squared norms.
    norm = (my * my).sum(dim=1)[:, None] * (mx * mx).sum(dim=1)[None, :]
    step = (values - now) / norm * where.to(x.dtype)
    return x + torch.einsum("ip,ncij,jq->ncpq", my, step, mx)
