"""PatchGAN ("Markovian") discriminators: one real/fake logit per overlapping input patch.

With `n_layers` stride-2 stages the receptive field of one output logit is
0 -> 1x1 (PixelGAN), 1 -> 16x16, 2 -> 34x34, 3 -> 70x70 (default), 4 -> 142x142, 5 -> 286x286.
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.layers import check_norm, conv_bias, norm_layer
from mosaicgan.nets.registry import register_net


def receptive_field(n_layers: int) -> int:
    """Side of the input patch that one output logit sees (the formula behind the docstring)."""
    if n_layers == 0:
        return 1
    field = 1 + 3 + 3  # the two final stride-1 4x4 convolutions
    for _ in range(n_layers):
        field = (field - 1) * 2 + 4
    return field


class PatchDiscriminator(nn.Module):
    """Input (N, in_channels, H, W) in [-1, 1] (pix2pix feeds input and image concatenated:
    in_channels = 6); output (N, 1, H', W') of raw logits, one per patch."""

    def __init__(self, *, in_channels: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm)
        if not 0 <= n_layers <= 8:
            raise ValueError(f"n_layers must be in 0..8, got {n_layers}")
        self.n_layers = n_layers
        self.receptive_field = receptive_field(n_layers)
        bias = conv_bias(norm)
        if n_layers == 0:
            layers: list[nn.Module] = [
                nn.Conv2d(in_channels, ndf, 1),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
                norm_layer(norm, ndf * 2),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * 2, 1, 1, bias=bias),
            ]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            mult = 1
            for n in range(1, n_layers):
                prev, mult = mult, min(2**n, 8)
                layers += [
                    nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias),
                    norm_layer(norm, ndf * mult),
                    nn.LeakyReLU(0.2, True),
                ]
            prev, mult = mult, min(2**n_layers, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias),
                norm_layer(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * mult, 1, 4, 1, 1),
            ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_net("patchgan", kind="discriminator", summary="PatchGAN, n_layers stages (default 3: 70x70)",
              defaults={"norm": "instance"})
def patchgan(**kwargs) -> PatchDiscriminator:
    return PatchDiscriminator(**kwargs)


@register_net("pixelgan", kind="discriminator", summary="PixelGAN: 1x1 patches",
              defaults={"norm": "instance"})
def pixelgan(**kwargs) -> PatchDiscriminator:
    return PatchDiscriminator(n_layers=0, **kwargs)


@register_net("patchgan_16", kind="discriminator", summary="PatchGAN, 16x16 patches",
              defaults={"norm": "instance"})
def patchgan_16(**kwargs) -> PatchDiscriminator:
    return PatchDiscriminator(n_layers=1, **kwargs)


@register_net("patchgan_70", kind="discriminator", summary="PatchGAN, 70x70 patches (pix2pix/CycleGAN default)",
              defaults={"norm": "instance"})
def patchgan_70(**kwargs) -> PatchDiscriminator:
    return PatchDiscriminator(n_layers=3, **kwargs)


@register_net("imagegan_286", kind="discriminator", summary="PatchGAN, 286x286 patches (ImageGAN at 256)",
              defaults={"norm": "instance"})
def imagegan_286(**kwargs) -> PatchDiscriminator:
    return PatchDiscriminator(n_layers=5, **kwargs)
