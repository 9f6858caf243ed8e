"""The mosaic restorer: super-resolution from the block lattice, over a smooth base.

An average mosaic is a low-resolution image (one mean per block) shown at full size, so the
network works on the lattice of blocks, one position per block, and only its last layer
reaches pixel resolution (pixel shuffle, ESPCN-style). Every block is resampled to a fixed
`scale` x `scale` pixels: one network for any block size (the caller resizes the output to
the real block size; `log2(block / scale)` is an input so the network knows how far).
Working on the lattice costs 1/scale^2 of a full-resolution network of the same depth, which
is what makes training it on a CPU possible.

The output is a residual over the smooth base (bicubic interpolation of the block means at
the block centres), followed by the projection onto the observed means of the blocks fully
inside the mask (`ops.unmosaic.project_means`), so that the network can never contradict
what the mosaic shows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.registry import register_net

FEATURES = 7  # see ops.unmosaic.lattice_features


class _ResBlock(nn.Module):
    def __init__(self, width: int, res_scale: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(F.relu(self.conv1(x)))


class LatticeRestorer(nn.Module):
    """Input: (N, 7, rows, cols) from `ops.unmosaic.lattice_features` (block means in [-1, 1],
    share inside the mask, fully-inside flag, log2 block/scale per axis).
    Output: (N, 3, rows * scale, cols * scale) in [-1, 1], each block `scale` x `scale` pixels.

    width: channels of the lattice body; blocks: residual blocks (EDSR-style, no norm);
    scale: pixels per block side at the output. The last convolution starts at zero, so an
    untrained network returns the projected smooth base, the classical restoration."""

    def __init__(self, *, width: int = 48, blocks: int = 6, scale: int = 8, out_channels: int = 3) -> None:
        super().__init__()
        self.scale, self.out_channels = scale, out_channels
        self.head = nn.Conv2d(FEATURES, width, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(width, res_scale=0.5) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, out_channels * scale * scale, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        self.size_multiple = 1

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        s = self.scale
        means = features[:, : self.out_channels]
        full = features[:, self.out_channels + 1 : self.out_channels + 2]
        h = F.relu(self.head(features))
        h = h + self.body(h)
        residual = F.pixel_shuffle(self.tail(h), s)
        # By size, not scale_factor: the same sampling (bit for bit), in integer sizes that torch
        # 2.9's exporter can follow for any input size (it refused the float product).
        size = (features.shape[-2] * s, features.shape[-1] * s)
        base = F.interpolate(means, size=size, mode="bicubic", align_corners=False)
        out = base + residual
        # The projection of ops.unmosaic.project_means, on this aligned lattice: fast form.
        shift = (means - F.avg_pool2d(out, s)) * full
        out = out + F.interpolate(shift, size=size, mode="nearest")
        return out.clamp(-1, 1)


@register_net("restorer", kind="restorer", summary="mosaic restorer: lattice SR over a smooth base + projection",
              defaults={"width": 48, "blocks": 6, "scale": 8})
def restorer(**kwargs) -> LatticeRestorer:
    return LatticeRestorer(**kwargs)
