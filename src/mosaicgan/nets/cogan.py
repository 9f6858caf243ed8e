"""CoGAN (Liu and Tuzel 2016, "Coupled Generative Adversarial Networks"): two GANs, one per
domain, whose generators share their first layers and whose discriminators share their last.

The generators start from one code z: the shared layers decode what the two domains have in
common (layout, shapes: the high-level semantics), and each domain's own last layer renders it
in that domain's look. Trained only on unpaired images of each domain, the pair
(gen(z, "a"), gen(z, "b")) comes out corresponding, because the shared weights can afford only
one layout per z. The discriminators mirror it: each domain's own first layer sees the pixels,
the shared layers above judge features both domains have.

Translation of a given image, as the paper suggests: find the code whose domain-A image is
closest to it (latent inversion: `inversion_steps` Adam steps on z, L1 plus a small Gaussian prior
on z), then decode that code in domain B. Its cost is `inversion_steps` forward and backward
passes of the generator per image (200 by default: about 200x a feed-forward translator), and it
recovers only what the generator can make: an image far from the generator's range comes back
as the nearest thing it can draw.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.nets.latent import CodeToMap, down_stage, levels, resized, to_rgb, up_stage, widths
from mosaicgan.nets.layers import check_norm
from mosaicgan.nets.registry import register_net

# Inversion: Adam on z at this rate, with this weight on the Gaussian prior mean(z^2) beside the
# image's mean L1 (both per image): enough to keep z near the region the generator was trained on.
INVERSION_LR = 0.05
INVERSION_PRIOR = 0.01


class CoGANGenerator(nn.Module):
    """gen(z, domain): (N, z_dim) -> (N, C, image_size, image_size) in [-1, 1]; a "two_way"
    network (nets.two_way) whose translation is latent inversion. Domain A has `in_channels`,
    B `out_channels`. Each domain's own layers: its output layer (a 3x3 convolution to tanh) and
    the last `own_stages` upsampling stages (default 0: as the paper's generators, which differ
    in their last layer only); the code projection and the other stages are shared. With a stage
    of their own at 32x32, our toy runs drew one code's square at different places in the two
    domains (the shared 16x16 map had room for two layouts), which breaks the correspondence."""

    exportable = False  # a translation is an optimisation per image

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, norm: str = "batch",
                 dropout: bool = False, upsample: str = "deconv", z_dim: int = 64, image_size: int = 128,
                 own_stages: int = 0, inversion_steps: int = 200) -> None:
        super().__init__()
        check_norm(norm)
        if dropout:
            raise ValueError("CoGAN's generators draw their variety from z; they take no dropout")
        n = levels(image_size)
        if not 0 <= own_stages <= n:
            raise ValueError(f"own_stages must be in 0..{n} at image_size {image_size}, got {own_stages}")
        w = widths(image_size, ngf)
        self.z_dim, self.image_size, self.inversion_steps = z_dim, image_size, inversion_steps
        self.size_multiple = 1  # any size: resized to image_size and back
        split = n - own_stages
        self.shared = nn.Sequential(CodeToMap(z_dim, w[0], norm=norm),
                                    *[up_stage(w[i], w[i + 1], norm=norm, upsample=upsample) for i in range(split)])

        def own(channels: int) -> nn.Sequential:
            return nn.Sequential(*[up_stage(w[i], w[i + 1], norm=norm, upsample=upsample) for i in range(split, n)],
                                 to_rgb(w[n], channels))

        self.own_a, self.own_b = own(in_channels), own(out_channels)

    def generate(self, z: torch.Tensor, *, domain: str) -> torch.Tensor:
        return (self.own_a if domain == "a" else self.own_b)(self.shared(z))

    def pair(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The corresponding images of both domains for the codes z (the shared part runs once)."""
        h = self.shared(z)
        return self.own_a(h), self.own_b(h)

    def invert(self, x: torch.Tensor, *, domain: str, steps: int | None = None) -> torch.Tensor:
        """The codes (N, z_dim) whose images in `domain` come closest to x (N, C, image_size,
        image_size). Starts at z = 0, the prior's mode; deterministic. The generator's own
        parameters get no gradient."""
        steps = self.inversion_steps if steps is None else steps
        z = torch.zeros(x.shape[0], self.z_dim, device=x.device, requires_grad=True)
        opt = torch.optim.Adam([z], lr=INVERSION_LR)
        target = x.detach().float()
        # fp32 inside any autocast a caller opened (inference defaults to bf16): an optimisation
        # on z in bf16 steers by gradients rounded to 8 bits and lands elsewhere.
        with torch.enable_grad(), torch.autocast(x.device.type, enabled=False):
            for _ in range(steps):
                made = self.generate(z, domain=domain).float()
                loss = F.l1_loss(made, target, reduction="none").flatten(1).mean(1) + INVERSION_PRIOR * z.pow(2).mean(1)
                (z.grad,) = torch.autograd.grad(loss.sum(), [z])
                opt.step()
        return z.detach()

    def translate(self, x: torch.Tensor, *, direction: str) -> torch.Tensor:
        source, target = ("a", "b") if direction == "AtoB" else ("b", "a")
        size = tuple(x.shape[-2:])
        z = self.invert(resized(x, (self.image_size, self.image_size)), domain=source)
        with torch.no_grad():
            return resized(self.generate(z, domain=target), size).clamp(-1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.translate(x, direction="AtoB")


class CoGANDiscriminator(nn.Module):
    """disc(x, domain) -> (N, 1, 1, 1) logits, x of (image_size, image_size). Each domain's own
    first `own_stages` stride-2 convolutions, then shared ones down to 4x4 and a 4x4 convolution
    to one logit. forward(x) judges domain A (the registry's discriminator contract)."""

    def __init__(self, *, in_channels: int = 3, out_channels: int | None = None, ndf: int = 64, norm: str = "batch",
                 image_size: int = 128, own_stages: int = 1) -> None:
        super().__init__()
        check_norm(norm)
        n = levels(image_size)
        if not 1 <= own_stages <= n:
            raise ValueError(f"own_stages must be in 1..{n} at image_size {image_size}, got {own_stages}")
        w = widths(image_size, ndf)[::-1]  # image_size first

        def own(channels: int) -> nn.Sequential:
            stages = [down_stage(channels, w[0], norm=None)]
            stages += [down_stage(w[i - 1], w[i], norm=norm) for i in range(1, own_stages)]
            return nn.Sequential(*stages)

        self.own_a, self.own_b = own(in_channels), own(in_channels if out_channels is None else out_channels)
        self.shared = nn.Sequential(*[down_stage(w[i - 1], w[i], norm=norm) for i in range(own_stages, n)],
                                    nn.Conv2d(w[n - 1], 1, 4, 1, 0))

    def forward(self, x: torch.Tensor, *, domain: str = "a") -> torch.Tensor:
        return self.shared((self.own_a if domain == "a" else self.own_b)(x))


@register_net("cogan_g", kind="two_way", summary="CoGAN: coupled generators from one code, all but the output shared",
              defaults={"norm": "batch", "image_size": 128})
def cogan_g(**kwargs) -> CoGANGenerator:
    return CoGANGenerator(**kwargs)


@register_net("cogan_d", kind="discriminator", summary="CoGAN: coupled discriminators, shared last layers",
              defaults={"norm": "batch", "image_size": 128})
def cogan_d(**kwargs) -> CoGANDiscriminator:
    return CoGANDiscriminator(**kwargs)
