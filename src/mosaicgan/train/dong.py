"""The c-GAN + encoder method of Dong, Neekhara, Wu and Guo 2017, in its stages (`dong.stage`),
each a run of its own started from the last one's checkpoint (`--init-from`), as `train srgan`'s:

1. gan: a GAN conditioned on the domain. The generator gen(z, c) makes images of domain c from
   codes z; the discriminator (a PatchGAN, `nets.net_d`) sees an image with its domain as two
   one-hot planes and judges real or made. One generator makes both domains, so the same code is
   drawn alike in both, which is the correspondence the method relies on.
2. encoder: the generator fixed, the encoder learns to find a code: for generated images, whose
   codes are known, the MSE of enc(gen(z, c)) to z (`dong.lambda_latent`); for real images, whose
   codes are not, the L1 of gen(enc(x), c_x) to x, through the fixed generator
   (`loss.lambda_recon`).
3. joint: both train together on the same two terms, the generator keeping its adversarial loss
   (and the discriminator its updates), so that the generator can meet the encoder on real images.
Translation joins them: gen(enc(x), other domain) (nets.dong).
"""

from __future__ import annotations

import json
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.checkpoint import read_metadata
from mosaicgan.config import TrainConfig
from mosaicgan.errors import UserError
from mosaicgan.losses.adversarial import clip_weights_, critic_loss, generator_loss
from mosaicgan.losses.pixel import l1
from mosaicgan.nets import get_net
from mosaicgan.nets.dong import DOMAINS, with_domain
from mosaicgan.train.precision import Precision
from mosaicgan.train.task import adam, discriminator_from_config, set_requires_grad


def check_previous_stage(config: TrainConfig) -> None:
    """Stages encoder and joint start from an earlier stage's checkpoint of the same networks."""
    if not config.run.init_from:
        raise UserError(f"dong.stage={config.dong.stage} starts from the previous stage's run: give --init-from "
                        "RUN_DIR (stage gan before encoder, encoder before joint)")
    stored = json.loads(read_metadata(config.run.init_from)["nets"]).get("gen", {}).get("kwargs", {})
    n = config.nets
    for key, value in (("ngf", n.ngf), ("z_dim", n.z_dim), ("image_size", config.data.crop_size)):
        if key in stored and stored[key] != value:
            where = "data.crop_size" if key == "image_size" else f"nets.{key}"
            raise UserError(f"{where} = {value}, but the previous stage's generator has {stored[key]}; use its config",
                            path=config.run.init_from)


class DongTask:
    kind = "dong"

    def __init__(self, config: TrainConfig) -> None:
        n = config.nets
        self.config = config
        self.stage = config.dong.stage
        if self.stage != "gan":
            check_previous_stage(config)
        self.gen = get_net("dong_g", kind="two_way", in_channels=n.in_channels, out_channels=n.out_channels,
                           ngf=n.ngf, norm=n.norm, upsample=n.upsample, z_dim=n.z_dim, image_size=config.data.crop_size)
        self.disc = discriminator_from_config(n, in_channels=n.in_channels + len(DOMAINS))
        self.opt_g = adam(self.gen.gen_body.parameters(), config)
        self.opt_e = adam(self.gen.enc_body.parameters(), config)
        self.opt_d = adam(self.disc.parameters(), config)
        self.precision = Precision()  # the loop sets the run's
        self._last: list[torch.Tensor] = []

    def nets(self) -> dict[str, nn.Module]:
        return {"gen": self.gen, "disc": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "enc": self.opt_e, "disc": self.opt_d}

    def step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        reals = {"a": batch["a"], "b": batch["b"]}
        n = reals["a"].shape[0]
        device = reals["a"].device
        losses: dict[str, torch.Tensor] = {}
        trains_gan = self.stage in ("gan", "joint")
        trains_enc = self.stage in ("encoder", "joint")
        # In stage encoder the generator is fixed, batch-norm statistics included.
        self.gen.gen_body.train(trains_gan)
        set_requires_grad([self.gen.gen_body], trains_gan)
        set_requires_grad([self.gen.enc_body], trains_enc)
        codes = {d: torch.randn(n, self.config.nets.z_dim, device=device) for d in DOMAINS}
        with torch.set_grad_enabled(trains_gan):
            fakes = {d: self.gen.gen(codes[d], domain=d) for d in DOMAINS}

        if trains_gan:
            self._disc_step(reals, fakes, losses)
            set_requires_grad([self.disc], False)

        self.opt_g.zero_grad(set_to_none=True)
        self.opt_e.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        if trains_gan:
            gan = sum(generator_loss(self.disc(with_domain(fakes[d], d)), mode=self.config.loss.gan_mode)
                      for d in DOMAINS)
            total = total + gan
            losses["loss_g_gan"] = gan.detach()
        if trains_enc:
            # Codes of generated images are known: the encoder must find them (the paper's term).
            latent = sum(F.mse_loss(self.gen.enc(fakes[d].detach()).float(), codes[d]) for d in DOMAINS)
            # Real images have no known code: decoded in their own domain, the code must give them back.
            recon = {d: self.gen.gen(self.gen.enc(reals[d]), domain=d) for d in DOMAINS}
            loss_recon = sum(l1(recon[d], reals[d]) for d in DOMAINS)
            total = total + self.config.dong.lambda_latent * latent + self.config.loss.lambda_recon * loss_recon
            losses.update(loss_latent=latent.detach(), loss_recon=loss_recon.detach())
        self.precision.backward(total, key="gen")
        if trains_gan:
            self.precision.step(self.opt_g, key="gen")
        if trains_enc:
            self.precision.step(self.opt_e, key="gen")

        visuals = [fakes["a"], fakes["b"]]
        if trains_enc:
            with torch.no_grad():
                visuals += [reals["a"], self.gen.gen(self.gen.enc(reals["a"]), domain="b"), reals["b"],
                            self.gen.gen(self.gen.enc(reals["b"]), domain="a")]
        self._last = [v.detach() for v in visuals]
        return losses

    def _disc_step(self, reals: dict[str, torch.Tensor], fakes: dict[str, torch.Tensor],
                   losses: dict[str, torch.Tensor]) -> None:
        loss = self.config.loss
        set_requires_grad([self.disc], True)
        self.opt_d.zero_grad(set_to_none=True)
        d_total = 0.0
        for d in DOMAINS:
            d_loss, terms = critic_loss(self.disc, with_domain(reals[d], d), with_domain(fakes[d].detach(), d),
                                        mode=loss.gan_mode, lambda_gp=loss.lambda_gp)
            d_total = d_total + d_loss
            losses.update({f"loss_d_{d}_{k}": v for k, v in terms.items()})
        self.precision.backward(d_total, key="disc")
        self.precision.step(self.opt_d, key="disc")
        if loss.gan_mode == "wgan":
            clip_weights_(self.disc, limit=loss.clip_d)

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """gen(z, A) | gen(z', B); from stage encoder on also A | A->B | B | B->A."""
        return list(self._last)

    def checkpoint_extra(self) -> dict[str, Any]:
        return {"stage": self.stage}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass
