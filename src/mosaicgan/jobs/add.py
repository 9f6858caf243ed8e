"""`add` as a job: mosaic the region of a request (a mask, boxes, faces, a CAM class) in every
image and video of the inputs. The CLI's `mosaicgan add` and the web page call `add`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions
from mosaicgan.infer.add.files import add_to_image, check_inputs
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.add.video import AddVideoOptions, add_mosaic_video, check_video, provenance_tags
from mosaicgan.infer.results import NOTHING_FOUND, ItemResult
from mosaicgan.infer.video.io import EncodeOptions
from mosaicgan.jobs.media import run_media_job
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.jobs.results import JobResult
from mosaicgan.ranks import Ranks, rank_device


@dataclass(frozen=True)
class AddOptions:
    """region: where (`RegionRequest`: kind "mask", "boxes", "faces" or "cam"); mosaic: how
    (style, block, grow, feather); video: how regions are followed in videos; encode: the
    video encoder; start, duration: part of each video (seconds); resume: videos in segments
    that a rerun continues; save_mask: also write NAME_mask.png for images; overwrite: replace
    files already in the output folder; device: "auto", "cpu", "cuda[:N]"."""

    region: RegionRequest
    mosaic: MosaicOptions = MosaicOptions()
    video: AddVideoOptions = AddVideoOptions()
    encode: EncodeOptions = EncodeOptions()
    start: float = 0.0
    duration: float | None = None
    resume: bool = False
    save_mask: bool = False
    overwrite: bool = False
    device: str = "auto"


def add(inputs: Iterable[str | Path], *, out: str | Path, options: AddOptions, progress: OnProgress | None = None,
        cancel: Cancel | None = None) -> JobResult:
    """Mosaic `options.region` in every image and video of `inputs` (files, folders, globs) into
    `out` (a folder; or a video file name for one video). Images and videos where a detector
    (faces, CAM) finds nothing are not written: their items say NOTHING_FOUND."""
    return run_media_job(_AddJob(options), inputs, out=out, overwrite=options.overwrite, progress=progress,
                         cancel=cancel)


class _AddJob:
    command = "add"
    takes_videos = True

    def __init__(self, options: AddOptions) -> None:
        self.options = options
        self.finder: RegionFinder | None = None

    def prepare(self, ranks: Ranks) -> None:
        self.options.mosaic.check()
        self.options.video.check()
        self.finder = RegionFinder(self.options.region, device=rank_device(resolve_device(self.options.device), ranks))

    def info(self) -> dict:
        return {"region": self.options.region.kind, "class_label": self.finder.class_label}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        o = self.options
        plan = check_inputs(images, finder=self.finder, out_dir=out_dir, options=o.mosaic, save_mask=o.save_mask,
                            overwrite=o.overwrite, mine=mine)
        if o.save_mask and videos:
            raise UserError("--save-mask is for images; videos do not write masks")
        for video in videos:
            check_video(video, video_outputs[video], finder=self.finder, options=o.mosaic, encode=o.encode,
                        video=o.video, start=o.start, duration=o.duration, resume=o.resume)
        return plan

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        for path in paths:
            yield add_to_image(path, plan[path], finder=self.finder, options=self.options.mosaic,
                               save_mask=self.options.save_mask)
            ticker.update(1)

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        o = self.options
        tags = provenance_tags(request=o.region, options=o.mosaic, video=o.video)
        done = add_mosaic_video(path, out, finder=self.finder, options=o.mosaic, encode=o.encode, video=o.video,
                                start=o.start, duration=o.duration, metadata=tags, progress=ticker, resume=o.resume)
        return ItemResult(input=path, kind="video", status="written" if done.written else NOTHING_FOUND,
                          outputs=[out] if done.written else [], frames=done.frames,
                          frames_with_region=done.frames_with_region, dropped_streams=list(done.dropped_streams))
