"""`upscale` as a job: super-resolution of images with the shipped x4 model or a trained one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.device import resolve_device
from mosaicgan.infer.results import ItemResult
from mosaicgan.infer.upscale.files import check_inputs, upscale_image
from mosaicgan.infer.upscale.upscaler import DEFAULT_OVERLAP, DEFAULT_TILE, Upscaler
from mosaicgan.jobs.media import run_media_job
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.jobs.results import JobResult
from mosaicgan.ranks import Ranks, rank_device


@dataclass(frozen=True)
class UpscaleOptions:
    """checkpoint: an srgan checkpoint or run folder (None: the shipped x4 model); tile,
    overlap: the network runs on tiles of this size, blended over the overlap. precision: auto
    (bf16 where the device runs it natively, else fp32), fp32, bf16, fp16 (`infer.precision`)."""

    checkpoint: Path | None = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    overwrite: bool = False
    device: str = "auto"
    precision: str = "auto"


def upscale(inputs: Iterable[str | Path], *, out: str | Path, options: UpscaleOptions = UpscaleOptions(),
            progress: OnProgress | None = None, cancel: Cancel | None = None) -> JobResult:
    """Upscale every image of `inputs` into `out` as NAME.png (`info["scale"]` times the size)."""
    return run_media_job(_UpscaleJob(options), inputs, out=out, overwrite=options.overwrite, progress=progress,
                         cancel=cancel)


class _UpscaleJob:
    command = "upscale"
    takes_videos = False

    def __init__(self, options: UpscaleOptions) -> None:
        self.options = options
        self.upscaler: Upscaler | None = None

    def prepare(self, ranks: Ranks) -> None:
        o = self.options
        self.upscaler = Upscaler.from_checkpoint(o.checkpoint, device=rank_device(resolve_device(o.device), ranks),
                                                 tile=o.tile, overlap=o.overlap, precision=o.precision)

    def info(self) -> dict:
        return {"scale": self.upscaler.scale}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        return check_inputs(images, out_dir=out_dir, overwrite=self.options.overwrite, mine=mine)

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        for path in paths:
            yield upscale_image(path, plan[path], upscaler=self.upscaler)
            ticker.update(1)

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        raise AssertionError("upscale takes no videos")  # the driver refuses them first
