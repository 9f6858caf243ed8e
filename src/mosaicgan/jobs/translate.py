"""`translate` as a job: run a trained generator (pix2pix, CycleGAN) over images."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.infer.results import ItemResult
from mosaicgan.infer.translate.files import check_inputs, translate_batches
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.jobs.media import run_media_job
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.jobs.results import JobResult
from mosaicgan.ranks import Ranks, rank_device


@dataclass(frozen=True)
class TranslateOptions:
    """checkpoint: a checkpoint file or run folder; direction: CycleGAN's generator ("AtoB",
    "BtoA"); batch_size: images per forward (of one size); samples: outputs per input (a
    generator that keeps dropout at test time); precision, tile, overlap: how the generator
    runs (`Translator`: "auto" (bf16 where the device runs it natively, else fp32), "fp32", "bf16",
    "fp16"; tile None: whole images while they fit)."""

    checkpoint: Path
    direction: str = "AtoB"
    batch_size: int = 4
    samples: int = 1
    precision: str = "auto"
    tile: int | None = None
    overlap: int | None = None
    overwrite: bool = False
    device: str = "auto"


def translate(inputs: Iterable[str | Path], *, out: str | Path, options: TranslateOptions,
              progress: OnProgress | None = None, cancel: Cancel | None = None) -> JobResult:
    """Translate every image of `inputs` into `out` as NAME.png (NAME_sK.png for K samples)."""
    return run_media_job(_TranslateJob(options), inputs, out=out, overwrite=options.overwrite, progress=progress,
                         cancel=cancel)


class _TranslateJob:
    command = "translate"
    takes_videos = False

    def __init__(self, options: TranslateOptions) -> None:
        self.options = options
        self.translator: Translator | None = None

    def prepare(self, ranks: Ranks) -> None:
        o = self.options
        if o.batch_size < 1 or o.samples < 1:
            raise UserError("--batch-size and --samples must be at least 1")
        self.translator = Translator.from_checkpoint(o.checkpoint, direction=o.direction,
                                                     device=rank_device(resolve_device(o.device), ranks),
                                                     precision=o.precision, tile=o.tile, overlap=o.overlap)

    def info(self) -> dict:
        return {"checkpoint": str(self.options.checkpoint)}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        return check_inputs(images, translator=self.translator, out_dir=out_dir, samples=self.options.samples,
                            overwrite=self.options.overwrite, mine=mine)

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        for batch in translate_batches(paths, plan, translator=self.translator, batch_size=self.options.batch_size,
                                       samples=self.options.samples):
            yield from batch
            ticker.update(len(batch))

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        raise AssertionError("translate takes no videos")  # the driver refuses them first
