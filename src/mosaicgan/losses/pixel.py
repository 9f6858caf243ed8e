"""Pixel-space reconstruction losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error: pix2pix's lambda_L1 term and CycleGAN's cycle/identity terms.
    L1 rather than L2 because it blurs less (the median, not the mean, of plausible outputs)."""
    return F.l1_loss(prediction, target)


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(prediction, target)
