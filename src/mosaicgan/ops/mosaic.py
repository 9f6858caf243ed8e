"""Mosaic (pixelation) of a masked region, as pure, vectorised tensor functions.

How the block grid meets the mask: blocks tile the whole image on a fixed grid (lines at
y = offset_y + k * block_h, x = offset_x + k * block_w). A block's statistic (mean, median,
one of its pixels) is computed over the whole block, inside and outside the mask alike, so the
result looks like real pixelation and does not depend on the outline of the region. Then the
mosaic is blended in through the mask: out = img * (1 - m) + mosaic * m, and where m == 0 the
output is the input bit for bit (see `blend.composite`).

Blocks cut by the image border are averaged (or their median / a pixel taken) over their real
pixels only; nothing is padded in. No op loops over blocks: statistics come from one reshape
of the padded image and are spread back to pixels by broadcasting. Two covers share the grid
but read nothing of the image: "solid" (an opaque fill) and "noise" (a random colour per block).
"""

from __future__ import annotations

import math
import numbers
from typing import Union

import torch
import torch.nn.functional as F

from mosaicgan.choices import COVER_STYLES, DRAWN_STYLES, MOSAIC_STYLES
from mosaicgan.ops.blend import composite
from mosaicgan.ops.masks import as_mask, feather_mask, grow_mask

# One size (square), (block_h, block_w), or one per image: a tensor (N,) or (N, 2).
BlockSize = Union[int, tuple[int, int], torch.Tensor]
# The styles a restorer can learn to undo: what training data (data/transforms, make-pairs) draws from.
STYLES = MOSAIC_STYLES
# The "solid" cover: black, the colour of a redaction bar.
SOLID_FILL = -1.0


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
    return block_from_length(length, fraction=fraction, min_block=min_block, max_block=max_block)


def block_from_length(length: torch.Tensor, *, fraction: float, min_block: int = 4,
                      max_block: int | None = None) -> torch.Tensor:
    """`auto_block_size`'s rule on a region's length L (any shape): round(fraction * L),
    clamped to [min_block, max_block]; int64 on the CPU."""
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
      this function has no hidden randomness); a CPU generator gives the same picks whatever
      img's device, a CUDA generator draws on the GPU;
    - "blur": a Gaussian blur instead of blocks, standard deviation `sigma` (one value, or
      (sigma_y, sigma_x)), by default half the block size per axis. Near the border it
      averages real pixels only, like the partial blocks;
    - "solid": an opaque fill (`SOLID_FILL`), whatever the block;
    - "noise": each block one colour drawn uniformly from [-1, 1] per channel with `generator`
      (required), independent of the pixels: it looks like a mosaic and holds nothing of the region.
    offset: (y, x) of one grid line crossing, so that the grid can sit anywhere (ignored by blur).
    Returns a new tensor shaped like img.

    Only the blocks that meet the region are computed (the bounding box of mask > 0 over the
    batch, out to whole blocks; for blur, out by the kernel radius), so a small region in a
    large image costs little. The values are those of the whole-image computation (blur: to
    float rounding); "random" draws one pick per computed block, so its draws follow that box.
    """
    if style not in COVER_STYLES:
        raise ValueError(f"style must be one of {COVER_STYLES}, got {style!r}")
    if style in DRAWN_STYLES and generator is None:
        raise ValueError(f"style {style!r} needs an explicit torch.Generator")
    if not img.is_floating_point():
        raise ValueError(f"img must be a floating point tensor, got {img.dtype}")
    m = as_mask(mask, image=img)
    chw = img.ndim == 3
    x = img[None] if chw else img
    n, _, h, w = x.shape
    sizes = _per_image_blocks(block, n)
    out = None
    for size in sorted(set(sizes)):  # one pass unless the images have different block sizes
        picks = [i for i, s in enumerate(sizes) if s == size]
        group = x if len(picks) == n else x[picks]
        group_mask = m if m.shape[0] == 1 or len(picks) == n else m[picks]
        sig = _sigma(size, sigma)
        margin = _blur_radius(sig) if style == "blur" else None
        window = _window(group_mask, size, offset=offset, margin=margin)
        if window is None:  # nothing masked in this group
            continue
        y0, y1, x0, x1 = window
        crop = group[..., y0:y1, x0:x1]
        local = (offset[0] - y0, offset[1] - x0)  # the same grid, in the crop's coordinates
        mosaic = _mosaic(crop, size, style=style, offset=local, sigma=sig, generator=generator)
        blended = composite(crop, mosaic, group_mask[..., y0:y1, x0:x1])
        if len(picks) == n and window == (0, h, 0, w):
            out = blended  # the whole image: no copy to write into
        else:
            out = x.clone() if out is None else out
            out[picks if len(picks) < n else slice(None), :, y0:y1, x0:x1] = blended
    out = x.clone() if out is None else out
    return out[0] if chw else out


def _sigma(size: tuple[int, int], sigma: float | tuple[float, float] | None) -> tuple[float, float]:
    if sigma is None:
        return size[0] / 2, size[1] / 2  # half a block: about as coarse as the pixelation it replaces
    if isinstance(sigma, (int, float)):
        return float(sigma), float(sigma)
    return float(sigma[0]), float(sigma[1])


def _blur_radius(sigma: tuple[float, float]) -> tuple[int, int]:
    return math.ceil(3 * sigma[0]), math.ceil(3 * sigma[1])


def _window(
    mask: torch.Tensor, size: tuple[int, int], *, offset: tuple[int, int], margin: tuple[int, int] | None
) -> tuple[int, int, int, int] | None:
    """Rows y0:y1 and columns x0:x1 worth computing: the masked pixels' bounding box (over the
    batch), widened to whole blocks, or by the blur radius, so the result there is the same as
    over the whole image. A small region in a large image then costs only its own blocks.
    None if nothing is masked."""
    inside = (mask > 0).any(dim=0)[0]
    rows = inside.any(dim=1).nonzero().flatten()
    if rows.numel() == 0:
        return None
    cols = inside.any(dim=0).nonzero().flatten()
    h, w = inside.shape
    bounds = []
    for first, last, length, block, line, extra in (
        (int(rows[0]), int(rows[-1]) + 1, h, size[0], offset[0], None if margin is None else margin[0]),
        (int(cols[0]), int(cols[-1]) + 1, w, size[1], offset[1], None if margin is None else margin[1]),
    ):
        if extra is None:  # out to the grid lines around the region
            lo = line + (first - line) // block * block
            hi = line - (line - last) // block * block
        else:
            lo, hi = first - extra, last + extra
        bounds += [max(lo, 0), min(hi, length)]
    return bounds[0], bounds[1], bounds[2], bounds[3]


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
    elif isinstance(block, numbers.Integral):
        sizes = [(int(block), int(block))] * n
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
        return gaussian_blur(x, sigma=_sigma(size, sigma))
    if style == "solid":
        return torch.full_like(x, SOLID_FILL)
    n, c, h, w = x.shape
    rows = _Grid(h, bh, offset[0], x.device)
    cols = _Grid(w, bw, offset[1], x.device)
    if style == "noise":
        # Drawn on the generator's device, like "random"'s picks; nothing of x is read.
        u = torch.rand((n, c, rows.count, cols.count), generator=generator, device=generator.device)
        stats = u.to(x.device, x.dtype).mul_(2).sub_(1)
    elif style == "random":
        # One uniform number per block and axis picks a real pixel of the (possibly cut) block.
        # Drawn on the generator's device, so a CPU generator gives the same picks for a GPU image.
        u = torch.rand((n, 2, rows.count, cols.count), generator=generator, device=generator.device)
        u = u.to(x.device)
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
    # Spread each statistic over its block by broadcasting (far cheaper than index_select),
    # on the padded grid, then cut the padding off again (a view).
    full = stats[:, :, :, None, :, None].expand(n, c, rows.count, bh, cols.count, bw)
    full = full.reshape(n, c, rows.count * bh, cols.count * bw)
    return full[:, :, rows.before : rows.before + h, cols.before : cols.before + w]


class _Grid:
    """Block layout along one axis of `length` pixels, blocks of `block`, a line at `offset`."""

    def __init__(self, length: int, block: int, offset: int, device: torch.device) -> None:
        self.before = (-offset) % block  # padding that puts a grid line at padded index 0
        self.count = -(-(length + self.before) // block)
        self.after = self.count * block - length - self.before
        first = torch.arange(self.count, device=device) * block - self.before
        self.start = first.clamp(min=0)
        self.length = (first + block).clamp(max=length) - self.start  # real pixels per block


def gaussian_blur(x: torch.Tensor, *, sigma: float | tuple[float, float]) -> torch.Tensor:
    """Gaussian blur of (N, C, H, W), radius ceil(3 sigma), per axis (sigma_y, sigma_x).

    Normalised convolution: near the border the weights of the real pixels are renormalised
    to sum to 1, instead of blending in padding. sigma 0 leaves an axis as it is.
    Computed through one 2-D FFT (zero-padded, so linear, not circular), whose cost does not
    grow with sigma: a blur standing in for 16-pixel blocks has ~50 taps per axis, where even
    separable direct convolution is several times slower. The result matches direct
    convolution to float rounding (about 1e-6), not bit for bit.
    """
    sy, sx = (sigma, sigma) if isinstance(sigma, (int, float)) else sigma
    if sy < 0 or sx < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sy == 0 and sx == 0:
        return x.clone()
    n, c, h, w = x.shape
    # CPU FFTs take no half precision; float32 is plenty for a blur.
    work = x.float()
    ky, kx = _gaussian_taps(float(sy), work), _gaussian_taps(float(sx), work)
    ry, rx = ky.numel() // 2, kx.numel() // 2
    # At least long enough that the circular convolution never wraps; rounded up to a length
    # with small prime factors only, where an FFT is fast (a prime length can be 5x slower).
    size = (_fft_length(h + 2 * ry), _fft_length(w + 2 * rx))
    # The kernel is separable, so its 2-D spectrum is the outer product of the 1-D ones.
    spectrum = torch.fft.fft(ky, n=size[0])[:, None] * torch.fft.rfft(kx, n=size[1])[None, :]
    full = torch.fft.irfft2(torch.fft.rfft2(work, s=size) * spectrum, s=size)
    # The weight each pixel got from real pixels: the same convolution of an image of ones.
    wy = F.conv1d(work.new_ones(1, 1, h), ky.view(1, 1, -1), padding=ry).view(h, 1)
    wx = F.conv1d(work.new_ones(1, 1, w), kx.view(1, 1, -1), padding=rx).view(1, w)
    return (full[..., ry : ry + h, rx : rx + w] / (wy * wx)).to(x.dtype)


def _fft_length(n: int) -> int:
    """The smallest m >= n of the form 2^a 3^b 5^c."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _gaussian_taps(sigma: float, like: torch.Tensor) -> torch.Tensor:
    if sigma == 0:
        return like.new_ones(1)
    radius = math.ceil(3 * sigma)
    taps = torch.arange(-radius, radius + 1, device=like.device, dtype=like.dtype)
    kernel = torch.exp(-(taps**2) / (2 * sigma * sigma))
    return kernel / kernel.sum()
