"""Batch norm over the whole global batch when several processes train: each process holds a
slice of the batch, and statistics of a slice are not those of the batch (with a batch of 1 per
process, pix2pix's U-Net would normalise each image by itself).

On CUDA this is torch's SyncBatchNorm. Torch's refuses CPU tensors, so on the CPU (gloo) a
small module here does the same with two differentiable all-reduces.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _SumOverRanks(torch.autograd.Function):
    """all_reduce(SUM) with its gradient: each rank's loss depends on the sum, so each rank's
    input gets the sum of all ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CrossRankBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the batch summed over all processes
    (mean first, then the centred second moment: no E[x^2] - E[x]^2 cancellation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        xf = x.float()
        dims = (0, 2, 3)
        count = torch.tensor([xf.numel() / xf.shape[1]], dtype=xf.dtype, device=xf.device)
        sums = _SumOverRanks.apply(torch.cat([xf.sum(dims), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = xf - mean.view(1, -1, 1, 1)
        var = _SumOverRanks.apply((centred * centred).sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                # Running variance unbiased, as F.batch_norm keeps it.
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=m)
        y = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def sync_batch_norm(net: nn.Module, *, device: torch.device) -> nn.Module:
    """`net` with every BatchNorm2d computing its statistics over all processes, keeping its
    parameters and buffers (state-dict keys unchanged, so checkpoints load anywhere)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    for name, child in list(net.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = CrossRankBatchNorm2d(child.num_features, eps=child.eps, momentum=child.momentum,
                                       affine=child.affine, track_running_stats=child.track_running_stats)
            # The same Parameter and buffer objects, as torch's convert_sync_batchnorm: optimizers
            # already made over the network keep updating them.
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(net, name, new)
        else:
            sync_batch_norm(child, device=device)
    return net
