"""A sampler whose order and per-sample seeds depend only on (seed, epoch, position).

That makes data order and augmentation independent of DataLoader workers and of whether the
run was interrupted: a resumed run skips the positions already done in its epoch and then
sees exactly the samples, crops and flips an uninterrupted run would have seen.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    # Distinct, reproducible streams per (seed, epoch, purpose), with no shared global state.
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 7 + stream)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any values (a seed, a file name, a counter), the same on every run
    and platform, unlike hash(): for per-item generators that do not depend on item order."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields (dataset index, sample seed) for one epoch, from position `start` on."""

    def __init__(self, *, size: int, seed: int, epoch: int, start: int = 0, shuffle: bool = True) -> None:
        self.size, self.seed, self.epoch, self.start, self.shuffle = size, seed, epoch, start, shuffle

    def __iter__(self) -> Iterator[tuple[int, int]]:
        gen = epoch_generator(self.seed, self.epoch)
        order = torch.randperm(self.size, generator=gen) if self.shuffle else torch.arange(self.size)
        seeds = torch.randint(0, 2**62, (self.size,), generator=gen)
        for pos in range(self.start, self.size):
            yield int(order[pos]), int(seeds[pos])

    def __len__(self) -> int:
        return max(0, self.size - self.start)


class EpochBatches(Sampler[list[tuple[int, int]]]):
    """One epoch's batches of (dataset index, sample seed) for one process of `world`, from batch
    `start_batch` on: a DataLoader `batch_sampler` that one loader keeps across epochs (`set_epoch`),
    so its worker processes persist.

    `batch_size` is the global batch. Each global batch is the one `EpochSampler` gives a single
    process, and process `rank` takes its items rank::world, so the processes together see
    exactly the single-process batch, with the same per-sample seeds (same crops and flips),
    and a resumed run (any world size) continues where it stopped. A last short batch with
    fewer items than processes gives the processes left over a repeat of one item, since every
    process must take part in each step.
    """

    def __init__(self, *, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1,
                 shuffle: bool = True) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in [0, {world})")
        self.size, self.batch_size, self.seed, self.shuffle = size, batch_size, seed, shuffle
        self.rank, self.world = rank, world
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, *, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        items = list(EpochSampler(size=self.size, seed=self.seed, epoch=self.epoch,
                                  start=self.start_batch * self.batch_size, shuffle=self.shuffle))
        for first in range(0, len(items), self.batch_size):
            batch = items[first:first + self.batch_size]
            yield batch[self.rank::self.world] or [batch[self.rank % len(batch)]]

    def __len__(self) -> int:
        return max(0, math.ceil(self.size / self.batch_size) - self.start_batch)
