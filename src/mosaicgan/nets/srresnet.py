"""SRResNet (Ledig et al., 2017, "Photo-Realistic Single Image Super-Resolution Using a GAN"):
the generator of SRGAN, and SRGAN's discriminator.

Generator, as in the paper: a 9x9 convolution + PReLU, `blocks` residual blocks (conv-BN-PReLU-
conv-BN, + input), a conv-BN whose output is added to the first layer's (the long skip), then
sub-pixel upsampling (conv to 4x the channels, pixel shuffle x2, PReLU, once per factor of 2) and
a last 9x9 convolution. Every convolution before a pixel shuffle starts with ICNR (`layers.icnr_`):
its sub-pixels share one kernel, so the untrained network has no checkerboard (PyTorch's default
draw gives each sub-pixel its own kernel, which prints a grid at the shuffle's period).
Two options the paper does not have, both off by default:
- `upsampler="espcn"`: one 3x3 convolution at low resolution to 3*scale^2 channels and a single
  pixel shuffle (Shi et al., ESPCN). Every convolution then runs at the input's resolution, which
  is what makes training on a CPU affordable (the paper's tail costs more than a thin body).
- `global_skip=True`: the network predicts the residual over the bicubic upscale of its input
  (as VDSR does), so an untrained network starts near bicubic instead of at grey; training
  reaches a given PSNR in far fewer steps. The last convolution then starts at zero, so the
  untrained network returns exactly bicubic.
Images are in [-1, 1]; the output is not squashed (no tanh: it would fight the bicubic skip)
and callers clamp it.

Discriminator (the paper's Figure 4): conv 3x3 + LeakyReLU, then seven conv-BN-LeakyReLU blocks
(channels ndf..8*ndf, stride 2 every other block), then a dense 1024 + LeakyReLU and a dense 1.
The dense layers act on a global mean (as 1x1 convolutions), so any crop size works; the output
is one logit per image, (N, 1, 1, 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.choices import SR_SCALES as SCALES
from mosaicgan.choices import SR_UPSAMPLERS as UPSAMPLERS
from mosaicgan.nets.layers import conv_bias, icnr_, norm_layer
from mosaicgan.nets.registry import register_net


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """(N, C, h, w) in [-1, 1] -> (N, C, h*scale, w*scale), unclamped."""

    def __init__(self, *, scale: int = 4, blocks: int = 16, width: int = 64, in_channels: int = 3,
                 upsampler: str = "subpixel", global_skip: bool = False) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {upsampler!r}")
        self.scale, self.global_skip = scale, global_skip
        self.size_multiple = 1
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*[_ResidualBlock(width) for _ in range(blocks)])
        self.body_end = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        if upsampler == "subpixel":
            ups: list[nn.Module] = []
            for _ in range(int(math.log2(scale))):
                # ICNR: each x2 stage starts as conv + nearest upsampling, free of the checkerboard.
                ups += [icnr_(nn.Conv2d(width, width * 4, 3, padding=1), scale=2), nn.PixelShuffle(2),
                        nn.PReLU(width)]
            self.upsample = nn.Sequential(*ups, nn.Conv2d(width, in_channels, 9, padding=4))
        elif upsampler == "resize":
            # Odena et al. 2016: nearest x2 then a convolution, per stage; the same arithmetic as a
            # subpixel stage (one 3x3 conv per output pixel), but every output pixel of a stage
            # comes from one kernel, so nothing ties an artifact to the upscale period.
            ups = []
            for _ in range(int(math.log2(scale))):
                ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1),
                        nn.PReLU(width)]
            self.upsample = nn.Sequential(*ups, nn.Conv2d(width, in_channels, 9, padding=4))
        else:
            tail = nn.Conv2d(width, in_channels * scale * scale, 3, padding=1)
            if not global_skip:  # with it the tail starts at zero (below), which is free of the grid already
                icnr_(tail, scale=scale)
            self.upsample = nn.Sequential(tail, nn.PixelShuffle(scale))
        if global_skip:
            # A zero last convolution: the untrained network is exactly bicubic and learns the residual.
            last = next(m for m in reversed(self.upsample) if isinstance(m, nn.Conv2d))
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        out = self.upsample(h + self.body_end(self.body(h)))
        if self.global_skip:
            # MATLAB's bicubic kernel (a = -0.5: PyTorch's antialiased path), the baseline SR is scored against.
            out = out + F.interpolate(x.float(), scale_factor=self.scale, mode="bicubic", antialias=True,
                                      align_corners=False)
        return out


class SRGANDiscriminator(nn.Module):
    """(N, C, H, W) -> (N, 1, 1, 1) logits; H, W of at least 16 (four stride-2 blocks).
    norm: "batch" as the paper (the other nets.layers norms are accepted)."""

    def __init__(self, *, in_channels: int = 3, ndf: int = 64, norm: str = "batch") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 3, padding=1), nn.LeakyReLU(0.2)]
        channels = ndf
        for i, mult in enumerate((1, 2, 2, 4, 4, 8, 8)):
            stride = 2 if i % 2 == 0 else 1
            layers += [nn.Conv2d(channels, ndf * mult, 3, stride=stride, padding=1, bias=conv_bias(norm)),
                       norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2)]
            channels = ndf * mult
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(channels, ndf * 16, 1), nn.LeakyReLU(0.2), nn.Conv2d(ndf * 16, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3), keepdim=True))


@register_net("srresnet", kind="upscaler",
              summary="SRResNet (SRGAN's generator): residual blocks + sub-pixel upsampling",
              defaults={"scale": 4, "blocks": 16, "width": 64})
def srresnet(**kwargs) -> SRResNet:
    return SRResNet(**kwargs)


@register_net("srgan_d", kind="discriminator", summary="SRGAN's discriminator: 8 conv blocks + dense 1024 + dense 1",
              defaults={"in_channels": 3, "ndf": 64, "norm": "batch"})
def srgan_d(**kwargs) -> SRGANDiscriminator:
    return SRGANDiscriminator(**kwargs)
