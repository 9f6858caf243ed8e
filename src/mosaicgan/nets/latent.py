"""Pieces of the networks that generate images from a latent code (CoGAN, Dong et al.): DCGAN's
stacks (Radford et al. 2016) and the resizing that lets them translate images of any size.

A code becomes an image through a linear layer to a 4x4 map and x2 upsamplings to `image_size`
(a power of two times 4); an image becomes a code (or a logit) through stride-2 convolutions
down to 4x4. Widths: ngf at image_size, doubling per level towards 4x4 up to at most 8*ngf, as in
DCGAN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.layers import conv_bias, norm_layer, upsample2x


def levels(image_size: int) -> int:
    """How many x2 steps lie between 4x4 and `image_size` (a ValueError if it is not 4 * 2^k, k >= 1)."""
    k = round(math.log2(max(image_size, 1) / 4))
    if image_size < 8 or 4 * 2**k != image_size:
        raise ValueError(f"image_size must be 4 times a power of two, at least 8; got {image_size}")
    return k


def widths(image_size: int, ngf: int) -> list[int]:
    """Channels of the maps from 4x4 (first) to image_size (last)."""
    n = levels(image_size)
    return [ngf * min(8, 2 ** (n - i)) for i in range(n + 1)]


def up_stage(in_ch: int, out_ch: int, *, norm: str, upsample: str) -> nn.Sequential:
    return nn.Sequential(upsample2x(upsample, in_ch, out_ch, kernel=4, bias=conv_bias(norm)), norm_layer(norm, out_ch),
                         nn.ReLU(True))


def down_stage(in_ch: int, out_ch: int, *, norm: str | None) -> nn.Sequential:
    """A 4x4 stride-2 convolution and LeakyReLU 0.2, with a norm unless `norm` is None (DCGAN leaves
    the first layer of a discriminator without one)."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=norm is None or conv_bias(norm))]
    if norm is not None:
        layers.append(norm_layer(norm, out_ch))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, True))


class CodeToMap(nn.Module):
    """(N, code) -> (N, channels, 4, 4): DCGAN's projection of the code, then norm and ReLU."""

    def __init__(self, code: int, channels: int, *, norm: str) -> None:
        super().__init__()
        self.channels = channels
        self.linear = nn.Linear(code, channels * 16, bias=conv_bias(norm))
        self.post = nn.Sequential(norm_layer(norm, channels), nn.ReLU(True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.post(self.linear(z.flatten(1)).view(z.shape[0], self.channels, 4, 4))


def to_rgb(in_ch: int, channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, channels, 3, 1, 1), nn.Tanh())


def resized(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """x at (H, W) = size; bilinear with antialiasing when shrinking, x itself when it already fits.
    These generators work at one size: a translation of another size is made there and resized."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)
