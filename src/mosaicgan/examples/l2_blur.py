"""Why an L2 (mean-squared-error) loss blurs, and an adversarial one does not.

A toy version of the "U-shaped manifold" picture in the SRGAN paper. Every plausible answer
lies on the curve y2 = y1^2; for an input a in [0.5, 1.5] there are two of them, (-a, a^2)
and (+a, a^2), equally likely, the way a low-resolution patch fits several sharp ones. The
MSE-optimal prediction is their average, (0, a^2): off the manifold, between the modes, the
toy's "blurry image". A conditional GAN generator G(a, z) is pushed by its discriminator onto
the curve and lands on one of the modes: a sharp answer, though not necessarily the true one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicgan.examples import plot
from mosaicgan.examples.registry import register_example
from mosaicgan.examples.results import write_outputs
from mosaicgan.examples.toy_nets import discriminator_loss, generator_loss, mlp, one_thread

A_RANGE = (0.5, 1.5)
TARGET_NOISE = 0.03


def modes(a: np.ndarray) -> np.ndarray:
    """(N, 2, 2): the two answers (-a, a^2) and (+a, a^2) for each input a."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    return np.stack([np.stack([-a, a * a], 1), np.stack([a, a * a], 1)], axis=1)


def sample_pairs(n: int, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n inputs a (N, 1) and targets y (N, 2): one of the two modes by a fair coin, plus noise."""
    a = A_RANGE[0] + (A_RANGE[1] - A_RANGE[0]) * torch.rand(n, 1, generator=generator)
    sign = torch.randint(2, (n, 1), generator=generator) * 2.0 - 1.0
    y = torch.cat([sign * a, a * a], dim=1) + TARGET_NOISE * torch.randn(n, 2, generator=generator)
    return a, y


def distance_to_nearest_mode(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean distance from each prediction y (N, 2) to the nearer of its input's modes."""
    y = np.asarray(y, dtype=np.float64).reshape(-1, 1, 2)
    return np.linalg.norm(modes(a) - y, axis=2).min(axis=1)


def train_mse(*, steps: int, batch: int = 256, hidden: int = 64, lr: float = 1e-3,
              seed: int = 0) -> torch.nn.Module:
    """A regressor a -> y trained on the mean squared error: it learns E[y | a]."""
    gen = torch.Generator().manual_seed(seed)
    with one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = mlp(in_dim=1, hidden=hidden, out_dim=2, depth=2)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for _ in range(steps):
            a, y = sample_pairs(batch, generator=gen)
            loss = (net(a) - y).pow(2).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net


def train_conditional_gan(*, steps: int, batch: int = 256, hidden: int = 64, noise_dim: int = 2,
                          lr: float = 1e-3, r1: float = 0.1, seed: int = 0) -> torch.nn.Module:
    """A generator G(a, z) -> y trained only against a discriminator D(a, y); returns G.

    D sees the input beside the answer (as pix2pix's D does), so G must give an answer that
    fits this input, not just any point on the curve. The R1 penalty keeps D smooth, which
    steadies this small game.
    """
    gen = torch.Generator().manual_seed(seed)
    with one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g_net = mlp(in_dim=1 + noise_dim, hidden=hidden, out_dim=2, depth=2)
        d_net = mlp(in_dim=3, hidden=hidden, out_dim=1, depth=2)
        opt_g = torch.optim.Adam(g_net.parameters(), lr=lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d_net.parameters(), lr=lr, betas=(0.5, 0.999))
        for _ in range(steps):
            a, y = sample_pairs(batch, generator=gen)
            with torch.no_grad():
                fake = g_net(torch.cat([a, torch.randn(batch, noise_dim, generator=gen)], 1))
            real_in = torch.cat([a, y], 1).requires_grad_(r1 > 0)
            real_logits = d_net(real_in)
            loss_d = discriminator_loss(real_logits, d_net(torch.cat([a, fake], 1)))
            if r1 > 0:
                (grad,) = torch.autograd.grad(real_logits.sum(), real_in, create_graph=True)
                loss_d = loss_d + 0.5 * r1 * grad.pow(2).sum(dim=1).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            fake = g_net(torch.cat([a, torch.randn(batch, noise_dim, generator=gen)], 1))
            loss_g = generator_loss(d_net(torch.cat([a, fake], 1)))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
    return g_net


def predict_gan(g_net: torch.nn.Sequential, a: np.ndarray, *, seed: int) -> np.ndarray:
    """One sample of G(a, z) per input, with noise z drawn from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    noise_dim = g_net[0].in_features - 1  # G's first layer sees the input a beside the noise
    a_t = torch.as_tensor(np.asarray(a), dtype=torch.float32).reshape(-1, 1)
    with torch.no_grad():
        z = torch.randn(len(a_t), noise_dim, generator=gen)
        return g_net(torch.cat([a_t, z], 1)).numpy()


def predict_mse(net: torch.nn.Module, a: np.ndarray) -> np.ndarray:
    """The regressor's answer for each input a."""
    with torch.no_grad():
        return net(torch.as_tensor(np.asarray(a), dtype=torch.float32).reshape(-1, 1)).numpy()


@register_example("l2-blur",
                  "why L2 blurs: the MSE prediction falls between two modes, a cGAN's lands on one")
def run(*, out_dir: Path, seed: int = 0, mse_steps: int = 600, gan_steps: int = 1500,
        n_eval: int = 600) -> dict[str, Any]:
    mse_net = train_mse(steps=mse_steps, seed=seed)
    g_net = train_conditional_gan(steps=gan_steps, seed=seed)
    a_eval = np.linspace(*A_RANGE, n_eval)
    _, real = sample_pairs(n_eval, generator=torch.Generator().manual_seed(seed + 1))
    y_mse = predict_mse(mse_net, a_eval)
    y_gan = predict_gan(g_net, a_eval, seed=seed + 2)
    dist_mse = distance_to_nearest_mode(a_eval, y_mse)
    dist_gan = distance_to_nearest_mode(a_eval, y_gan)
    # Which mode each GAN answer chose: a GAN may sharpen onto one mode for every input.
    gan_right = float((y_gan[:, 0] > 0).mean())

    curve = np.linspace(-1.7, 1.7, 400)
    size = {"width": 420, "height": 380}
    manifold_ax = plot.Axes(xlim=(-1.8, 1.8), ylim=(-0.2, 2.6), title="answers y for inputs a in [0.5, 1.5]",
                            xlabel="y1", ylabel="y2", legend_at="bottom-right", **size)
    manifold_ax.line(curve, curve**2, color=plot.GREY, width=1, label="manifold y2 = y1^2")
    real = real.numpy()
    manifold_ax.scatter(real[:, 0], real[:, 1], color=plot.SKY, radius=2, label="real answers")
    manifold_ax.scatter(y_mse[:, 0], y_mse[:, 1], color=plot.VERMILION, radius=2, label="MSE prediction")
    manifold_ax.scatter(y_gan[:, 0], y_gan[:, 1], color=plot.GREEN, radius=1.5, label="cGAN samples")
    per_input_ax = plot.Axes(xlim=A_RANGE, ylim=(-1.8, 1.8), title="first coordinate against the input",
                             xlabel="input a", ylabel="y1", legend_at="bottom-left", **size)
    for sign in (-1, 1):
        per_input_ax.line(a_eval, sign * a_eval, color=plot.SKY, width=6,
                          label="modes +-a" if sign > 0 else None)
    per_input_ax.scatter(a_eval, y_mse[:, 0], color=plot.VERMILION, radius=2, label="MSE")
    per_input_ax.scatter(a_eval, y_gan[:, 0], color=plot.GREEN, radius=2, label="cGAN")
    bins = np.linspace(0, 1.6, 41)
    mse_counts, _ = np.histogram(np.clip(dist_mse, 0, 1.6), bins=bins)
    gan_counts, _ = np.histogram(np.clip(dist_gan, 0, 1.6), bins=bins)
    hist_ax = plot.Axes(xlim=(0, 1.6), ylim=(0, 1.1 * max(mse_counts.max(), gan_counts.max())),
                        title="distance to the nearest mode", xlabel="distance", ylabel="predictions", **size)
    hist_ax.bars(bins, gan_counts, color=plot.GREEN, label=f"cGAN, mean {dist_gan.mean():.3f}")
    hist_ax.bars(bins, mse_counts, color=plot.VERMILION, label=f"MSE, mean {dist_mse.mean():.3f}")
    image = plot.side_by_side([manifold_ax, per_input_ax, hist_ax],
                              title="Why L2 blurs: the MSE answer averages the plausible ones, off the "
                                    "manifold; the adversarial answer lands on one of them")

    headline = {"mse_mean_distance_to_mode": float(dist_mse.mean()),
                "gan_mean_distance_to_mode": float(dist_gan.mean()),
                "mean_distance_between_modes": float(np.mean(2 * a_eval)),
                "gan_fraction_on_right_mode": gan_right}
    figures = {"a": a_eval, "mse_prediction": y_mse, "gan_prediction": y_gan,
               "mse_distance": dist_mse, "gan_distance": dist_gan, "real": real}
    return write_outputs(out_dir=out_dir, name="l2-blur", image=image, seed=seed,
                         options={"mse_steps": mse_steps, "gan_steps": gan_steps, "n_eval": n_eval},
                         headline=headline, figures=figures)
