"""`remove` as a job: find the mosaics (or take a mask) in every image and video of the inputs
and restore them. What the restorer puts there is synthesized, not recovered: every output
says so in its metadata. The CLI's `mosaicgan remove` and the web page call `remove`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR
from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.infer.remove.files import RemoveImageOptions, check_inputs, remove_from_image
from mosaicgan.infer.remove.restorer import Restorer, load_restorer
from mosaicgan.infer.remove.video import RemoveVideoOptions, check_remove_video, remove_mosaic_video
from mosaicgan.infer.results import NOTHING_FOUND, ItemResult
from mosaicgan.infer.video.io import EncodeOptions
from mosaicgan.infer.video.steady import TrackingOptions
from mosaicgan.jobs.media import run_media_job
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.jobs.results import JobResult
from mosaicgan.localize.mosaics.detector import mosaic_detector
from mosaicgan.ops.grid import Grid
from mosaicgan.ranks import Ranks, rank_device


@dataclass(frozen=True)
class RemoveOptions:
    """mask: a mask file for every input, or a folder of NAME.png / NAME_mask.png (None: find
    the mosaics). detector: how mosaics are found with no mask, "net" or "grid"
    (`choices.MOSAIC_DETECTORS`; None: the network for images, the classical grid finder for
    videos, which follows a mosaic from frame to frame at less cost). checkpoint: a restorer
    (None: the shipped one). grid: every region's grid (None: read from the pixels). grow,
    feather: pixels around each region the restorer may change. quality: JPEG/WebP quality
    (None: the input's). tracking, tolerance: videos (see `infer.remove.video_stage`)."""

    mask: Path | None = None
    detector: str | None = None
    checkpoint: Path | None = None
    grid: Grid | None = None
    grow: int = 0
    feather: int = 0
    quality: int | None = None
    save_mask: bool = False
    overwrite: bool = False
    tracking: TrackingOptions = TrackingOptions(window=2)
    tolerance: float = 6.0
    encode: EncodeOptions = EncodeOptions()
    start: float = 0.0
    duration: float | None = None
    resume: bool = False
    device: str = "auto"

    def image_options(self) -> RemoveImageOptions:
        return RemoveImageOptions(mask=self.mask, grid=self.grid, grow=self.grow, feather=self.feather,
                                  quality=self.quality, save_mask=self.save_mask, overwrite=self.overwrite)

    def video_options(self) -> RemoveVideoOptions:
        return RemoveVideoOptions(grid=self.grid, grow=self.grow, feather=self.feather, tracking=self.tracking,
                                  tolerance=self.tolerance)


def remove(inputs: Iterable[str | Path], *, out: str | Path, options: RemoveOptions = RemoveOptions(),
           progress: OnProgress | None = None, cancel: Cancel | None = None) -> JobResult:
    """Restore the mosaics of every image and video of `inputs` into `out`. Inputs where none is
    found (or, with a mask, none whose grid can be read) are not written: NOTHING_FOUND."""
    return run_media_job(_RemoveJob(options), inputs, out=out, overwrite=options.overwrite, progress=progress,
                         cancel=cancel)


class _RemoveJob:
    command = "remove"
    takes_videos = True

    def __init__(self, options: RemoveOptions) -> None:
        self.options = options
        self.restorer: Restorer | None = None
        self.detect = None

    def prepare(self, ranks: Ranks) -> None:
        o = self.options
        o.image_options().check()
        o.video_options().check()
        device = rank_device(resolve_device(o.device), ranks)
        self.restorer = load_restorer(o.checkpoint, device=device)
        if o.mask is None:
            self.detect = mosaic_detector(o.detector or DEFAULT_MOSAIC_DETECTOR, device=device)

    def info(self) -> dict:
        return {"restorer": self.restorer.name}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        o = self.options
        if o.save_mask and videos:
            raise UserError("--save-mask is for images; videos do not write masks")
        for video in videos:
            check_remove_video(video, video_outputs[video], options=o.video_options(), mask=o.mask, encode=o.encode,
                               start=o.start, duration=o.duration, resume=o.resume)
        return check_inputs(images, out_dir=out_dir, options=o.image_options(), mine=mine) if images else {}

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        options = self.options.image_options()
        for path in paths:
            yield remove_from_image(path, plan[path], restorer=self.restorer, options=options, detect=self.detect)
            ticker.update(1)

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        o = self.options
        done = remove_mosaic_video(path, out, restorer=self.restorer, options=o.video_options(), mask=o.mask,
                                   encode=o.encode, start=o.start, duration=o.duration, progress=ticker,
                                   resume=o.resume, detector=o.detector)
        return ItemResult(input=path, kind="video", status="written" if done.written else NOTHING_FOUND,
                          outputs=[out] if done.written else [], frames=done.frames,
                          frames_with_region=done.frames_with_region, looks_like_face=done.faces,
                          dropped_streams=list(done.dropped_streams))
