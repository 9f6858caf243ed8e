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
    `upsample="resize"` replaces the transposed convolutions (see `upsample2x`)."""

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
    ) -> None:
        super().__init__()
        check_norm(norm)
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
        layers += [ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register_net("resnet_6blocks", kind="generator", summary="ResNet, 6 residual blocks (for 128x128)",
              defaults={"norm": "instance"})
def resnet_6blocks(**kwargs) -> ResNetGenerator:
    return ResNetGenerator(n_blocks=6, **kwargs)


@register_net("resnet_9blocks", kind="generator", summary="ResNet, 9 residual blocks (CycleGAN default)",
              defaults={"norm": "instance"})
def resnet_9blocks(**kwargs) -> ResNetGenerator:
    return ResNetGenerator(n_blocks=9, **kwargs)
