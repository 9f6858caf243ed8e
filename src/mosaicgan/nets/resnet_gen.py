"""ResNet generator of CycleGAN (Johnson et al.): downsample x4, residual blocks, upsample x4."""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.layers import ReflectionPad2d, check_norm, conv_bias, norm_layer, upsample2x
from mosaicgan.nets.registry import register_net


class ResidualBlock(nn.Module):
    def __init__(self, *, channels: int, norm: str, dropout: bool) -> None:
        super().__init__()
        bias = conv_bias(norm)
        layers = [
            ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """Input (N, in_channels, H, W) in [-1, 1], H and W multiples of 4; output
    (N, out_channels, H, W) in [-1, 1] (tanh). Reflection padding avoids border artefacts;
    `upsample="resize"` replaces the transposed convolutions (see `upsample2x`).

    `global_skip=True` (not in the paper; as SRResNet's option of the same name): the output is
    the input plus a learned change, clamped to [-1, 1], and the last convolution starts at zero,
    so the untrained generator is the identity. A translation that keeps most of its input (a
    colour grade, a style) then starts where the cycle and identity losses want it, and the
    network spends its steps on the change instead of on reproducing the image through its
    4x-downsampled bottleneck. Needs in_channels == out_channels.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        n_blocks: int = 9,
        ngf: int = 64,
        norm: str = "instance",
        dropout: bool = False,
        upsample: str = "deconv",
        global_skip: bool = False,
    ) -> None:
        super().__init__()
        check_norm(norm)
        if global_skip and in_channels != out_channels:
            raise ValueError(f"global_skip adds the input to the output: needs in_channels == out_channels, "
                             f"got {in_channels} and {out_channels}")
        self.global_skip = global_skip
        self.size_multiple = 4
        bias = conv_bias(norm)
        layers: list[nn.Module] = [
            ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=bias),
            norm_layer(norm, ngf),
            nn.ReLU(True),
        ]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                norm_layer(norm, ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResidualBlock(channels=ngf * 4, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                upsample2x(upsample, ngf * mult, ngf * mult // 2, kernel=3, bias=bias),
                norm_layer(norm, ngf * mult // 2),
                nn.ReLU(True),
            ]
        last = nn.Conv2d(ngf, out_channels, 7)
        if global_skip:
            last.zero_init = True  # init_weights leaves it at zero: the untrained network is the identity
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            layers += [ReflectionPad2d(3), last]
        else:
            layers += [ReflectionPad2d(3), last, nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_skip:
            return (x + self.model(x)).clamp(-1, 1)
        return self.model(x)


@register_net("resnet_6blocks", kind="generator", summary="ResNet, 6 residual blocks (for 128x128)",
              defaults={"norm": "instance"})
def resnet_6blocks(**kwargs) -> ResNetGenerator:
    return ResNetGenerator(n_blocks=6, **kwargs)


@register_net("resnet_9blocks", kind="generator", summary="ResNet, 9 residual blocks (CycleGAN default)",
              defaults={"norm": "instance"})
def resnet_9blocks(**kwargs) -> ResNetGenerator:
    return ResNetGenerator(n_blocks=9, **kwargs)
