"""Which of several processes this one is, when `torchrun` started them (RANK, WORLD_SIZE,
LOCAL_RANK in the environment): training splits each batch across them (train/distributed.py),
and the file commands split their inputs (`share`) and agree on how the job ended
(`Agreement`). Outside torchrun: rank 0 of 1.

Imports only torch, so inference and training both use it without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch

from mosaicgan.errors import NothingFound, ReportedElsewhere, UserError

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


# A job's processes wait for each other only at its end, after their own share of the work,
# which may take hours on one process and seconds on another.
AGREEMENT_TIMEOUT = timedelta(days=7)


class Agreement:
    """The processes of one file job under torchrun end it together: each runs its share, then
    all exchange their results and errors, so every process exits with one status and only
    rank 0 reports. Without that, a process that finds nothing to do (exit 3) or a bad input
    (exit 2) would end first, and torchrun would stop the others in the middle of a write.

    Needs the rendezvous address torchrun sets (MASTER_ADDR); without one (processes started
    by hand with RANK and WORLD_SIZE) each process reports for itself, as one process would.
    """

    def __init__(self, ranks: Ranks) -> None:
        self.ranks = ranks
        self.joined = False

    @property
    def talking(self) -> bool:
        import torch.distributed as dist

        return self.ranks.active and dist.is_available() and dist.is_initialized()

    def __enter__(self) -> Agreement:
        import torch.distributed as dist

        if self.ranks.active and os.environ.get("MASTER_ADDR") and dist.is_available() and not dist.is_initialized():
            dist.init_process_group("gloo", rank=self.ranks.rank, world_size=self.ranks.world,
                                    timeout=AGREEMENT_TIMEOUT)
            self.joined = True
        return self

    def __exit__(self, *exc) -> None:
        import torch.distributed as dist

        if self.joined and dist.is_initialized():
            # Every process is past its last transfer before any tears its side down: without
            # it torch 2.3's gloo hung in ~ProcessGroupGloo (joining a thread) in 3 runs of 7
            # of a 2-process `add`; with it, 0 of 18.
            dist.barrier()
            dist.destroy_process_group()

    def run(self, work: Callable[[], T], *, merge: Callable[[list[T], bool], T] | None = None) -> T:
        """`work()` on this process; with the others: `merge(results of every rank in rank
        order, this process is rank 0)`. A UserError on any process is raised on rank 0 (the
        first, by rank) and as `ReportedElsewhere` with its exit status on the others."""
        if not self.talking:
            return work()
        import torch.distributed as dist

        try:
            mine, error = work(), None
        except UserError as err:
            mine, error = None, (isinstance(err, NothingFound), str(err))
        outcomes: list = [None] * self.ranks.world
        dist.all_gather_object(outcomes, (mine, error))
        errors = [e for _, e in outcomes if e is not None]
        if errors:
            nothing_found, message = errors[0]
            if not self.ranks.main:
                raise ReportedElsewhere(3 if nothing_found else 2)
            raise (NothingFound if nothing_found else UserError)(message)
        results = [r for r, _ in outcomes]
        return results[self.ranks.rank] if merge is None else merge(results, self.ranks.main)
