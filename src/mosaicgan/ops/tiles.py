"""Running an image function tile by tile, so memory is bounded at any image size.

`run_tiled(fn, x, tile=..., overlap=..., scale=...)` cuts (N, C, H, W) into tiles of at most
`tile` pixels a side that overlap by at least `overlap`, runs `fn` on each and blends the
results back. The blend weight of a tile is zero in the outer quarter of each overlap it shares
with a neighbour and ramps linearly to one across the middle half, so no output pixel takes
anything from a tile within `overlap / 4` input pixels of that tile's cut edge. Hence a
function whose output pixel depends only on inputs within `overlap / 4` pixels (a stack of
convolutions with that receptive radius) gives the whole-image result everywhere, up to float
rounding; a network that sees further (a U-Net, instance norm's per-image statistics) differs
near the cuts, by how much is for its caller to measure. Image borders are never cut, so the
function pads there exactly as on the whole image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_starts(length: int, *, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of `tile` pixels covering `length`, consecutive ones overlapping
    by `overlap` or more (the last tile ends at the border, so its overlap may be larger)."""
    if tile < 1 or not 0 <= overlap < tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    starts.append(length - tile)
    return starts


def plan_tiles(height: int, width: int, *, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of every tile, row by row."""
    rows = tile_starts(height, tile=tile, overlap=overlap)
    cols = tile_starts(width, tile=tile, overlap=overlap)
    return [(top, left, min(tile, height), min(tile, width)) for top in rows for left in cols]


def _edge_weights(size: int, *, cut_before: bool, cut_after: bool, overlap: int) -> torch.Tensor:
    """1-D blend weights of a tile of `size` output pixels whose cut edges overlap by `overlap`."""
    weight = torch.ones(size)
    if overlap <= 0:
        return weight
    i = torch.arange(size, dtype=torch.float32) + 0.5
    # 0 for the first quarter of the overlap, 1 from three quarters on.
    ramp = ((i - overlap / 4) / (overlap / 2)).clamp(0, 1)
    if cut_before:
        weight = torch.minimum(weight, ramp)
    if cut_after:
        weight = torch.minimum(weight, ramp.flip(0))
    return weight


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    scale: int = 1,
) -> torch.Tensor:
    """`fn` over (N, C, H, W) tile by tile; fn maps (N, C, h, w) -> (N, C', h*scale, w*scale).

    An image no larger than one tile goes through `fn` whole. The output is float32 on the
    device `fn` returns, shaped (N, C', H*scale, W*scale); only one tile's output and the full
    result are held at a time.
    """
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W), got {tuple(x.shape)}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    n, _, height, width = x.shape
    tiles = plan_tiles(height, width, tile=tile, overlap=overlap)
    if len(tiles) == 1:
        return fn(x)
    out = weights = None
    for top, left, th, tw in tiles:
        y = fn(x[..., top : top + th, left : left + tw])
        if y.shape[0] != n or y.shape[-2:] != (th * scale, tw * scale):
            raise ValueError(
                f"fn turned a ({n}, {th}, {tw}) tile into {tuple(y.shape)}; expected batch {n} and "
                f"{th * scale} x {tw * scale} at scale {scale}"
            )
        if out is None:
            out = torch.zeros(n, y.shape[1], height * scale, width * scale, device=y.device)
            weights = torch.zeros(1, 1, height * scale, width * scale, device=y.device)
        wy = _edge_weights(th * scale, cut_before=top > 0, cut_after=top + th < height, overlap=overlap * scale)
        wx = _edge_weights(tw * scale, cut_before=left > 0, cut_after=left + tw < width, overlap=overlap * scale)
        w = (wy[:, None] * wx[None, :]).to(y.device)
        rows = slice(top * scale, (top + th) * scale)
        cols = slice(left * scale, (left + tw) * scale)
        out[..., rows, cols] += y.float() * w
        weights[..., rows, cols] += w
    return out.div_(weights)  # in place: the full-size output is the largest thing held
