"""DiscoGAN's networks (Kim et al. 2017, "Learning to Discover Cross-Domain Relations with
Generative Adversarial Networks"): an encoder-decoder generator with no skip connections and a
plain strided discriminator.

Generator, as the paper's Figure 3 and the authors' code (64x64 images there): four 4x4 stride-2
convolutions (ngf, 2ngf, 4ngf, 8ngf channels; LeakyReLU 0.2, a norm after all but the first),
then four 4x4 stride-2 transposed convolutions back (ReLU, a norm after all but the last), tanh.
At 128x128 the bottleneck is 8x8 of 8*ngf features: everything the output keeps of its input
must pass through it, which is the method's bet (a relation between domains, not a pixel copy).
Discriminator: the same four stride-2 convolutions and a last 4x4 convolution to one logit per
patch (at 64x64, one per image as in the paper; larger images get a map of logits).
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.layers import check_norm, conv_bias, norm_layer, upsample2x
from mosaicgan.nets.registry import register_net

_LEVELS = 4


class DiscoGANGenerator(nn.Module):
    """(N, in_channels, H, W) in [-1, 1], H and W multiples of 16 -> (N, out_channels, H, W) in
    [-1, 1]. `dropout`: p = 0.5 after the two innermost decoder layers (noise, as pix2pix's);
    `upsample="resize"`: nearest x2 + conv instead of the transposed convolutions."""

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "batch",
                 dropout: bool = False, upsample: str = "deconv") -> None:
        super().__init__()
        check_norm(norm)
        self.size_multiple = 2**_LEVELS
        bias = conv_bias(norm)
        widths = [ngf * 2**i for i in range(_LEVELS)]  # ngf .. 8 ngf
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for prev, width in zip(widths, widths[1:], strict=False):
            layers += [nn.Conv2d(prev, width, 4, 2, 1, bias=bias), norm_layer(norm, width), nn.LeakyReLU(0.2, True)]
        for i, (width, nxt) in enumerate(zip(widths[::-1], widths[-2::-1], strict=False)):
            layers += [upsample2x(upsample, width, nxt, kernel=4, bias=bias), norm_layer(norm, nxt), nn.ReLU(True)]
            if dropout and i < 2:
                layers.append(nn.Dropout(0.5))
        layers += [upsample2x(upsample, widths[0], out_channels, kernel=4, bias=True), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DiscoGANDiscriminator(nn.Module):
    """(N, in_channels, H, W), H and W at least 64 -> (N, 1, H/16 - 3, W/16 - 3) raw logits."""

    def __init__(self, *, in_channels: int = 3, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        check_norm(norm)
        bias = conv_bias(norm)
        widths = [ndf * 2**i for i in range(_LEVELS)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for prev, width in zip(widths, widths[1:], strict=False):
            layers += [nn.Conv2d(prev, width, 4, 2, 1, bias=bias), norm_layer(norm, width), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_net("discogan_g", kind="generator", summary="DiscoGAN: 4 stride-2 convs down, 4 up, no skips",
              defaults={"norm": "batch"})
def discogan_g(**kwargs) -> DiscoGANGenerator:
    return DiscoGANGenerator(**kwargs)


@register_net("discogan_d", kind="discriminator", summary="DiscoGAN: 4 stride-2 convs + a 4x4 conv to logits",
              defaults={"norm": "batch"})
def discogan_d(**kwargs) -> DiscoGANDiscriminator:
    return DiscoGANDiscriminator(**kwargs)
