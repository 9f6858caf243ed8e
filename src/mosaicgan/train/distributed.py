"""Several processes under `torchrun` (one per GPU, or several CPU processes with gloo).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; without them (or with WORLD_SIZE=1) a run is one
process and nothing here does anything. Rank 0 writes the run folder; every rank computes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from mosaicgan.ranks import Ranks, rank_device


def start(ranks: Ranks, *, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on CPU) and return this rank's device:
    cuda:LOCAL_RANK when the run asked for CUDA, so each process drives its own GPU."""
    if not ranks.active:
        return device
    device = rank_device(device, ranks)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ranks.rank, world_size=ranks.world)
    return device


def stop(ranks: Ranks) -> None:
    if ranks.active and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(flag: bool, *, ranks: Ranks, device: torch.device) -> bool:
    """True on every rank when it is true on one: all ranks must stop at the same step, or the
    others would wait forever in the next gradient average."""
    if not ranks.active:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def gather(value: Any, *, ranks: Ranks) -> list[Any]:
    """Every rank's `value` (a picklable object), in rank order, on every rank."""
    if not ranks.active:
        return [value]
    out: list[Any] = [None] * ranks.world
    dist.all_gather_object(out, value)
    return out


def barrier(ranks: Ranks) -> None:
    if ranks.active:
        dist.barrier()


def wait_long(ranks: Ranks, *, hours: float = 24.0) -> None:
    """A barrier for waits that can outlast the process group's timeout (NCCL's default is 10
    minutes), such as rank 0 decoding a large data set into the cache: over a gloo group of its
    own with a long timeout. (If rank 0 fails instead, torchrun stops the others.)"""
    if ranks.active:
        group = dist.new_group(backend="gloo", timeout=timedelta(hours=hours))
        dist.barrier(group=group)
        dist.destroy_process_group(group)
