"""UNIT's generator (Liu, Breuel and Kautz 2017, "Unsupervised Image-to-Image Translation
Networks"): two VAEs whose encoders end, and whose decoders begin, in shared layers, so that both
domains are coded in one latent space.

    enc_a -> shared_enc -> z -> shared_dec -> dec_a      (domain A's VAE)
    enc_b -> shared_enc -> z -> shared_dec -> dec_b      (domain B's VAE)
    A -> B: dec_b(shared_dec(shared_enc(enc_a(x))))

Each domain's encoder: a 7x7 convolution, two 4x4 stride-2 convolutions (so z is a map at 1/4 of
the image, 4*ngf channels), then `blocks - 1` residual blocks; the last residual block is shared
(`shared_enc`). Decoders mirror it: a shared residual block (`shared_dec`), `blocks - 1` of their
own, two x2 upsamplings and a 7x7 convolution to tanh. The paper's encoders end in the code's mean
with a fixed unit variance (z = mean + N(0, I) in training), which is what `encode` returns; the
KL term of the trainer is then the squared mean. The paper uses 4 blocks a side at 256x256.
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.layers import ReflectionPad2d, check_norm, conv_bias, norm_layer, upsample2x
from mosaicgan.nets.registry import register_net
from mosaicgan.nets.resnet_gen import ResidualBlock


def _encoder(channels: int, *, ngf: int, norm: str, own_blocks: int) -> nn.Sequential:
    bias = conv_bias(norm)
    layers: list[nn.Module] = [ReflectionPad2d(3), nn.Conv2d(channels, ngf, 7, bias=bias), norm_layer(norm, ngf),
                               nn.LeakyReLU(0.2, True)]
    for mult in (1, 2):
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 4, 2, 1, bias=bias), norm_layer(norm, ngf * mult * 2),
                   nn.LeakyReLU(0.2, True)]
    layers += [ResidualBlock(channels=ngf * 4, norm=norm, dropout=False) for _ in range(own_blocks)]
    return nn.Sequential(*layers)


def _decoder(channels: int, *, ngf: int, norm: str, own_blocks: int, upsample: str, dropout: bool) -> nn.Sequential:
    bias = conv_bias(norm)
    layers: list[nn.Module] = [ResidualBlock(channels=ngf * 4, norm=norm, dropout=dropout) for _ in range(own_blocks)]
    for mult in (4, 2):
        layers += [upsample2x(upsample, ngf * mult, ngf * mult // 2, kernel=4, bias=bias),
                   norm_layer(norm, ngf * mult // 2), nn.LeakyReLU(0.2, True)]
    layers += [ReflectionPad2d(3), nn.Conv2d(ngf, channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class UNITGenerator(nn.Module):
    """Both VAEs of UNIT (a "two_way" network, see nets.two_way). Images in [-1, 1], H and W
    multiples of 4; domain A has `in_channels`, B `out_channels`."""

    exportable = True

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "instance",
                 dropout: bool = False, upsample: str = "deconv", blocks: int = 4) -> None:
        super().__init__()
        check_norm(norm)
        if blocks < 1:
            raise ValueError(f"blocks must be at least 1 (one of them shared), got {blocks}")
        self.size_multiple = 4
        self.enc_a = _encoder(in_channels, ngf=ngf, norm=norm, own_blocks=blocks - 1)
        self.enc_b = _encoder(out_channels, ngf=ngf, norm=norm, own_blocks=blocks - 1)
        # The shared layers: one module each, used by both domains (one tensor per weight).
        self.shared_enc = ResidualBlock(channels=ngf * 4, norm=norm, dropout=False)
        self.shared_dec = ResidualBlock(channels=ngf * 4, norm=norm, dropout=False)
        self.dec_a = _decoder(in_channels, ngf=ngf, norm=norm, own_blocks=blocks - 1, upsample=upsample,
                              dropout=dropout)
        self.dec_b = _decoder(out_channels, ngf=ngf, norm=norm, own_blocks=blocks - 1, upsample=upsample,
                              dropout=dropout)

    def encode(self, x: torch.Tensor, *, domain: str) -> torch.Tensor:
        """The mean of the code of x (domain "a" or "b"): (N, 4*ngf, H/4, W/4)."""
        return self.shared_enc((self.enc_a if domain == "a" else self.enc_b)(x))

    def decode(self, z: torch.Tensor, *, domain: str) -> torch.Tensor:
        return (self.dec_a if domain == "a" else self.dec_b)(self.shared_dec(z))

    def decode_both(self, z: torch.Tensor, *, order: tuple[str, str] = ("a", "b")) -> tuple[torch.Tensor, torch.Tensor]:
        """z decoded in both domains, in `order`; the shared layer runs once."""
        h = self.shared_dec(z)
        return tuple((self.dec_a if d == "a" else self.dec_b)(h) for d in order)

    def translate(self, x: torch.Tensor, *, direction: str) -> torch.Tensor:
        """The code's mean, no sampling: the paper's translation at test time."""
        source, target = ("a", "b") if direction == "AtoB" else ("b", "a")
        return self.decode(self.encode(x, domain=source), domain=target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x, direction="AtoB")


@register_net("unit", kind="two_way", summary="UNIT: two VAEs sharing their last encoder and first decoder block",
              defaults={"norm": "instance"})
def unit(**kwargs) -> UNITGenerator:
    return UNITGenerator(**kwargs)
