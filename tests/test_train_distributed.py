"""Training with several processes (gloo on the CPU, as torchrun starts them): every rank ends
with the same weights, equal within float tolerance to one process with the same global batch,
and a distributed run resumes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from conftest import tiny_pix2pix_config
from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.data.sampler import EpochBatches, EpochSampler
from mosaicgan.train.loop import train


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config, run_dir: str, stop_after: int | None, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from mosaicgan.train import pix2pix

    made = []
    original = pix2pix.Pix2PixTask.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    pix2pix.Pix2PixTask.__init__ = remember
    resume = (Path(run_dir) / "checkpoints" / "resume.pt").exists()
    train(config, run_dir=run_dir, resume=resume, stop_after=stop_after, progress=False)
    torch.save({k: {n: t.contiguous() for n, t in net.state_dict().items()} for k, net in made[-1].nets().items()},
               Path(out) / f"rank{rank}.pt")


def run_ranks(config, run_dir: Path, out: Path, *, world: int = 2, stop_after: int | None = None) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    mp.spawn(_worker, args=(world, free_port(), config, str(run_dir), stop_after, str(out)), nprocs=world, join=True)
    return [torch.load(out / f"rank{r}.pt") for r in range(world)]


def test_rank_batches_together_are_the_single_process_batches():
    for size, batch in ((10, 4), (7, 3), (5, 4)):
        one = list(EpochBatches(size=size, batch_size=batch, seed=3))
        flat = list(EpochSampler(size=size, seed=3, epoch=0))
        assert [i for b in one for i in b] == flat
        two = [EpochBatches(size=size, batch_size=batch, seed=3, rank=r, world=2) for r in range(2)]
        for s in two:
            s.set_epoch(0, start_batch=1)  # as a resumed run: the first batch is done
        for joint, b0, b1 in zip(one[1:], *two, strict=True):
            assert sorted(b0 + b1) == sorted(joint) or (len(joint) == 1 and b0 == b1 == joint)


@pytest.mark.slow
def test_two_processes_match_one_and_resume(toy_data, tmp_path):
    # Batch norm (synchronised across ranks) on; dropout off, since each rank draws its own masks;
    # float32 (the default is bf16 where native), so the tolerance is about the gradient average,
    # not bf16's rounding of two batch halves against one batch.
    config = tiny_pix2pix_config(toy_data, **{"nets.dropout": False, "run.channels_last": False,
                                              "optim.epochs": 1, "optim.epochs_decay": 1, "run.precision": "fp32"})
    single = train(config, run_dir=tmp_path / "one", progress=False)
    assert single.finished and single.step == 4  # 8 images, global batch 4

    # Two processes of 2 images each: stop after one step, then resume to the end.
    first = run_ranks(config, tmp_path / "two", tmp_path / "w1", stop_after=1)[0]
    ranks = run_ranks(config, tmp_path / "two", tmp_path / "w2")
    for key in ranks[0]:
        for name, value in ranks[0][key].items():
            assert torch.equal(value, ranks[1][key][name]), f"{key}.{name} differs between ranks"

    # Equal within float tolerance: the two runs sum the batch in another order, and Adam turns
    # tiny gradient differences into steps of up to lr, so each tensor is compared with how far
    # the last three steps moved it (a run that trained anything else differs by about that much).
    want = load_checkpoint(tmp_path / "one").nets
    got = load_checkpoint(tmp_path / "two").nets
    for key in ("gen", "disc"):
        a, b = want[key].state_dict(), got[key].state_dict()
        for name in a:
            assert torch.equal(b[name], ranks[0][key][name]), "rank 0 wrote its own weights"
            if not a[name].is_floating_point():
                assert torch.equal(a[name], b[name]), f"{key}.{name}"
                continue
            moved = (a[name] - first[key][name]).norm()
            assert moved > 0, f"{key}.{name} never changed"
            assert (a[name] - b[name]).norm() <= 0.05 * moved, f"{key}.{name}"
    log = [line for line in (tmp_path / "two" / "log.jsonl").read_text().splitlines() if line]
    assert len(log) == 4  # one record per step (log_every 1), written once, by rank 0
