"""Which of several processes this one is, when `torchrun` started them (RANK, WORLD_SIZE,
LOCAL_RANK in the environment): training splits each batch across them (train/distributed.py),
and the file commands split their inputs (`share`). Outside torchrun: rank 0 of 1.

Imports only torch, so inference and training both use it without importing each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch

from mosaicgan.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """The process that writes a training run's checkpoints, logs and samples."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def ranks_from_env() -> Ranks:
    """This process's place among torchrun's processes (rank 0 of 1 outside torchrun)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"RANK {rank} is not in [0, WORLD_SIZE={world})")
    return Ranks(rank=rank, world=world, local_rank=local)


def share(items: list[T], ranks: Ranks) -> list[T]:
    """This process's share of a list of inputs: every world-th item from its rank on, so the
    processes together take each item exactly once."""
    return items[ranks.rank::ranks.world]


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """With several processes on CUDA, each drives its own GPU (cuda:LOCAL_RANK)."""
    if device.type != "cuda" or not ranks.active:
        return device
    if ranks.local_rank >= torch.cuda.device_count():
        raise UserError(f"LOCAL_RANK {ranks.local_rank}, but only {torch.cuda.device_count()} CUDA devices; "
                        "start at most one process per GPU (torchrun --nproc-per-node)")
    return torch.device("cuda", ranks.local_rank)
