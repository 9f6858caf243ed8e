"""`make-pairs` as a job: clean photos -> a paired mosaic-restoration data set (see
`infer.make_pairs`). One data set is one process's work: its split and record file are drawn
over all photos at once, so it is not shared out under torchrun."""

from __future__ import annotations

from pathlib import Path

from mosaicgan.atomic import check_writable_dir
from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.make_pairs import PairsOptions, PairsSummary, check_inputs
from mosaicgan.infer.make_pairs import make_pairs as write_pairs
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.ranks import ranks_from_env


def make_pairs(images: str | Path, *, out: str | Path, options: PairsOptions = PairsOptions(),
               region: RegionRequest = RegionRequest(kind="random"), device: str = "auto",
               progress: OnProgress | None = None, cancel: Cancel | None = None) -> PairsSummary:
    """Write pairs made from the photos in `images` into the new (or empty) folder `out`."""
    if ranks_from_env().active:
        raise UserError("make-pairs writes one data set; run it as one process, not under torchrun")
    check_writable_dir(out)
    finder = RegionFinder(region, device=resolve_device(device))
    paths = check_inputs(images, out, finder=finder, options=options)
    ticker = Ticker(input=None, unit="image", total=len(paths), progress=progress, cancel=cancel)
    ticker.refresh()
    return write_pairs(images, out, finder=finder, options=options, progress=ticker, paths=paths)
