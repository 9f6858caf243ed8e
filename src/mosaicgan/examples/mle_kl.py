"""Maximum likelihood = minimum KL divergence, watched step by step.

For data drawn from P, the average log-likelihood of a model Q is (up to sampling noise)
E_P[log q] = -H(P) - KL(P || Q). H(P) does not depend on Q, so every gradient step that raises
the log-likelihood lowers KL(P || Q) by the same amount. Here P is a two-component Gaussian
mixture (known, so KL can be computed) and Q a single Gaussian fitted by plain gradient ascent;
Q ends at the closed-form MLE (sample mean, 1/n standard deviation), spread over both of P's
modes, because the forward KL punishes a Q that misses any of P's mass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mosaicgan.examples import plot
from mosaicgan.examples.registry import register_example
from mosaicgan.examples.results import write_outputs

# P: weights, means and standard deviations of the mixture the data come from.
MIXTURE = ((0.7, -1.0, 0.6), (0.3, 1.6, 0.7))
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_log_density(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    z = (np.asarray(x, dtype=np.float64) - mean) / std
    return -0.5 * z * z - math.log(std) - LOG_SQRT_2PI


def mixture_log_density(x: np.ndarray, mixture=MIXTURE) -> np.ndarray:
    """log sum_k w_k N(x; m_k, s_k), computed with log-sum-exp so far tails stay finite."""
    parts = np.stack([math.log(w) + gaussian_log_density(x, m, s) for w, m, s in mixture])
    top = parts.max(axis=0)
    return top + np.log(np.exp(parts - top).sum(axis=0))


def sample_mixture(n: int, *, rng: np.random.Generator, mixture=MIXTURE) -> np.ndarray:
    """n draws from the mixture: pick a component by weight, then draw from it."""
    weights = np.array([w for w, _, _ in mixture])
    which = rng.choice(len(mixture), size=n, p=weights / weights.sum())
    means = np.array([m for _, m, _ in mixture])[which]
    stds = np.array([s for _, _, s in mixture])[which]
    return means + stds * rng.standard_normal(n)


def gaussian_mle(x: np.ndarray) -> tuple[float, float]:
    """Closed-form maximum-likelihood Gaussian: the sample mean and the 1/n standard deviation."""
    x = np.asarray(x, dtype=np.float64)
    mean = float(x.mean())
    return mean, float(np.sqrt(np.mean((x - mean) ** 2)))


def kl_quadrature(log_p: np.ndarray, log_q: np.ndarray, grid: np.ndarray) -> float:
    """KL(P || Q) = integral of p (log p - log q), by the trapezoid rule on `grid`."""
    return float(np.trapezoid(np.exp(log_p) * (log_p - log_q), grid))


def kl_monte_carlo(log_p_at_samples: np.ndarray, log_q_at_samples: np.ndarray) -> float:
    """KL(P || Q) estimated as the mean of log p - log q over samples drawn from P."""
    return float(np.mean(log_p_at_samples - log_q_at_samples))


def fit_gaussian(data: np.ndarray, *, mean0: float, std0: float, lr: float,
                 steps: int) -> dict[str, np.ndarray]:
    """Gradient ascent on the average log-likelihood of a Gaussian; returns every step.

    The standard deviation is parametrised by its log so it stays positive without clamping.
    Plain gradient steps (not Adam) with a small enough `lr` raise the likelihood at every
    step, which is what the figure is about. History arrays have `steps + 1` entries
    (the starting point first).
    """
    x = torch.as_tensor(np.asarray(data), dtype=torch.float64)
    mean = torch.tensor(float(mean0), dtype=torch.float64, requires_grad=True)
    log_std = torch.tensor(math.log(std0), dtype=torch.float64, requires_grad=True)
    means, stds, logliks = [], [], []
    for step in range(steps + 1):
        z = (x - mean) / log_std.exp()
        loglik = (-0.5 * z * z - log_std - LOG_SQRT_2PI).mean()
        means.append(mean.item())
        stds.append(log_std.exp().item())
        logliks.append(loglik.item())
        if step == steps:
            break
        mean_grad, log_std_grad = torch.autograd.grad(loglik, (mean, log_std))
        with torch.no_grad():
            mean += lr * mean_grad  # ascent: we maximise the likelihood
            log_std += lr * log_std_grad
    return {"mean": np.array(means), "std": np.array(stds), "loglik": np.array(logliks)}


@register_example("mle-kl", "fit a Gaussian by gradient ascent on the likelihood; KL(P||Q) falls as it rises")
def run(*, out_dir: Path, seed: int = 0, n_samples: int = 2000, steps: int = 100, lr: float = 0.3,
        mean0: float = 3.5, std0: float = 3.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    data = sample_mixture(n_samples, rng=rng)
    # Held-out draws from P give an estimate of KL that never saw the training data.
    held_out = sample_mixture(20_000, rng=rng)
    history = fit_gaussian(data, mean0=mean0, std0=std0, lr=lr, steps=steps)

    grid = np.linspace(-8.0, 8.0, 4001)
    log_p_grid = mixture_log_density(grid)
    log_p_held = mixture_log_density(held_out)
    kl_exact = np.array([kl_quadrature(log_p_grid, gaussian_log_density(grid, m, s), grid)
                         for m, s in zip(history["mean"], history["std"], strict=True)])
    kl_mc = np.array([kl_monte_carlo(log_p_held, gaussian_log_density(held_out, m, s))
                      for m, s in zip(history["mean"], history["std"], strict=True)])
    entropy_p = -float(np.trapezoid(np.exp(log_p_grid) * log_p_grid, grid))
    mle_mean, mle_std = gaussian_mle(data)
    steps_axis = np.arange(steps + 1)

    size = {"width": 380, "height": 330}
    ll_ax = plot.Axes(xlim=(0, steps), ylim=_padded(np.append(history["loglik"], -entropy_p)),
                      title="average log-likelihood", xlabel="gradient step",
                      ylabel="(1/n) sum log q(x_i)", legend_at="bottom-right", **size)
    ll_ax.hline(-entropy_p, color=plot.GREY, label="-H(P), its ceiling")
    ll_ax.line(steps_axis, history["loglik"], color=plot.BLUE, label="log-likelihood")
    kl_ax = plot.Axes(xlim=(0, steps), ylim=(0, 1.08 * max(kl_exact.max(), kl_mc.max())),
                      title="KL(P || Q)", xlabel="gradient step", ylabel="nats", **size)
    kl_ax.line(steps_axis, kl_exact, color=plot.VERMILION, width=3, label="quadrature")
    kl_ax.line(steps_axis, kl_mc, color=plot.BLACK, width=1, label="held-out samples")
    kl_ax.note(f"final KL = {kl_exact[-1]:.3f} nats")
    # Each step is one point; the identity puts them all on the line KL = -H(P) - loglik.
    pair_ax = plot.Axes(xlim=_padded(history["loglik"]), ylim=(0, 1.08 * kl_exact.max()),
                        title="KL against log-likelihood", xlabel="average log-likelihood",
                        ylabel="KL(P || Q), nats", **size)
    ends = np.array([history["loglik"].min(), history["loglik"].max()])
    pair_ax.line(ends, -entropy_p - ends, color=plot.GREY, width=1, label="-H(P) - loglik")
    pair_ax.scatter(history["loglik"], kl_exact, color=plot.VERMILION, radius=2.5, label="one step")
    fit_ax = plot.Axes(xlim=(-5, 6), ylim=(0, 0.62), title="data, P and the fitted Q",
                       xlabel="x", ylabel="density", **size)
    counts, edges = np.histogram(data, bins=60, range=(-5, 6))
    fit_ax.bars(edges, counts / (n_samples * np.diff(edges)), color=(205, 205, 205), label="data")
    fit_ax.line(grid, np.exp(log_p_grid), color=plot.BLACK, label="P (mixture)")
    shown = sorted({0, steps // 5, steps})  # fewer than the 3 colours when steps < 5: the first ones
    for idx, colour in zip(shown, (plot.SKY, plot.GREEN, plot.VERMILION), strict=False):
        q = np.exp(gaussian_log_density(grid, history["mean"][idx], history["std"][idx]))
        fit_ax.line(grid, q, color=colour, label=f"Q at step {idx}")
    image = plot.side_by_side([ll_ax, kl_ax, pair_ax, fit_ax],
                              title="Maximum likelihood = minimum KL(P || Q): one rises as the other falls")

    headline = {
        "fitted_mean": history["mean"][-1], "fitted_std": history["std"][-1],
        "mle_mean": mle_mean, "mle_std": mle_std,
        "loglik_start": history["loglik"][0], "loglik_end": history["loglik"][-1],
        "kl_start": kl_exact[0], "kl_end": kl_exact[-1],
        # Should stay near -H(P): the identity behind the example.
        "loglik_plus_kl_spread": float(np.ptp(history["loglik"] + kl_exact)),
        "minus_entropy_p": -entropy_p,
    }
    figures = {"step": steps_axis, "mean": history["mean"], "std": history["std"],
               "loglik": history["loglik"], "kl_quadrature": kl_exact, "kl_held_out": kl_mc,
               "mixture": [list(c) for c in MIXTURE]}
    return write_outputs(out_dir=out_dir, name="mle-kl", image=image, seed=seed,
                         options={"n_samples": n_samples, "steps": steps, "lr": lr,
                                  "mean0": mean0, "std0": std0},
                         headline=headline, figures=figures)


def _padded(values: np.ndarray, *, pad: float = 0.06) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo or 1.0
    return lo - pad * span, hi + pad * span
