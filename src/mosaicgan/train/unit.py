"""UNIT (Liu, Breuel and Kautz 2017): unpaired translation through a shared latent space, trained
as two VAE-GANs (the networks: nets.unit).

Each step, for each domain x in {A, B} with code mean mu = encode(x) and z = mu + N(0, I):
- the VAE: decode(z) in x's own domain reconstructs x (L1, `loss.lambda_recon`, the paper's
  lambda_2 = 100 over its GAN weight 10), and the KL term of the code against N(0, I) (with the
  encoder's fixed unit variance that is the squared mean; `loss.lambda_kl`, lambda_1 = 0.1 / 10);
- the GAN: decode(z) in the other domain is judged by that domain's discriminator;
- the cycle: the translation is encoded again and decoded back in x's domain, which must give x
  (L1, `loss.lambda_cycle`, lambda_4 = 100 / 10), with the KL term of the translation's code
  (lambda_3 = 0.1 / 10).
The weights are the paper's divided by its GAN weight, as in the authors' code. The discriminators
(PatchGANs, `nets.net_d`; the paper's share no weights) learn as CycleGAN's, without a pool.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mosaicgan.config import TrainConfig
from mosaicgan.data.unpaired import UnpairedDataset
from mosaicgan.losses.adversarial import clip_weights_, critic_loss, generator_loss
from mosaicgan.losses.pixel import l1
from mosaicgan.nets import get_net
from mosaicgan.train.cyclegan import unpaired_dataset
from mosaicgan.train.precision import Precision
from mosaicgan.train.task import adam, discriminator_from_config, set_requires_grad


def kl_term(mu: torch.Tensor) -> torch.Tensor:
    """The KL term of a code N(mu, I) against N(0, I), as the paper's encoders have unit variance:
    the mean of mu^2 over the code's elements (the KL per element is half of it; the authors' code
    takes the mean of mu^2, and the weights above are for that)."""
    return mu.float().pow(2).mean()


class UNITTask:
    kind = "unit"

    def __init__(self, config: TrainConfig) -> None:
        n = config.nets
        self.config = config
        self.gen = get_net("unit", kind="two_way", in_channels=n.in_channels, out_channels=n.out_channels, ngf=n.ngf,
                           norm=n.norm, dropout=n.dropout, upsample=n.upsample, blocks=n.blocks)
        self.disc_a = discriminator_from_config(n, in_channels=n.in_channels)
        self.disc_b = discriminator_from_config(n, in_channels=n.out_channels)
        self.opt_g = adam(self.gen.parameters(), config)
        self.opt_d = adam([*self.disc_a.parameters(), *self.disc_b.parameters()], config)
        self.precision = Precision()  # the loop sets the run's
        self._last: list[torch.Tensor] = []

    def nets(self) -> dict[str, nn.Module]:
        return {"gen": self.gen, "disc_a": self.disc_a, "disc_b": self.disc_b}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "disc": self.opt_d}

    def _vae_gan(self, real: torch.Tensor, *, own: str, other: str) -> tuple[torch.Tensor, ...]:
        """Encode `real` (domain `own`), sample z, decode in both domains, encode the translation
        and decode it back. Returns mu, own reconstruction, translation, its mu, cycle."""
        mu = self.gen.encode(real, domain=own)
        rec, fake = self.gen.decode_both(mu + torch.randn_like(mu), order=(own, other))
        mu_fake = self.gen.encode(fake, domain=other)
        cycle = self.gen.decode(mu_fake + torch.randn_like(mu_fake), domain=own)
        return mu, rec, fake, mu_fake, cycle

    def step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = self.config.loss
        real_a, real_b = batch["a"], batch["b"]

        # G step (encoders, shared layers, decoders) through frozen discriminators.
        set_requires_grad([self.disc_a, self.disc_b], False)
        self.opt_g.zero_grad(set_to_none=True)
        mu_a, rec_a, fake_b, mu_ab, cyc_a = self._vae_gan(real_a, own="a", other="b")
        mu_b, rec_b, fake_a, mu_ba, cyc_b = self._vae_gan(real_b, own="b", other="a")
        gan = generator_loss(self.disc_b(fake_b), mode=loss.gan_mode) + generator_loss(self.disc_a(fake_a),
                                                                                        mode=loss.gan_mode)
        recon = l1(rec_a, real_a) + l1(rec_b, real_b)
        kl = kl_term(mu_a) + kl_term(mu_b)
        cycle = l1(cyc_a, real_a) + l1(cyc_b, real_b)
        kl_cycle = kl_term(mu_ab) + kl_term(mu_ba)
        total = gan + loss.lambda_recon * recon + loss.lambda_kl * (kl + kl_cycle) + loss.lambda_cycle * cycle
        self.precision.backward(total, key="gen")
        self.precision.step(self.opt_g, key="gen")

        # D step on the translations, detached.
        set_requires_grad([self.disc_a, self.disc_b], True)
        self.opt_d.zero_grad(set_to_none=True)
        losses = {"loss_g_gan": gan.detach(), "loss_recon": recon.detach(), "loss_kl": kl.detach(),
                  "loss_cycle": cycle.detach(), "loss_kl_cycle": kl_cycle.detach()}
        d_total = 0.0
        for name, disc, real, fake in (("a", self.disc_a, real_a, fake_a), ("b", self.disc_b, real_b, fake_b)):
            d_loss, terms = critic_loss(disc, real, fake.detach(), mode=loss.gan_mode, lambda_gp=loss.lambda_gp)
            d_total = d_total + d_loss
            losses.update({f"loss_d_{name}_{k}": v for k, v in terms.items()})
        self.precision.backward(d_total, key="disc")
        self.precision.step(self.opt_d, key="disc")
        if loss.gan_mode == "wgan":
            for disc in (self.disc_a, self.disc_b):
                clip_weights_(disc, limit=loss.clip_d)

        self._last = [t.detach() for t in (real_a, fake_b, cyc_a, real_b, fake_a, cyc_b)]
        return losses

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """A | A->B | A->B->A | B | B->A | B->A->B, from the last step."""
        return list(self._last)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass


def unit_dataset(config: TrainConfig) -> UnpairedDataset:
    return unpaired_dataset(config, multiple=4)  # two stride-2 levels
