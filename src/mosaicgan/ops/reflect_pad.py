"""Reflection padding of a batch of maps, in the input's own dtype, with a fast backward.

torch's reflection pad has two costs in a bf16 training step on the CPU: autocast runs it in
float32 (so each padded map is cast up, then cast back down by the convolution after it, and
the same for its gradient), and its backward in bf16 scatters element by element (2.8 ms for a
256x66x66 map on a 2-core EPYC, where copying the map takes 0.2 ms). Here the pad runs with
autocast off and the backward folds the padded border back with a few slice additions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _fold(g: torch.Tensor, *, pad: int, dim: int) -> torch.Tensor:
    """Gradient of reflection padding along `dim` (size n + 2*pad -> n): the centre, plus each
    padded row added onto the row it mirrors."""
    n = g.shape[dim] - 2 * pad
    out = g.narrow(dim, pad, n).clone()
    for j in range(pad):
        # Padded row j mirrors input row pad - j; padded row pad + n + j mirrors row n - 2 - j.
        out.narrow(dim, pad - j, 1).add_(g.narrow(dim, j, 1))
        out.narrow(dim, n - 2 - j, 1).add_(g.narrow(dim, pad + n + j, 1))
    return out


class _ReflectPad2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, pad: int) -> torch.Tensor:
        ctx.pad = pad
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.pad(x, (pad, pad, pad, pad), mode="reflect")

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _fold(_fold(g, pad=ctx.pad, dim=3), pad=ctx.pad, dim=2), None


def reflect_pad2d(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad (N, C, H, W) by `pad` on every side, mirroring without repeating the edge
    (as F.pad(mode="reflect"); pad < H and pad < W)."""
    if pad == 0:
        return x
    if pad >= x.shape[-1] or pad >= x.shape[-2]:
        raise ValueError(f"reflection padding {pad} needs maps larger than that, got {tuple(x.shape[-2:])}")
    return _ReflectPad2d.apply(x, pad)
