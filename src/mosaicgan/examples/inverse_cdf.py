"""Sampling from a custom 1-D density by inverse-CDF interpolation.

The density on [-3, 3] is exp(-x^2) left of zero and 0.5*cos(pi*x) + 0.5 right of it
(normalised). Tabulate it on a grid, accumulate it into a CDF, draw uniforms u, and map each
through the inverse CDF with `numpy.interp(u, cdf, x)`: the samples then follow the density.
A Kolmogorov-Smirnov test against the exact (analytic) CDF checks that they do.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from mosaicgan.examples import plot
from mosaicgan.examples.registry import register_example
from mosaicgan.examples.results import write_outputs

LOW, HIGH = -3.0, 3.0


def unnormalised_density(x: np.ndarray) -> np.ndarray:
    """exp(-x^2) for x < 0 and 0.5*cos(pi*x) + 0.5 for x >= 0 (both are 1 at x = 0)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 0, np.exp(-x * x), 0.5 * np.cos(np.pi * x) + 0.5)


def density_grid(*, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Grid x on [-3, 3] and the density there, normalised to integrate to one."""
    # n + 1 points from an integer count, so 3.0 is on the grid despite float steps.
    n = int(round((HIGH - LOW) / step))
    x = np.linspace(LOW, HIGH, n + 1)
    p = unnormalised_density(x)
    return x, p / np.trapezoid(p, x)


def cdf_from_density(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Cumulative sum of the trapezoid areas between grid points, from 0 to exactly 1.

    Starting at 0 (not at p[0] * step) makes the CDF a true piecewise-linear distribution
    function, whose inverse `numpy.interp` computes exactly.
    """
    areas = 0.5 * (p[1:] + p[:-1]) * np.diff(x)
    cdf = np.concatenate([[0.0], np.cumsum(areas)])
    return cdf / cdf[-1]


def inverse_cdf_sample(u: np.ndarray, x: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Map uniforms u in [0, 1] through the inverse of the tabulated CDF."""
    return np.interp(u, cdf, x)


def sample(n: int, *, rng: np.random.Generator, step: float = 0.01) -> np.ndarray:
    """n samples of the density: the only function here that draws random numbers."""
    x, p = density_grid(step=step)
    return inverse_cdf_sample(rng.random(n), x, cdf_from_density(x, p))


def exact_cdf(x: np.ndarray) -> np.ndarray:
    """The density's CDF in closed form (erf on the left, x/2 + sin(pi x)/(2 pi) on the right).

    Independent of the grid, so the KS test also checks the tabulation, not only the sampler.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), LOW, HIGH)
    erf = np.vectorize(math.erf)
    half_sqrt_pi = 0.5 * math.sqrt(math.pi)
    left_mass = half_sqrt_pi * (math.erf(0.0) - math.erf(LOW))
    total = left_mass + 0.5 * HIGH + math.sin(math.pi * HIGH) / (2 * math.pi)
    left = half_sqrt_pi * (erf(np.minimum(x, 0.0)) - math.erf(LOW))
    xr = np.maximum(x, 0.0)
    right = 0.5 * xr + np.sin(np.pi * xr) / (2 * math.pi)
    return (left + right) / total


def ks_statistic(samples: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov D: the largest gap between the empirical CDF and `cdf(x)`."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(s)
    if n == 0:
        raise ValueError("KS statistic of no samples")
    f = cdf(s)
    i = np.arange(1, n + 1)
    # The empirical CDF jumps at each sample: compare F with the levels just after and before.
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def ks_pvalue(d: float, n: int) -> float:
    """Asymptotic p-value of D for n samples: the Kolmogorov tail Q(lambda).

    Q(l) = 2 * sum_k (-1)^(k-1) exp(-2 k^2 l^2), with Stephens' small-sample correction
    lambda = (sqrt(n) + 0.12 + 0.11 / sqrt(n)) * D, accurate to a few per cent for n >= 5.
    """
    root = math.sqrt(n)
    lam = (root + 0.12 + 0.11 / root) * d
    if lam < 0.2:  # Q(0.2) = 1 - 5e-13, and the alternating series converges slowly below it
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2.0 * (-1) ** (k - 1) * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return float(min(1.0, max(0.0, total)))


@register_example("inverse-cdf", "sample a custom 1-D density by inverse-CDF interpolation; KS test")
def run(*, out_dir: Path, seed: int = 0, n_samples: int = 10_000, bins: int = 100,
        step: float = 0.01) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x, p = density_grid(step=step)
    cdf = cdf_from_density(x, p)
    samples = sample(n_samples, rng=rng, step=step)
    d = ks_statistic(samples, exact_cdf)
    p_value = ks_pvalue(d, n_samples)
    counts, edges = np.histogram(samples, bins=bins, range=(LOW, HIGH))
    # Counts per unit length over the sample size: the histogram's estimate of the density.
    hist_density = counts / (n_samples * np.diff(edges))

    ymax = 1.15 * max(p.max(), hist_density.max())
    density_ax = plot.Axes(xlim=(LOW, HIGH), ylim=(0, ymax), title="density p(x)",
                           xlabel="x", ylabel="p(x)")
    density_ax.line(x, p, color=plot.BLUE)
    cdf_ax = plot.Axes(xlim=(LOW, HIGH), ylim=(0, 1.05), title="CDF: u -> x = interp(u, CDF, x)",
                       xlabel="x", ylabel="u = F(x)")
    for u in (0.1, 0.5, 0.9):
        # Guides from a uniform u across to the CDF and down to its sample x.
        xu = float(inverse_cdf_sample(np.array([u]), x, cdf)[0])
        cdf_ax.line([LOW, xu, xu], [u, u, 0.0], color=plot.GREY, width=1)
    cdf_ax.line(x, cdf, color=plot.BLUE)
    hist_ax = plot.Axes(xlim=(LOW, HIGH), ylim=(0, ymax), title=f"{n_samples:,} samples, {bins} bins",
                        xlabel="x", ylabel="density")
    hist_ax.bars(edges, hist_density, color=plot.SKY, label="histogram")
    hist_ax.line(x, p, color=plot.VERMILION, label="p(x)")
    hist_ax.note(f"KS D = {d:.4f}, p = {p_value:.2f}", corner="top-left")
    image = plot.side_by_side([density_ax, cdf_ax, hist_ax],
                              title="Inverse-CDF sampling of a custom density")

    headline = {"n_samples": n_samples, "ks_statistic": d, "ks_p_value": p_value,
                "sample_mean": float(samples.mean()), "density_mean": float(np.trapezoid(x * p, x))}
    figures = {"x": x, "density": p, "cdf": cdf, "hist_edges": edges, "hist_counts": counts}
    return write_outputs(out_dir=out_dir, name="inverse-cdf", image=image, seed=seed,
                         options={"n_samples": n_samples, "bins": bins, "step": step},
                         headline=headline, figures=figures)
