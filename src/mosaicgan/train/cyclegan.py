"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

gen_ab: A -> B and gen_ba: B -> A, each judged by a PatchGAN of its output domain (disc_b sees
real and generated B, disc_a real and generated A). With no pairs to compare against, the
cycle losses ||gen_ba(gen_ab(a)) - a||_1 and ||gen_ab(gen_ba(b)) - b||_1 (lambda_cycle = 10)
are what ties an output to its input; without them G is free to map every input to the same
few convincing images (mode collapse). The identity loss (lambda_identity x lambda_cycle)
asks each generator to leave images already in its output domain unchanged, which keeps
colours from drifting. D learns from a history pool of fakes.

DualGAN-style noise: with nets.dropout=true the generators train with dropout, and with
nets.dropout_at_test=true `translate --samples K` draws K different outputs.

The same task trains the members of the family that share CycleGAN's objective (two generators,
two discriminators, a reconstruction term each way): `discogan` (DiscoGANTask below: the model
table, `mosaicgan.models`, gives its networks and losses) and `dualgan` (train/dualgan.py).
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from mosaicgan.config import TrainConfig
from mosaicgan.data.unpaired import UnpairedDataset
from mosaicgan.errors import UserError
from mosaicgan.losses.adversarial import clip_weights_, discriminator_loss, generator_loss, gradient_penalty
from mosaicgan.losses.pixel import l1, mse
from mosaicgan.train.branches import Branches
from mosaicgan.train.image_pool import ImagePool
from mosaicgan.train.precision import Precision
from mosaicgan.train.task import (
    adam,
    check_sizes,
    discriminator_from_config,
    generator_from_config,
    generator_size_multiple,
    set_requires_grad,
)


class CycleGANTask:
    kind = "cyclegan"

    @staticmethod
    def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
        return adam(params, config)

    def __init__(self, config: TrainConfig) -> None:
        n, loss = config.nets, config.loss
        if loss.lambda_identity > 0 and n.in_channels != n.out_channels:
            raise UserError(
                f"the identity loss feeds B ({n.out_channels} channels) to gen_ab, which takes {n.in_channels}; "
                "set loss.lambda_identity=0 for domains with different channel counts"
            )
        self.config = config
        self.gen_ab = generator_from_config(n, in_channels=n.in_channels, out_channels=n.out_channels)
        self.gen_ba = generator_from_config(n, in_channels=n.out_channels, out_channels=n.in_channels)
        self.disc_a = discriminator_from_config(n, in_channels=n.in_channels)
        self.disc_b = discriminator_from_config(n, in_channels=n.out_channels)
        # One optimizer per side, as the reference: both generators share one loss.
        self.opt_g = self.make_optimizer([*self.gen_ab.parameters(), *self.gen_ba.parameters()], config)
        self.opt_d = self.make_optimizer([*self.disc_a.parameters(), *self.disc_b.parameters()], config)
        self.distance = {"l1": l1, "mse": mse}[loss.cycle_distance]  # DiscoGAN's preset: mse
        self.iteration = 0  # for loss.n_critic: G steps on every n_critic-th iteration
        self._g_losses: dict[str, torch.Tensor] = {}
        self.pool_a = ImagePool(loss.pool_size)  # fakes of domain A, for disc_a
        self.pool_b = ImagePool(loss.pool_size)
        self.precision = Precision()  # the loop sets the run's (autocast, fp16 scaling, gradient averaging)
        self.branches = Branches()  # in order; the loop may set side by side (train/branches.py)

    def nets(self) -> dict[str, torch.nn.Module]:
        return {"gen_ab": self.gen_ab, "gen_ba": self.gen_ba, "disc_a": self.disc_a, "disc_b": self.disc_b}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": self.opt_g, "disc": self.opt_d}

    def step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        real_a, real_b = batch["a"], batch["b"]
        self.iteration += 1
        g_steps = (self.iteration - 1) % self.config.loss.n_critic == 0

        if g_steps:
            # G step first (as the reference): D is frozen, so G's loss builds no graph in D's weights.
            # G's loss is the sum of two cycles that share no activations, each with its own
            # backward, run side by side where that is safe (train/branches.py).
            set_requires_grad([self.disc_a, self.disc_b], False)
            self.opt_g.zero_grad(set_to_none=True)
            (fake_b, rec_a, terms_a), (fake_a, rec_b, terms_b) = self.branches.run(
                lambda: self._cycle(real_a, gen=self.gen_ab, back=self.gen_ba, disc=self.disc_b),
                lambda: self._cycle(real_b, gen=self.gen_ba, back=self.gen_ab, disc=self.disc_a))
            self.precision.step(self.opt_g, key="gen")
            # Logged unweighted (mean absolute error in [-1, 1] units), so runs with other lambdas compare.
            self._g_losses = {"loss_g_gan_ab": terms_a["gan"], "loss_g_gan_ba": terms_b["gan"],
                              "loss_cycle_a": terms_a["cycle"], "loss_cycle_b": terms_b["cycle"]}
            if "idt" in terms_a:
                self._g_losses.update(loss_idt_a=terms_a["idt"], loss_idt_b=terms_b["idt"])
        else:
            # A critic-only iteration (loss.n_critic > 1): fakes of the current generators, no G step.
            with torch.no_grad():
                fake_b, fake_a = self.gen_ab(real_a), self.gen_ba(real_b)
                rec_a, rec_b = self.gen_ba(fake_b), self.gen_ab(fake_a)
        # Between G steps the log repeats the last G step's terms (those of the generators now).
        losses = dict(self._g_losses)

        # D step on fakes from the history pools (detached there: D's loss must not reach G).
        # The pools are queried here, in order: they draw from torch's global generator.
        set_requires_grad([self.disc_a, self.disc_b], True)
        self.opt_d.zero_grad(set_to_none=True)
        pooled_a, pooled_b = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        d_a = functools.partial(self._disc_step, self.disc_a, real=real_a, fake=pooled_a)
        d_b = functools.partial(self._disc_step, self.disc_b, real=real_b, fake=pooled_b)
        # The gradient penalty draws torch's random numbers: with it the two run in order.
        terms_da, terms_db = self.branches.run(d_a, d_b) if self.config.loss.gan_mode != "wgan-gp" else (d_a(), d_b())
        for name, terms in (("a", terms_da), ("b", terms_db)):
            losses.update({f"loss_d_{name}_{k}": v for k, v in terms.items()})
        self.precision.step(self.opt_d, key="disc")
        if self.config.loss.gan_mode == "wgan":
            for disc in (self.disc_a, self.disc_b):
                clip_weights_(disc, limit=self.config.loss.clip_d)

        self._last = [t.detach() for t in (real_a, fake_b, rec_a, real_b, fake_a, rec_b)]
        # Tensors, not floats: the loop reads them (waiting for the device) only when it logs.
        return losses

    def _cycle(self, real: torch.Tensor, *, gen: torch.nn.Module, back: torch.nn.Module,
               disc: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One direction's share of G's loss, backpropagated: `gen` judged by `disc` (the
        discriminator of its output domain), the cycle back through `back`, and `back`'s identity
        term on `real`, which is already in back's output domain. Returns the detached fake and
        reconstruction, and the unweighted terms."""
        loss = self.config.loss
        fake = gen(real)
        loss_gan = generator_loss(disc(fake), mode=loss.gan_mode)
        total = loss_gan
        # With the cycle loss off (an ablation) the reconstruction is still measured, without a graph.
        with torch.set_grad_enabled(loss.lambda_cycle > 0):
            rec = back(fake)
            loss_cycle = self.distance(rec, real)
        if loss.lambda_cycle > 0:
            total = total + loss.lambda_cycle * loss_cycle
        terms = {"gan": loss_gan.detach(), "cycle": loss_cycle.detach()}
        if loss.lambda_identity > 0:
            loss_idt = self.distance(back(real), real)
            total = total + loss.lambda_identity * loss.lambda_cycle * loss_idt
            terms["idt"] = loss_idt.detach()
        self.precision.backward(total, key="gen")
        return fake.detach(), rec.detach(), terms

    def _disc_step(self, disc: torch.nn.Module, *, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """One discriminator's loss on real and pooled fake images, backpropagated."""
        loss = self.config.loss
        loss_real, loss_fake = discriminator_loss(disc(real), disc(fake), mode=loss.gan_mode)
        # Halved as in the reference, which slows D relative to G.
        loss_d = 0.5 * (loss_real + loss_fake)
        terms = {"real": loss_real.detach(), "fake": loss_fake.detach()}
        if loss.gan_mode == "wgan-gp":
            gp = gradient_penalty(disc, real, fake)
            loss_d = loss_d + loss.lambda_gp * gp
            terms["gp"] = gp.detach()
        self.precision.backward(loss_d, key="disc")
        return terms

    def visuals(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        """A | gen_ab(A) | gen_ba(gen_ab(A)) | B | gen_ba(B) | gen_ab(gen_ba(B)), from the last step."""
        return list(self._last)

    def extra_state(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(), "iteration": self.iteration}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.pool_a.load_state_dict(state["pool_a"])
        self.pool_b.load_state_dict(state["pool_b"])
        self.iteration = int(state.get("iteration", 0))  # absent in resume states of older versions


class DiscoGANTask(CycleGANTask):
    """DiscoGAN (Kim et al. 2017): the paper says itself that its objective is this one, two
    generators, two discriminators and a reconstruction each way; what differs is settings
    (its networks, the original GAN loss, MSE reconstructions weighted 1:1 with the adversarial
    terms, no identity term, no pool), all in the model table."""

    kind = "discogan"


def cyclegan_dataset(config: TrainConfig) -> UnpairedDataset:
    n = config.nets
    return unpaired_dataset(config, multiple=generator_size_multiple(n, in_channels=n.in_channels,
                                                                     out_channels=n.out_channels))


def unpaired_dataset(config: TrainConfig, *, multiple: int) -> UnpairedDataset:
    """Domains A and B, unpaired (data/unpaired.py), for any model of the unpaired family; each
    image side, after preprocessing, a multiple of `multiple`."""
    d, n = config.data, config.nets
    if d.direction != "AtoB":
        raise UserError(f"{config.model} trains both directions at once; keep data.direction=AtoB and "
                        "choose the generator at translate time (--direction BtoA)")
    dataset = UnpairedDataset(
        root=d.root, split=d.split, layout=d.layout, serial=d.serial, preprocess=d.preprocess,
        load_size=d.load_size, crop_size=d.crop_size, flip=d.flip, in_channels=n.in_channels,
        out_channels=n.out_channels, max_items=d.max_items,
    )
    # Each domain is batched on its own, so each must share one size within itself only.
    for sizes in (dataset.sizes_a, dataset.sizes_b):
        check_sizes(sizes, batch_size=config.optim.batch_size, data=d, multiple=multiple)
    return dataset
