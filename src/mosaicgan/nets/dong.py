"""The networks of Dong, Neekhara, Wu and Guo 2017 ("Unsupervised Image-to-Image Translation with
Generative Adversarial Networks"): a generator conditioned on the domain, gen(z, c), and an
encoder that maps an image of either domain back to the code z it would come from.

Translation joins them: A -> B is gen(enc(x), "b"), the code of x drawn in the other domain. The
method rests on the conditional GAN putting the same code to corresponding images in both domains
(nothing but the shared generator ties them) and on the encoder finding that code.

Generator: DCGAN's projection of z to 4x4 and x2 upsamplings to `image_size`, a 3x3 convolution to
tanh. The paper appends the one-hot domain to z; here it enters as two constant planes beside the
features of the last upsampling stage and of the output layer, so that the layout of an image
comes from z alone and the domain decides how it is drawn. With the domain at the input, our toy
runs (tests/test_unpaired_family.py's squares) drew one code at different places in the two
domains on two seeds of three, which breaks the translation. Encoder: DCGAN's stride-2
convolutions down to 4x4 and a linear layer to z (no domain input: the code is meant to be the
domains' common ground).
"""

from __future__ import annotations

import torch
from torch import nn

from mosaicgan.nets.latent import CodeToMap, down_stage, levels, resized, to_rgb, up_stage, widths
from mosaicgan.nets.layers import check_norm
from mosaicgan.nets.registry import register_net

DOMAINS = ("a", "b")


def with_domain(x: torch.Tensor, domain: str) -> torch.Tensor:
    """x (N, C, H, W) with the domain as one-hot planes appended: (N, C + 2, H, W)."""
    planes = torch.zeros(x.shape[0], len(DOMAINS), *x.shape[2:], device=x.device, dtype=x.dtype)
    planes[:, DOMAINS.index(domain)] = 1
    return torch.cat([x, planes], dim=1)


class DongGenerator(nn.Module):
    """`gen(z, domain)`: (N, z_dim) -> (N, C, image_size, image_size) in [-1, 1]; `enc(x)`: images
    of that size -> (N, z_dim). A "two_way" network (nets.two_way); both domains need the same
    channel count (one generator makes both)."""

    exportable = True

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "batch",
                 dropout: bool = False, upsample: str = "deconv", z_dim: int = 64, image_size: int = 128) -> None:
        super().__init__()
        check_norm(norm)
        if in_channels != out_channels:
            raise ValueError(f"one conditional generator makes both domains: in_channels ({in_channels}) must equal "
                             f"out_channels ({out_channels})")
        if dropout:
            raise ValueError("this generator draws its variety from z; it takes no dropout")
        n = levels(image_size)
        w = widths(image_size, ngf)
        self.z_dim, self.image_size = z_dim, image_size
        self.size_multiple = 1  # any size: resized to image_size and back
        k = len(DOMAINS)
        self.gen_body = nn.ModuleDict({
            "layout": nn.Sequential(CodeToMap(z_dim, w[0], norm=norm),
                                    *[up_stage(w[i], w[i + 1], norm=norm, upsample=upsample) for i in range(n - 1)]),
            "last": up_stage(w[n - 1] + k, w[n], norm=norm, upsample=upsample),
            "rgb": to_rgb(w[n] + k, out_channels),
        })
        down = w[::-1]
        self.enc_body = nn.Sequential(down_stage(in_channels, down[0], norm=None),
                                      *[down_stage(down[i - 1], down[i], norm=norm) for i in range(1, n)],
                                      nn.Flatten(), nn.Linear(down[n - 1] * 16, z_dim))

    def gen(self, z: torch.Tensor, *, domain: str) -> torch.Tensor:
        h = self.gen_body["layout"](z)
        h = self.gen_body["last"](with_domain(h, domain))
        return self.gen_body["rgb"](with_domain(h, domain))

    def enc(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc_body(x)

    def translate(self, x: torch.Tensor, *, direction: str) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        z = self.enc(resized(x, (self.image_size, self.image_size)))
        return resized(self.gen(z, domain="b" if direction == "AtoB" else "a"), size).clamp(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x, direction="AtoB")


@register_net("dong_g", kind="two_way", summary="Dong et al.: a domain-conditional generator and its encoder",
              defaults={"norm": "batch", "image_size": 128})
def dong_g(**kwargs) -> DongGenerator:
    return DongGenerator(**kwargs)
