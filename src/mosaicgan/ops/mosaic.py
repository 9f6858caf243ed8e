"""Mosaic (pixelation) of a masked region, as pure, vectorised tensor functions.

How the block grid meets the mask: blocks tile the whole image on a fixed grid (lines at
y = offset_y + k * block_h, x = offset_x + k * block_w). A block's statistic (mean, median,
one of its pixels) is computed over the whole block, inside and outside the mask alike, so the
result looks like real pixelation and does not depend on the outline of the region. Then the
mosaic is blended in through the mask: out = img * (1 - m) + mosaic * m, and where m == 0 the
output is the input bit for bit (see `blend.composite`).

Blocks cut by the image border are averaged (or their median / a pixel taken) over their real
pixels only; nothing is padded in. No op loops over blocks: statistics come from one reshape
of the padded image, and are spread back to pixels with index_select.
"""

from __future__ import annotations

import math
from typing import Union

import torch
import torch.nn.functional as F

from mosaicgan.ops.blend import composite
from mosaicgan.ops.masks import as_mask, feather_mask, grow_mask

STYLES = ("average", "median", "random", "blur")

# One size (square), (block_h, block_w), or one per image: a tensor (N,) or (N, 2).
BlockSize = Union[int, tuple[int, int], torch.Tensor]


def block_shape(size: int, *, aspect: float = 1.0) -> tuple[int, int]:
    """(block_h, block_w) with about the area of a size x size block and width/height = aspect."""
    if size < 1 or aspect <= 0:
        raise ValueError(f"block size must be >= 1 and aspect > 0, got {size} and {aspect}")
    root = math.sqrt(aspect)
    return max(1, round(size / root)), max(1, round(size * root))


def auto_block_size(
    mask: torch.Tensor,
    *,
    fraction: float = 0.1,
    by: str = "area",
    min_block: int = 4,
    max_block: int | None = None,
) -> torch.Tensor:
    """A block size per image from the size of its region: int64 tensor (N,) on the CPU.

    The rule: block = round(fraction * L), clamped to [min_block, max_block], where L is
    - by="area": the square root of the mask's area (its sum, so soft edges count in part).
      A disc of diameter D has L ~ 0.89 D; the default fraction gives about 10 blocks across
      a compact region whatever its outline.
    - by="box": the longer side of the bounding box of mask > 0. Long thin regions then get
      the blocks their length calls for, rather than blocks sized by their small area.
    An empty mask gets min_block. Mask shapes as in `as_mask`.
    """
    m = as_mask(mask)
    if by == "area":
        length = m.flatten(1).float().sum(dim=1).sqrt()
    elif by == "box":
        inside = m[:, 0] > 0
        length = torch.maximum(_span(inside.any(dim=2)), _span(inside.any(dim=1))).float()
    else:
        raise ValueError(f"by must be 'area' or 'box', got {by!r}")
    size = (fraction * length).round().long().clamp(min=min_block)
    if max_block is not None:
        size = size.clamp(max=max_block)
    return size.cpu()


def _span(occupied: torch.Tensor) -> torch.Tensor:
    """Length from the first to the last True along the last axis (0 where none): (N, L) -> (N,)."""
    idx = torch.arange(occupied.shape[-1], device=occupied.device)
    first = torch.where(occupied, idx, occupied.shape[-1]).amin(dim=-1)
    last = torch.where(occupied, idx, -1).amax(dim=-1)
    return (last - first + 1).clamp(min=0)


def pixelate(
    img: torch.Tensor,
    mask: torch.Tensor,
    *,
    block: BlockSize,
    style: str = "average",
    offset: tuple[int, int] = (0, 0),
    sigma: float | tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mosaic the masked region of `img`; every pixel where mask == 0 is returned unchanged.

    img: (N, C, H, W) or (C, H, W), float in [-1, 1]. mask: (H, W), (1, H, W) or (N, 1, H, W)
    in [0, 1] (batch size 1 applies to all images); a soft mask blends the mosaic in part.
    block: a square size, (block_h, block_w) for rectangular blocks (see `block_shape`), or a
    tensor (N,) / (N, 2) of per-image sizes (e.g. from `auto_block_size`); images are grouped
    by size, so the only Python loop is over the distinct sizes.
    style:
    - "average": each block's mean;
    - "median": each block's median per channel (the lower middle value for an even count,
      so it is always a value present in the block);
    - "random": all channels of one pixel of the block, drawn with `generator` (required:
      this function has no hidden randomness; it must be on img's device);
    - "blur": a Gaussian blur instead of blocks, standard deviation `sigma` (one value, or
      (sigma_y, sigma_x)), by default half the block size per axis. Near the border it
      averages real pixels only, like the partial blocks.
    offset: (y, x) of one grid line crossing, so that the grid can sit anywhere (ignored by blur).
    Returns a new tensor shaped like img.
    """
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    if style == "random" and generator is None:
        raise ValueError("style 'random' needs an explicit torch.Generator")
    if not img.is_floating_point():
        raise ValueError(f"img must be a floating point tensor, got {img.dtype}")
    m = as_mask(mask, image=img)
    chw = img.ndim == 3
    x = img[None] if chw else img
    sizes = _per_image_blocks(block, x.shape[0])
    distinct = sorted(set(sizes))
    if len(distinct) == 1:
        mosaic = _mosaic(x, distinct[0], style=style, offset=offset, sigma=sigma, generator=generator)
    else:
        mosaic = torch.empty_like(x)
        for size in distinct:
            idx = torch.tensor([i for i, s in enumerate(sizes) if s == size], device=x.device)
            part = _mosaic(x[idx], size, style=style, offset=offset, sigma=sigma, generator=generator)
            mosaic.index_copy_(0, idx, part)
    out = composite(x, mosaic, m)
    return out[0] if chw else out


def mosaic_region(
    img: torch.Tensor,
    mask: torch.Tensor,
    *,
    block: BlockSize,
    style: str = "average",
    grow: int = 0,
    feather: int = 0,
    offset: tuple[int, int] = (0, 0),
    sigma: float | tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Grow (or shrink, grow < 0) the mask by a disc, feather its edge outwards, then pixelate.

    This fixes the order every caller uses, so that a recorded (grow, feather) means the same
    thing everywhere: pixels farther than grow + feather from the region (Chebyshev distance
    for the feather part) are returned bit for bit. Other arguments as in `pixelate`.
    """
    m = feather_mask(grow_mask(as_mask(mask, image=img), radius=grow), width=feather)
    return pixelate(img, m, block=block, style=style, offset=offset, sigma=sigma, generator=generator)


def _per_image_blocks(block: BlockSize, n: int) -> list[tuple[int, int]]:
    if isinstance(block, torch.Tensor):
        b = block.detach().to("cpu", torch.int64)
        if b.ndim == 1:
            b = torch.stack([b, b], dim=1)
        if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] not in (1, n):
            raise ValueError(f"a block tensor must be (N,) or (N, 2) with N = {n}; got {tuple(block.shape)}")
        sizes = [(int(h), int(w)) for h, w in b.expand(n, 2).tolist()]
    elif isinstance(block, int):
        sizes = [(block, block)] * n
    else:
        bh, bw = block
        sizes = [(int(bh), int(bw))] * n
    if any(h < 1 or w < 1 for h, w in sizes):
        raise ValueError(f"block sizes must be >= 1, got {block}")
    return sizes


def _mosaic(
    x: torch.Tensor,
    size: tuple[int, int],
    *,
    style: str,
    offset: tuple[int, int],
    sigma: float | tuple[float, float] | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The mosaic of every pixel of x (N, C, H, W), before any mask."""
    bh, bw = size
    if style == "blur":
        # Half a block per axis: about as coarse as the pixelation it stands in for.
        return gaussian_blur(x, sigma=(bh / 2, bw / 2) if sigma is None else sigma)
    n, c, h, w = x.shape
    rows = _Grid(h, bh, offset[0], x.device)
    cols = _Grid(w, bw, offset[1], x.device)
    if style == "random":
        # One uniform number per block and axis picks a real pixel of the (possibly cut) block.
        u = torch.rand((n, 2, rows.count, cols.count), generator=generator, device=x.device)
        ys = (u[:, 0] * rows.length[:, None]).long().minimum(rows.length[:, None] - 1) + rows.start[:, None]
        xs = (u[:, 1] * cols.length[None, :]).long().minimum(cols.length[None, :] - 1) + cols.start[None, :]
        flat = (ys * w + xs).view(n, 1, -1).expand(n, c, -1)
        stats = x.reshape(n, c, h * w).gather(2, flat).view(n, c, rows.count, cols.count)
    else:
        # NaN padding is skipped by nanmedian; zero padding adds nothing to a sum.
        fill = math.nan if style == "median" else 0.0
        padded = F.pad(x, (cols.before, cols.after, rows.before, rows.after), value=fill)
        blocks = padded.view(n, c, rows.count, bh, cols.count, bw)
        if style == "average":
            total = blocks.sum(dim=(3, 5), dtype=torch.float32)
            stats = (total / (rows.length[:, None] * cols.length[None, :])).to(x.dtype)
        else:
            flat = blocks.permute(0, 1, 2, 4, 3, 5).reshape(n, c, rows.count, cols.count, bh * bw)
            stats = flat.nanmedian(dim=-1).values
    return stats.index_select(2, rows.block_of).index_select(3, cols.block_of)


class _Grid:
    """Block layout along one axis of `length` pixels, blocks of `block`, a line at `offset`."""

    def __init__(self, length: int, block: int, offset: int, device: torch.device) -> None:
        self.before = (-offset) % block  # padding that puts a grid line at padded index 0
        self.count = -(-(length + self.before) // block)
        self.after = self.count * block - length - self.before
        pixel = torch.arange(length, device=device)
        self.block_of = (pixel + self.before) // block  # block index of each pixel
        first = torch.arange(self.count, device=device) * block - self.before
        self.start = first.clamp(min=0)
        self.length = (first + block).clamp(max=length) - self.start  # real pixels per block


def gaussian_blur(x: torch.Tensor, *, sigma: float | tuple[float, float]) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), radius ceil(3 sigma), per axis (sigma_y, sigma_x).

    Normalised convolution: near the border the weights of the real pixels are renormalised
    to sum to 1, instead of blending in padding. sigma 0 leaves an axis as it is.
    """
    sy, sx = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    if sy < 0 or sx < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    n, c, h, w = x.shape
    out = x.reshape(n * c, 1, h, w)
    for s, dim in ((sx, 3), (sy, 2)):
        if s == 0:
            continue
        radius = math.ceil(3 * s)
        taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-(taps**2) / (2 * s * s))
        kernel = kernel / kernel.sum()
        shape, pad = ((1, 1, 1, -1), (0, radius)) if dim == 3 else ((1, 1, -1, 1), (radius, 0))
        out = F.conv2d(out, kernel.view(shape), padding=pad)
        # The weight each output pixel got from real pixels: the same 1-D convolution of ones.
        ones = torch.ones(1, 1, out.shape[dim], device=x.device, dtype=x.dtype)
        weight = F.conv1d(ones, kernel.view(1, 1, -1), padding=radius).flatten()
        out = out / (weight.view(1, 1, 1, -1) if dim == 3 else weight.view(1, 1, -1, 1))
    return out.reshape(n, c, h, w)
