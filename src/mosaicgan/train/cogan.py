"""CoGAN (Liu and Tuzel 2016): two GANs with coupled weights (the networks: nets.cogan).

Each step draws codes z, makes the pair (gen(z, a), gen(z, b)) and trains as two ordinary GANs:
each domain's discriminator (its own first layer, shared layers above) on that domain's real
images and its half of the pairs, then the coupled generator to fool both. No image is ever
translated in training, and nothing compares images across domains: the weight sharing alone
makes the two halves of a pair correspond. Translating a given image is a latent inversion
(nets.cogan: `nets.inversion_steps` optimisation steps per image). The paper's objective is the
original GAN's (`loss.gan_mode` vanilla) with Adam at 2e-4, beta1 0.5.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from mosaicgan.config import TrainConfig
from mosaicgan.data.preprocess import output_size
from mosaicgan.data.unpaired import UnpairedDataset
from mosaicgan.errors import UserError
from mosaicgan.losses.adversarial import clip_weights_, critic_loss, generator_loss
from mosaicgan.nets import get_net
from mosaicgan.nets.latent import levels
from mosaicgan.train.cyclegan import unpaired_dataset
from mosaicgan.train.precision import Precision
from mosaicgan.train.task import adam, set_requires_grad


class CoGANTask:
    kind = "cogan"

    def __init__(self, config: TrainConfig) -> None:
        n = config.nets
        self.config = config
        size = config.data.crop_size
        self.gen = get_net("cogan_g", kind="two_way", in_channels=n.in_channels, out_channels=n.out_channels,
                           ngf=n.ngf, norm=n.norm, upsample=n.upsample, z_dim=n.z_dim, image_size=size,
                           inversion_steps=n.inversion_steps)
        self.disc = get_net("cogan_d", kind="discriminator", in_channels=n.in_channels, out_channels=n.out_channels,
                            ndf=n.ndf, norm=n.norm, image_size=size)
        self.opt_g = adam(self.gen.parameters(), config)
        self.opt_d = adam(self.disc.parameters(), config)
        self.precision = Precision()  # the loop sets the run's
        self._last: list[torch.Tensor] = []

    def nets(self) -> dict[str, nn.Module]:
        return {"gen": self.gen, "disc": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "disc": self.opt_d}

    def step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = self.config.loss
        real_a, real_b = batch["a"], batch["b"]
        z = torch.randn(real_a.shape[0], self.config.nets.z_dim, device=real_a.device)
        fake_a, fake_b = self.gen.pair(z)

        # D step: each domain's discriminator on its real images and its half of the pairs.
        set_requires_grad([self.disc], True)
        self.opt_d.zero_grad(set_to_none=True)
        losses: dict[str, torch.Tensor] = {}
        d_total = 0.0
        for domain, real, fake in (("a", real_a, fake_a), ("b", real_b, fake_b)):
            judge = functools.partial(self.disc, domain=domain)
            d_loss, terms = critic_loss(judge, real, fake.detach(), mode=loss.gan_mode, lambda_gp=loss.lambda_gp)
            d_total = d_total + d_loss
            losses.update({f"loss_d_{domain}_{k}": v for k, v in terms.items()})
        self.precision.backward(d_total, key="disc")
        self.precision.step(self.opt_d, key="disc")
        if loss.gan_mode == "wgan":
            clip_weights_(self.disc, limit=loss.clip_d)

        # G step: the coupled generator fools both, through the frozen discriminator.
        set_requires_grad([self.disc], False)
        self.opt_g.zero_grad(set_to_none=True)
        gan_a = generator_loss(self.disc(fake_a, domain="a"), mode=loss.gan_mode)
        gan_b = generator_loss(self.disc(fake_b, domain="b"), mode=loss.gan_mode)
        self.precision.backward(gan_a + gan_b, key="gen")
        self.precision.step(self.opt_g, key="gen")

        self._last = [t.detach() for t in (fake_a, fake_b, real_a, real_b)]
        return {**losses, "loss_g_gan_a": gan_a.detach(), "loss_g_gan_b": gan_b.detach()}

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """gen(z, A) | gen(z, B) (pairs from one code) | a real A | a real B, from the last step."""
        return list(self._last)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def fixed_size_dataset(config: TrainConfig) -> UnpairedDataset:
    """Unpaired domains for the models whose generators make images of one size (CoGAN, Dong et
    al.): data.crop_size, which must be 4 times a power of two, and every image must come out of
    preprocessing at that size (a cropping preprocess)."""
    size = config.data.crop_size
    try:
        levels(size)
    except ValueError:
        raise UserError(f"{config.model} generates images of data.crop_size pixels a side, which must be 4 times a "
                        f"power of two (32, 64, 128, 256, ...); got {size}") from None
    dataset = unpaired_dataset(config, multiple=1)
    d = config.data
    for sizes in (dataset.sizes_a, dataset.sizes_b):
        out = {output_size(s, preprocess=d.preprocess, load_size=d.load_size, crop_size=size) for s in sizes}
        odd = sorted(wh for wh in out if wh != (size, size))
        if odd:
            raise UserError(f"{config.model} trains on {size}x{size} images (data.crop_size), but preprocess "
                            f"{d.preprocess!r} gives {odd[0][0]}x{odd[0][1]}; use a cropping preprocess "
                            "(resize_and_crop, crop)")
    return dataset
