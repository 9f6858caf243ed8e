"""pix2pix (Isola et al. 2017): a conditional GAN with an L1 term.

D sees (input, image) stacked on channels and judges patches; G = U-Net is trained to fool D
and to stay within L1 of the target (lambda_l1 = 100).
"""

from __future__ import annotations

from typing import Any

import torch

from mosaicgan.config import TrainConfig
from mosaicgan.data.paired import PairedDataset
from mosaicgan.losses.adversarial import clip_weights_, discriminator_loss, generator_loss, gradient_penalty
from mosaicgan.losses.pixel import l1
from mosaicgan.train.precision import Precision
from mosaicgan.train.task import (
    adam,
    check_sizes,
    discriminator_from_config,
    generator_from_config,
    generator_size_multiple,
    set_requires_grad,
)


class Pix2PixTask:
    kind = "pix2pix"

    def __init__(self, config: TrainConfig) -> None:
        n = config.nets
        self.config = config
        self.gen = generator_from_config(n, in_channels=n.in_channels, out_channels=n.out_channels)
        self.disc = discriminator_from_config(n, in_channels=n.in_channels + n.out_channels)
        self.opt_g = adam(self.gen.parameters(), config)
        self.opt_d = adam(self.disc.parameters(), config)
        self.precision = Precision()  # the loop sets the run's (autocast, fp16 scaling, gradient averaging)

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"gen": self.gen, "disc": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "disc": self.opt_d}

    def step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        mode = self.config.loss.gan_mode
        real_a, real_b = batch["a"], batch["b"]
        fake_b = self.gen(real_a)

        # D step. fake_b is detached: D's loss must not push gradients into G.
        set_requires_grad([self.disc], True)
        self.opt_d.zero_grad(set_to_none=True)
        fake_ab = torch.cat([real_a, fake_b.detach()], dim=1)
        real_ab = torch.cat([real_a, real_b], dim=1)
        loss_d_real, loss_d_fake = discriminator_loss(self.disc(real_ab), self.disc(fake_ab), mode=mode)
        # Halved as in the reference, which slows D relative to G.
        loss_d = 0.5 * (loss_d_real + loss_d_fake)
        losses = {}
        if mode == "wgan-gp":
            gp = gradient_penalty(self.disc, real_ab, fake_ab)
            loss_d = loss_d + self.config.loss.lambda_gp * gp
            losses["loss_d_gp"] = gp.detach()
        self.precision.backward(loss_d, key="disc")
        self.precision.step(self.opt_d, key="disc")
        if mode == "wgan":
            clip_weights_(self.disc, limit=self.config.loss.clip_d)

        # G step through a frozen D.
        set_requires_grad([self.disc], False)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g_gan = generator_loss(self.disc(torch.cat([real_a, fake_b], dim=1)), mode=mode)
        loss_g_l1 = l1(fake_b, real_b)
        self.precision.backward(loss_g_gan + self.config.loss.lambda_l1 * loss_g_l1, key="gen")
        self.precision.step(self.opt_g, key="gen")

        self._last = (real_a, fake_b.detach(), real_b)
        # Tensors, not floats: reading a value waits for the device, so the loop reads them
        # only when it logs.
        return {
            "loss_d_real": loss_d_real.detach(),
            "loss_d_fake": loss_d_fake.detach(),
            "loss_g_gan": loss_g_gan.detach(),
            "loss_g_l1": loss_g_l1.detach(),
            **losses,
        }

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """input | output | target, from the last step (no extra forward pass)."""
        return list(self._last)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def pix2pix_dataset(config: TrainConfig) -> PairedDataset:
    d, n = config.data, config.nets
    dataset = PairedDataset(
        root=d.root, split=d.split, layout=d.layout, direction=d.direction, preprocess=d.preprocess,
        load_size=d.load_size, crop_size=d.crop_size, flip=d.flip, in_channels=n.in_channels,
        out_channels=n.out_channels, max_items=d.max_items,
    )
    multiple = generator_size_multiple(n, in_channels=n.in_channels, out_channels=n.out_channels)
    check_sizes(dataset.sizes, batch_size=config.optim.batch_size, data=d, multiple=multiple)
    return dataset
