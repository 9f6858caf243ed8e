"""U-Net generator of pix2pix: an encoder-decoder with skip connections between mirrored levels."""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.layers import check_norm, contiguous_grad, conv_bias, norm_layer, upsample2x
from mosaicgan.nets.registry import register_net


class UNetGenerator(nn.Module):
    """U-Net with `num_downs` stride-2 levels (8 for 256x256 inputs: the bottleneck is 1x1).

    Input (N, in_channels, H, W) in [-1, 1], H and W multiples of 2**num_downs; output
    (N, out_channels, H, W) in [-1, 1] (tanh). Channels double per level from `ngf` up to
    8*ngf. Dropout (p=0.5) sits in the decoder levels whose both sides have 8*ngf channels,
    the noise source of pix2pix. `upsample="resize"` replaces the transposed convolutions
    (see `upsample2x`).
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: bool = True,
        upsample: str = "deconv",
    ) -> None:
        super().__init__()
        check_norm(norm)
        if num_downs < 2:
            raise ValueError(f"num_downs must be at least 2, got {num_downs}")
        self.size_multiple = 2**num_downs
        bias = conv_bias(norm)
        width = [ngf * min(2**i, 8) for i in range(num_downs)]
        last = num_downs - 1

        down: list[nn.Module] = [nn.Conv2d(in_channels, width[0], 4, 2, 1, bias=bias)]
        for i in range(1, num_downs):
            layers = [nn.LeakyReLU(0.2, True), nn.Conv2d(width[i - 1], width[i], 4, 2, 1, bias=bias)]
            if i != last:  # the bottleneck is 1x1 at the design size: no norm there
                layers.append(norm_layer(norm, width[i]))
            down.append(nn.Sequential(*layers))

        up: list[nn.Module] = [
            nn.Sequential(nn.ReLU(True), upsample2x(upsample, 2 * width[0], out_channels, kernel=4, bias=True),
                          nn.Tanh())
        ]
        for i in range(1, num_downs):
            in_ch = width[i] if i == last else 2 * width[i]  # the innermost level has no skip input
            layers = [
                nn.ReLU(True),
                upsample2x(upsample, in_ch, width[i - 1], kernel=4, bias=bias),
                norm_layer(norm, width[i - 1]),
            ]
            if dropout and i != last and width[i - 1] == width[i] == 8 * ngf:
                layers.append(nn.Dropout(0.5))
            up.append(nn.Sequential(*layers))

        self.down = nn.ModuleList(down)
        self.up = nn.ModuleList(up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        h = self.up[-1](skips[-1])
        for i in range(len(self.up) - 2, -1, -1):
            h = self.up[i](torch.cat([contiguous_grad(skips[i]), contiguous_grad(h)], dim=1))
        return h


@register_net("unet", kind="generator", summary="U-Net, any depth (num_downs)",
              defaults={"norm": "batch"})
def unet(**kwargs) -> UNetGenerator:
    return UNetGenerator(**kwargs)


@register_net("unet_128", kind="generator", summary="U-Net, 7 levels, for 128x128",
              defaults={"norm": "batch"})
def unet_128(**kwargs) -> UNetGenerator:
    return UNetGenerator(num_downs=7, **kwargs)


@register_net("unet_256", kind="generator", summary="U-Net, 8 levels, for 256x256 (pix2pix default)",
              defaults={"norm": "batch"})
def unet_256(**kwargs) -> UNetGenerator:
    return UNetGenerator(num_downs=8, **kwargs)
