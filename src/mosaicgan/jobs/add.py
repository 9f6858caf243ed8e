"""`add` as a job: mosaic the region of a request (a mask, boxes, faces, a CAM class) in every
image and video of the inputs. The CLI's `mosaicgan add` and the web page call `add`.
With `lock`, the original pixels of every region are sealed into the outputs (docs/privacy.md);
with `report` / `report_sheet`, what was found is written as JSON / a contact sheet at the end."""

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
from mosaicgan.infer.add.video_watch import TrackLog, VideoWatch
from mosaicgan.infer.lock.options import LockOptions
from mosaicgan.infer.results import NOTHING_FOUND, ItemResult
from mosaicgan.infer.video.encode import EncodeOptions
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
    files already in the output folder; device: "auto", "cpu", "cuda[:N]". lock: seal the
    original pixels of every region to a public key (`infer.lock.options.LockOptions`). report:
    write the detection report (JSON) there; report_sheet: a contact sheet (.png or .html) of
    every face and track, from the inputs, refused beside `lock` unless sheet_with_lock."""

    region: RegionRequest
    mosaic: MosaicOptions = MosaicOptions()
    video: AddVideoOptions = AddVideoOptions()
    # x264's faster preset: 1.5x less encoder CPU than medium for -0.13 dB at crf 18 (docs/video.md).
    encode: EncodeOptions = EncodeOptions(preset="faster")
    start: float = 0.0
    duration: float | None = None
    resume: bool = False
    save_mask: bool = False
    overwrite: bool = False
    device: str = "auto"
    lock: LockOptions | None = None
    report: Path | None = None
    report_sheet: Path | None = None
    sheet_with_lock: bool = False


def add(inputs: Iterable[str | Path], *, out: str | Path, options: AddOptions, progress: OnProgress | None = None,
        cancel: Cancel | None = None) -> JobResult:
    """Mosaic `options.region` in every image and video of `inputs` (files, folders, globs) into
    `out` (a folder; or a video file name for one video). Images and videos where a detector
    (faces, CAM) finds nothing are not written: their items say NOTHING_FOUND."""
    job = _AddJob(options)
    result = run_media_job(job, inputs, out=out, overwrite=options.overwrite, progress=progress, cancel=cancel)
    if result.primary:
        job.write_reports(result)
    return result


class _AddJob:
    command = "add"
    takes_videos = True

    def __init__(self, options: AddOptions) -> None:
        self.options = options
        self.finder: RegionFinder | None = None
        self.recipient = None  # the public key of --lock-to, loaded once
        self.thumbs: dict[Path, dict] = {}  # video -> track id -> thumbnail, for the contact sheet

    def prepare(self, ranks: Ranks) -> None:
        o = self.options
        o.mosaic.check()
        o.video.check()
        if o.report is not None:
            from mosaicgan.infer.report.record import check_report_path

            check_report_path(o.report)
        if o.report_sheet is not None:
            from mosaicgan.infer.report.sheet import check_sheet_path

            check_sheet_path(o.report_sheet)
            if o.lock is not None and not o.sheet_with_lock:
                raise UserError("--report-sheet shows, from the inputs, the faces that --lock-to seals; add "
                                "--sheet-with-lock to write it anyway, and keep it with the originals")
        if o.lock is not None:
            self.recipient = o.lock.recipient()
        self.finder = RegionFinder(o.region, device=rank_device(resolve_device(o.device), ranks))

    def info(self) -> dict:
        return {"region": self.options.region.kind, "class_label": self.finder.class_label}

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        o = self.options
        plan = check_inputs(images, finder=self.finder, out_dir=out_dir, options=o.mosaic, save_mask=o.save_mask,
                            overwrite=o.overwrite, mine=mine, lock=o.lock)
        if o.save_mask and videos:
            raise UserError("--save-mask is for images; videos do not write masks")
        for video in videos:
            check_video(video, video_outputs[video], finder=self.finder, options=o.mosaic, encode=o.encode,
                        video=o.video, start=o.start, duration=o.duration, resume=o.resume, lock=o.lock)
            if o.lock is not None:
                self._check_video_sidecar(video_outputs[video], out_dir=out_dir)
        return plan

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        for path in paths:
            yield add_to_image(path, plan[path], finder=self.finder, options=self.options.mosaic,
                               save_mask=self.options.save_mask, lock=self.options.lock, recipient=self.recipient)
            ticker.update(1)

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        o = self.options
        tags = provenance_tags(request=o.region, options=o.mosaic, video=o.video)
        watch = VideoWatch(keep_tracks=frozenset(o.region.keep_tracks), every=o.video.tracking.detect_every,
                           log=TrackLog() if o.report is not None or o.report_sheet is not None else None,
                           thumbs={} if o.report_sheet is not None else None)
        done = add_mosaic_video(path, out, finder=self.finder, options=o.mosaic, encode=o.encode, video=o.video,
                                start=o.start, duration=o.duration, metadata=tags, progress=ticker, resume=o.resume,
                                lock=o.lock, recipient=self.recipient, watch=watch)
        item = ItemResult(input=path, kind="video", status="written" if done.written else NOTHING_FOUND,
                          outputs=[out] if done.written else [], frames=done.frames,
                          frames_with_region=done.frames_with_region, dropped_streams=list(done.dropped_streams),
                          locked=done.locked, notes=list(done.notes))
        if watch.log is not None:
            from mosaicgan.infer.video.decode import VideoInput

            with VideoInput(path, start=o.start, duration=o.duration) as src:
                item.size, item.fps = (src.info.width, src.info.height), float(src.info.rate)
            item.tracks = watch.log.to_dict()
        if watch.thumbs:
            self.thumbs[path] = watch.thumbs
        return item

    def _check_video_sidecar(self, out: Path, *, out_dir: Path) -> None:
        """A video's sidecar is an output too: never an input, never replaced unasked."""
        from mosaicgan.infer.lock.options import needs_sidecar, sidecar_path

        side = sidecar_path(out)
        if needs_sidecar(out, self.options.lock, video=True) and side.exists() and not self.options.overwrite:
            raise UserError("already exists; give --overwrite to replace it, or choose another --out", path=side)

    def write_reports(self, result: JobResult) -> None:
        """The detection report and the contact sheet, once every input is done."""
        o = self.options
        if o.report is not None:
            from mosaicgan.infer.report.record import build_report, report_item, shipped_models, write_report

            lock = None
            if o.lock is not None:
                from mosaicgan.lock.keys import fingerprint, public_raw, show_fingerprint

                lock = {"key": show_fingerprint(fingerprint(public_raw(self.recipient))), "operation": "lock",
                        "sidecar": o.lock.sidecar}
            report = build_report(command="add", items=[report_item(i, command="add") for i in result.items],
                                  options=o, models=shipped_models(o.region.kind), lock=lock)
            write_report(report, o.report)
        if o.report_sheet is not None:
            from mosaicgan.infer.report.sheet import sheet_cells, write_sheet

            write_sheet(o.report_sheet, sheet_cells(result.items, self.thumbs))
