"""`remove` as a job: find the mosaics (or take a mask) in every image and video of the inputs
and restore them. What the restorer puts there is synthesized, not recovered: every output
says so in its metadata. The CLI's `mosaicgan remove` and the web page call `remove`.
With `unlock` (a private key), nothing is synthesized: the original pixels sealed into locked
files by `add --lock-to` are put back (`infer/remove/unlock.py`), and no network is loaded."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR
from mosaicgan.device import resolve_device
from mosaicgan.errors import UserError
from mosaicgan.infer.lock.options import UnlockOptions
from mosaicgan.infer.remove.files import (
    RemoveImageOptions,
    check_inputs,
    remove_from_image,
)
from mosaicgan.infer.remove.restorer import Restorer, load_restorer
from mosaicgan.infer.remove.video import (
    RemoveVideoOptions,
    check_remove_video,
    remove_mosaic_video,
)
from mosaicgan.infer.results import NOTHING_FOUND, ItemResult
from mosaicgan.infer.video.encode import EncodeOptions
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
    (None: the input's). tracking, tolerance: videos (see `infer.remove.video_stage`). unlock:
    put back the original pixels of files locked by `add --lock-to` with this private key
    instead (the detector, restorer, grid, mask and quality do not apply). report: write the
    detection report (JSON) there."""

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
    unlock: UnlockOptions | None = None
    report: Path | None = None
    precision: str = "auto"  # of the restorer: auto (bf16 where native, else fp32), fp32, bf16 (`infer.precision`)

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
    job = _RemoveJob(options)
    result = run_media_job(job, inputs, out=out, overwrite=options.overwrite, progress=progress, cancel=cancel)
    if result.primary and options.report is not None:
        job.write_report(result)
    return result


class _RemoveJob:
    command = "remove"
    takes_videos = True

    def __init__(self, options: RemoveOptions) -> None:
        self.options = options
        self.restorer: Restorer | None = None
        self.detect = None
        self.key = None  # the private key of --unlock

    def prepare(self, ranks: Ranks) -> None:
        o = self.options
        if o.report is not None:
            from mosaicgan.infer.report.record import check_report_path

            check_report_path(o.report)
        if o.unlock is not None:
            if o.mask is not None or o.checkpoint is not None or o.grid is not None:
                raise UserError("--unlock puts the original pixels back: it takes no --mask, --checkpoint or --grid")
            self.key = o.unlock.private_key()
            return
        o.image_options().check()
        o.video_options().check()
        device = rank_device(resolve_device(o.device), ranks)
        self.restorer = load_restorer(o.checkpoint, device=device, precision=o.precision)
        if o.mask is None:
            self.detect = mosaic_detector(o.detector or DEFAULT_MOSAIC_DETECTOR, device=device)

    def info(self) -> dict:
        if self.key is not None:
            from mosaicgan.infer.remove.unlock import key_name

            return {"restorer": None, "unlocked_with": key_name(self.key)}
        return {"restorer": self.restorer.name}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        o = self.options
        if o.save_mask and videos:
            raise UserError("--save-mask is for images; videos do not write masks")
        if self.key is not None:
            return self._check_unlock(images, videos, out_dir=out_dir, video_outputs=video_outputs, mine=mine)
        for video in videos:
            check_remove_video(video, video_outputs[video], options=o.video_options(), mask=o.mask, encode=o.encode,
                               start=o.start, duration=o.duration, resume=o.resume)
        return check_inputs(images, out_dir=out_dir, options=o.image_options(), mine=mine) if images else {}

    def _check_unlock(self, images: list[Path], videos: list[Path], *, out_dir: Path,
                      video_outputs: dict[Path, Path], mine: set[Path]) -> dict[Path, list[Path]]:
        from mosaicgan.infer.remove.unlock import check_unlock, check_unlock_video

        o = self.options
        if o.save_mask or o.start or o.duration is not None or o.resume:
            raise UserError("--unlock works on whole files: it takes no --save-mask, --start, --duration or --resume")
        for video in videos:
            check_unlock_video(video, video_outputs[video], private_key=self.key)
        return check_unlock(images, out_dir=out_dir, private_key=self.key, overwrite=o.overwrite,
                            mine=mine) if images else {}

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        if self.key is not None:
            from mosaicgan.infer.remove.unlock import unlock_to_image

            for path in paths:
                yield unlock_to_image(path, plan[path], private_key=self.key)
                ticker.update(1)
            return
        options = self.options.image_options()
        for path in paths:
            yield remove_from_image(path, plan[path], restorer=self.restorer, options=options, detect=self.detect)
            ticker.update(1)

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        o = self.options
        if self.key is not None:
            from mosaicgan.infer.remove.unlock import unlock_to_video

            return unlock_to_video(path, out, private_key=self.key, progress=ticker)
        done = remove_mosaic_video(path, out, restorer=self.restorer, options=o.video_options(), mask=o.mask,
                                   encode=o.encode, start=o.start, duration=o.duration, progress=ticker,
                                   resume=o.resume, detector=o.detector)
        return ItemResult(input=path, kind="video", status="written" if done.written else NOTHING_FOUND,
                          outputs=[out] if done.written else [], frames=done.frames,
                          frames_with_region=done.frames_with_region, looks_like_face=done.faces,
                          dropped_streams=list(done.dropped_streams), notes=list(done.notes))

    def write_report(self, result: JobResult) -> None:
        from mosaicgan.infer.report.record import (
            build_report,
            model_entry,
            report_item,
            write_report,
        )

        o = self.options
        lock, models = None, {}
        if self.key is not None:
            lock = {"key": self.info()["unlocked_with"], "operation": "unlock"}
        elif self.restorer is not None and getattr(self.restorer, "path", None):
            models["restorer"] = model_entry(self.restorer.path)
        write_report(build_report(command="remove", items=[report_item(i, command="remove") for i in result.items],
                                  options=o, models=models, lock=lock), o.report)
