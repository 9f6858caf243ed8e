"""Upscaling a frame in horizontal bands of input rows straight into a uint8 array, so memory
is bounded by one band however tall the image is.

`Upscaler` returns its whole output as float32, which at 4000x3000 -> 16000x12000 is 2.3 GB
before blend weights and conversions. Here each band (`core` input rows plus `margin` rows on
each side, clipped at the image's top and bottom) goes through the upscaler, tiled as usual
with its --tile and --tile-overlap; only the output rows of its core are kept, rounded to 8 bits
and written into the preallocated result, so only one band is float at a time.

With a margin of at least the network's receptive radius (`receptive_radius`) a kept row does
not depend on where the band was cut: the band's edge padding never reaches it. The tiles
inside a band are laid out from the band's top instead of the image's, so with an overlap
below 4x the radius the result differs from `Upscaler`'s by the tiles' own seam error (at most
0.021 of a level for the shipped model with the default overlap), which can move a rounded
pixel by one level. An image no taller than one band is one band: exactly `Upscaler`'s result.
"""

from __future__ import annotations

import numpy as np
import torch

from mosaicgan.data.images import tensor_to_uint8
from mosaicgan.infer.upscale.upscaler import Upscaler, receptive_radius


def plan_bands(height: int, *, core: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_start, keep_stop) input rows of every band, top to bottom: the band
    runs rows [start, stop) and keeps [keep_start, keep_stop); the kept rows tile the image."""
    if core < 1 or margin < 0:
        raise ValueError(f"need core >= 1 and margin >= 0, got core={core}, margin={margin}")
    if height <= core + 2 * margin:
        return [(0, height, 0, height)]
    return [(max(0, top - margin), min(height, top + core + margin), top, min(height, top + core))
            for top in range(0, height, core)]


def default_core(upscaler: Upscaler, *, margin: int) -> int:
    """Core rows such that a band with its two margins is one row of tiles (`upscaler.tile`
    rows), so banding adds no tile rows; never under `margin`, so that margins stay at most
    two thirds of a band's work when tiles are small beside the network's radius."""
    return max(upscaler.tile - 2 * margin, margin)


@torch.no_grad()
def upscale_to_uint8(upscaler: Upscaler, frame: torch.Tensor, *, core: int | None = None,
                     margin: int | None = None) -> np.ndarray:
    """`upscaler(frame)` as a uint8 array (H * scale, W * scale, C), computed band by band.

    core: input rows kept from each band (default `default_core`); margin: rows run on each
    side and thrown away (default and minimum for an exact cut: the net's receptive radius).
    """
    if frame.ndim != 3 or frame.shape[0] not in (1, 3):
        raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(frame.shape)}")
    margin = receptive_radius(upscaler.net) if margin is None else margin
    core = default_core(upscaler, margin=margin) if core is None else core
    channels, height, width = frame.shape
    s = upscaler.scale
    out = np.empty((height * s, width * s, channels), dtype=np.uint8)
    for start, stop, keep_start, keep_stop in plan_bands(height, core=core, margin=margin):
        band = upscaler(frame[:, start:stop])
        kept = band[:, (keep_start - start) * s : (keep_stop - start) * s]
        out[keep_start * s : keep_stop * s] = tensor_to_uint8(kept)
        del band, kept  # before the next band is computed, so two are never held at once
    return out
