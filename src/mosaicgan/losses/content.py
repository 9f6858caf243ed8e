"""SRGAN's content loss: the mean squared distance between the feature maps a fixed network
computes from the prediction and from the truth (Ledig et al., 2017, eq. 5). The network is
frozen; gradients flow through it to the prediction only."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def content_loss(features: nn.Module, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between `features(prediction)` and `features(target)` (images as `features` expects them)."""
    with torch.no_grad():
        wanted = features(target)
    return F.mse_loss(features(prediction).float(), wanted.float())
