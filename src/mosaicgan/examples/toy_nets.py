"""The small networks and GAN losses shared by the toy examples (points, not images).

Pure pieces only: an MLP builder and the losses on discriminator logits. Training loops live
with each example, since each one is the point of its example.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


def mlp(*, in_dim: int, hidden: int, out_dim: int, depth: int) -> nn.Sequential:
    """`depth` hidden layers of `hidden` units with LeakyReLU (0.2): (N, in_dim) -> (N, out_dim)."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with real = 1 and fake = 0, on logits (softplus is stable there)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, *, loss: str = "non-saturating") -> torch.Tensor:
    if loss == "non-saturating":
        # -log D(G(z)): strong gradients exactly when D confidently rejects the fakes.
        return F.softplus(-fake_logits).mean()
    if loss == "saturating":
        # log(1 - D(G(z))): the game as written, whose gradient vanishes as D grows sure.
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"unknown generator loss {loss!r}")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block, then restore the previous count.

    Layers this small spend longer handing work between threads than computing it: one thread
    is several times faster, more so on a machine shared with other jobs.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
