"""`add` over video files: output names, checks before anything is written, provenance
tags; the write itself is `video_job.write_video` with the frame stage of `video_mosaic`.

The image path stays the single source of truth: frames go through the same
`RegionFinder.find` and `mosaic_core.mosaic_image` as image files (see `video_mosaic`).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions, for_faces
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.add.video_stage import AddVideoOptions, mosaic_frame, mosaic_stage
from mosaicgan.infer.add.video_watch import VideoWatch
from mosaicgan.infer.lock.options import LockOptions
from mosaicgan.infer.video.decode import VideoInput
from mosaicgan.infer.video.encode import EncodeOptions, check_frame_size, output_format
from mosaicgan.infer.video.job import check_span, write_video
from mosaicgan.infer.video.pipeline import VideoResult

__all__ = ["AddVideoOptions", "VideoResult", "add_mosaic_video", "check_video", "mosaic_frame", "provenance_tags"]


def provenance_tags(*, request: RegionRequest, options: MosaicOptions, video: AddVideoOptions) -> dict[str, str]:
    """Container metadata saying what made the file: a readable `comment` (every container
    keeps it) and the settings as JSON under `mosaicgan` (MP4/MOV with metadata tags, MKV)."""
    import json

    from mosaicgan import __version__

    where = {"mask": "a mask file", "boxes": "boxes", "faces": "faces", "cam": f"CAM class {request.cam_class}"}
    settings = {"command": "add", "version": __version__, "region": request.kind, "style": options.style,
                "block": options.block or "auto", "grow": options.grow, "feather": options.feather}
    if request.kind == "boxes":
        settings["boxes"] = [list(b) for b in request.boxes]
    if request.kind in ("faces", "cam"):
        steady = video.tracking.describe()
        if steady:
            steady["follow"] = video.follow_every if video.follow and request.kind == "faces" else 0
        settings["steady"] = steady
    what = where.get(request.kind, request.kind)
    return {"comment": f"mosaicgan {__version__} add: {options.style} mosaic over {what}",
            "encoder": f"mosaicgan {__version__}", "mosaicgan": json.dumps(settings, sort_keys=True)}


def check_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
                video: AddVideoOptions, start: float = 0.0, duration: float | None = None, resume: bool = False,
                lock: LockOptions | None = None) -> None:
    """What can be known wrong before anything is written: the file decodes, the explicit
    region fits its frames, the output container takes the codec, the options."""
    options.check()
    video.check()
    check_span(start=start, duration=duration, resume=resume, encode=encode, out=out)
    if lock is not None and resume:
        raise UserError("--lock-to takes no --resume (the originals of a finished segment are not kept across runs)")
    with VideoInput(path, start=start, duration=duration) as src:
        check_frame_size(encode, output_format(out), src.info, path=path)
        options.check_frame((src.info.width, src.info.height), path=path)
        finder.check(path, (src.info.width, src.info.height))
        if lock is not None and src.info.bits > 8:
            raise UserError(f"--lock-to handles 8-bit videos; this one is {src.info.bits}-bit", path=path)


def add_mosaic_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions,
                     encode: EncodeOptions = EncodeOptions(), video: AddVideoOptions = AddVideoOptions(),
                     start: float = 0.0, duration: float | None = None, metadata: dict[str, str] | None = None,
                     progress=None, resume: bool = False, lock: LockOptions | None = None, recipient=None,
                     watch: VideoWatch | None = None) -> VideoResult:
    """Mosaic the region `finder` gives in every frame of the video `path`, written to `out`
    (atomically: a temporary file beside it, renamed once complete). resume: work in
    segments that a rerun after an interruption keeps (see `video_resume`). lock, recipient:
    seal the original pixels under every cover into the output (`infer/lock/video.py`;
    recipient: `lock.recipient()`, loaded once by the caller). watch: see `video_watch`."""
    check_video(path, out, finder=finder, options=options, encode=encode, video=video, start=start,
                duration=duration, resume=resume, lock=lock)
    if finder.request.kind == "faces":
        options = for_faces(options, face_grow=finder.request.face_grow)
    settings = {"encode": asdict(encode), "options": asdict(options), "steady": asdict(video),
                "region": repr(finder.request)}
    recorder, finish, sealed = None, None, {}
    if lock is not None:
        from mosaicgan.infer.lock.video import PatchRecorder

        with VideoInput(path, start=start, duration=duration) as src:
            size = (src.info.width, src.info.height)
        from mosaicgan.atomic import writing

        with writing(out):
            out.parent.mkdir(parents=True, exist_ok=True)  # the spool lives beside the output
        recorder = PatchRecorder(folder=out.parent, width=size[0], height=size[1], source=path.name)
        watch = replace(watch or VideoWatch(every=video.tracking.detect_every), recorder=recorder,
                        margin=max(options.grow, 0) + options.feather)
        key = recipient if recipient is not None else lock.recipient()

        def finish(tmp: Path) -> None:
            sealed["sealed_bytes"], sealed["sidecar"] = recorder.seal_into(tmp, out=out, recipient=key,
                                                                           sidecar=lock.sidecar)
    try:
        result = write_video(path, out, make_stage=lambda result: mosaic_stage(
                                 finder=finder, options=options, video=video, path=path, result=result, watch=watch),
                             encode=encode, settings=settings, start=start, duration=duration, metadata=metadata,
                             progress=progress, resume=resume, queue_size=max(16, 2 * video.batch), finish=finish)
    finally:
        if recorder is not None:
            recorder.close()
    if sealed:
        result.locked = sealed
    return result
