"""2-D toy distributions for a GAN, and how to score what a generator produced.

Two targets: eight Gaussians on a ring (the classic test of mode collapse: eight separate
modes that a generator must all reach) and a spiral (one thin curved manifold). The samplers
take an explicit `torch.Generator`, so a seed fixes every draw; the scores are pure functions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

RING_MODES = 8
RING_RADIUS = 2.0
RING_STD = 0.05
# A mode (or curve piece) is covered when it holds this share of its fair n / n_modes points.
MIN_SHARE = 0.25


def ring_centres(*, n_modes: int = RING_MODES, radius: float = RING_RADIUS) -> np.ndarray:
    """(n_modes, 2) centres spaced evenly on a circle, the first on the positive x axis."""
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def sample_ring(n: int, *, generator: torch.Generator, n_modes: int = RING_MODES,
                radius: float = RING_RADIUS, std: float = RING_STD) -> torch.Tensor:
    """(n, 2) points: a uniformly chosen centre plus isotropic Gaussian noise of `std`."""
    centres = torch.as_tensor(ring_centres(n_modes=n_modes, radius=radius), dtype=torch.float32)
    which = torch.randint(n_modes, (n,), generator=generator)
    return centres[which] + std * torch.randn(n, 2, generator=generator)


def spiral_curve(t: np.ndarray | torch.Tensor, *, turns: float = 1.5, inner: float = 0.3,
                 outer: float = 2.2):
    """Points of the spiral at parameters t in [0, 1] (radius grows linearly with angle)."""
    lib = torch if isinstance(t, torch.Tensor) else np
    r = inner + (outer - inner) * t
    angle = 2 * math.pi * turns * t
    return lib.stack([r * lib.cos(angle), r * lib.sin(angle)], -1)


SPIRAL_NOISE = 0.04


def sample_spiral(n: int, *, generator: torch.Generator, noise: float = SPIRAL_NOISE) -> torch.Tensor:
    """(n, 2) points near the spiral; t = sqrt(u) spreads them roughly evenly along its length
    (the spiral's speed grows with t, so uniform t would crowd the centre)."""
    t = torch.rand(n, generator=generator).sqrt()
    return spiral_curve(t).float() + noise * torch.randn(n, 2, generator=generator)


def spiral_reference(m: int = 1000) -> np.ndarray:
    """(m, 2) points along the spiral at equal steps of probability mass under `sample_spiral`,
    so that equal runs of them are pieces of the curve with equal fair shares of the data."""
    return spiral_curve(np.sqrt((np.arange(m) + 0.5) / m))


def mode_coverage(points: np.ndarray, centres: np.ndarray, *, std: float, within_std: float = 3.0,
                  min_share: float = MIN_SHARE) -> dict:
    """How many modes a set of generated points covers, and how many points are good.

    A point is high quality when it lies within `within_std` standard deviations of its
    nearest centre. A mode counts as covered when it holds at least `min_share` of its fair
    share (n / n_modes) of the high-quality points: a stray point or two near a mode does not
    count, but an uneven split between modes does.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n, k = len(points), len(centres)
    dist = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(n), nearest] <= within_std * std
    counts = np.bincount(nearest[good], minlength=k)
    covered = counts >= min_share * n / k
    return {"modes_covered": int(covered.sum()), "per_mode": counts.tolist(),
            "high_quality_fraction": float(good.mean()) if n else 0.0}


def curve_coverage(points: np.ndarray, curve: np.ndarray, *, tolerance: float, segments: int = 10,
                   min_share: float = MIN_SHARE) -> dict:
    """`mode_coverage` for a curve: its `segments` equal pieces play the part of the modes.

    A point is high quality when it lies within `tolerance` of the densely sampled `curve`
    (N, 2); it counts for the piece its nearest curve point belongs to, and a piece is covered
    when it holds at least `min_share` of its fair share of the points.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = len(points)
    dist = np.linalg.norm(points[:, None, :] - curve[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(n), nearest] <= tolerance
    piece = nearest * segments // len(curve)
    counts = np.bincount(piece[good], minlength=segments)
    covered = counts >= min_share * n / segments
    return {"segments_covered": int(covered.sum()), "per_segment": counts.tolist(),
            "high_quality_fraction": float(good.mean()) if n else 0.0}
