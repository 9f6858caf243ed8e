"""Adversarial objectives on raw discriminator outputs (logits or critic scores).

Each mode gives the discriminator's loss on real and on fake predictions separately (so the
trainer can log both) and the generator's loss on fake predictions:
- vanilla: binary cross-entropy with logits (the original GAN, pix2pix's default);
- lsgan: least squares to targets 1 and 0 (CycleGAN's default, steadier gradients);
- hinge: max(0, 1 - D(real)) + max(0, 1 + D(fake)) for D, -D(fake) for G;
- wgan-gp: -D(real) + D(fake) for the critic, -D(fake) for G; add `gradient_penalty`;
- wgan: the same losses, the critic kept Lipschitz by clipping its weights after each of its
  steps instead (`clip_weights_`, Arjovsky et al. 2017; DualGAN's choice).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mosaicgan.choices import GAN_MODES


def _check(mode: str) -> None:
    if mode not in GAN_MODES:
        raise ValueError(f"gan mode must be one of {GAN_MODES}, got {mode!r}")


def discriminator_loss(pred_real: torch.Tensor, pred_fake: torch.Tensor, *,
                       mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss on real predictions, loss on fake predictions), each a scalar."""
    _check(mode)
    if mode == "vanilla":
        return (
            F.binary_cross_entropy_with_logits(pred_real, torch.ones_like(pred_real)),
            F.binary_cross_entropy_with_logits(pred_fake, torch.zeros_like(pred_fake)),
        )
    if mode == "lsgan":
        return F.mse_loss(pred_real, torch.ones_like(pred_real)), F.mse_loss(pred_fake, torch.zeros_like(pred_fake))
    if mode == "hinge":
        return F.relu(1.0 - pred_real).mean(), F.relu(1.0 + pred_fake).mean()
    return -pred_real.mean(), pred_fake.mean()


def generator_loss(pred_fake: torch.Tensor, *, mode: str) -> torch.Tensor:
    """The generator wants its fakes judged real."""
    _check(mode)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(pred_fake, torch.ones_like(pred_fake))
    if mode == "lsgan":
        return F.mse_loss(pred_fake, torch.ones_like(pred_fake))
    return -pred_fake.mean()


def gradient_penalty(disc: nn.Module | Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: (||grad D(x_hat)||_2 - 1)^2 at random points between real and fake samples."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = disc(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1.0).pow(2).mean()


@torch.no_grad()
def clip_weights_(disc: nn.Module, *, limit: float) -> None:
    """WGAN's critic constraint: every parameter clipped to [-limit, limit], after its optimizer step."""
    for p in disc.parameters():
        p.clamp_(-limit, limit)


def critic_loss(disc: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, *, mode: str,
                lambda_gp: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A discriminator's whole loss on real and (detached) fake images, halved as the reference
    does, with the gradient penalty under wgan-gp; and its detached terms for the log. `disc` may
    be any callable (a coupled discriminator with its domain bound). Clipping (mode wgan) is the
    caller's, after the optimizer step."""
    loss_real, loss_fake = discriminator_loss(disc(real), disc(fake), mode=mode)
    total = 0.5 * (loss_real + loss_fake)
    terms = {"real": loss_real.detach(), "fake": loss_fake.detach()}
    if mode == "wgan-gp":
        gp = gradient_penalty(disc, real, fake)
        total = total + lambda_gp * gp
        terms["gp"] = gp.detach()
    return total, terms
