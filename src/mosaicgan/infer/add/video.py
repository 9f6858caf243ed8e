"""`add` over video files: output names, checks before anything is written, provenance
tags; the write itself is `video_job.write_video` with the frame stage of `video_mosaic`.

The image path stays the single source of truth: frames go through the same
`RegionFinder.find` and `mosaic_core.mosaic_image` as image files (see `video_mosaic`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions
from mosaicgan.infer.outputs import plan_outputs
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.video.io import EncodeOptions, VideoInput
from mosaicgan.infer.video.job import check_span, write_video
from mosaicgan.infer.add.video_stage import AddVideoOptions, mosaic_frame, mosaic_stage
from mosaicgan.infer.video.pipeline import VideoResult

__all__ = ["AddVideoOptions", "VideoResult", "add_mosaic_video", "check_video", "mosaic_frame", "plan_video_outputs",
           "provenance_tags", "video_name"]


def video_name(path: Path) -> str:
    """The output's name for --out DIR: the input's name, or NAME.mp4 where the input's
    container is not one `add` writes (MPEG-TS, Ogg)."""
    from mosaicgan.infer.video.io import OUTPUT_FORMATS

    return path.name if path.suffix.lower() in OUTPUT_FORMATS else f"{path.stem}.mp4"


def plan_video_outputs(videos: list[Path], out: Path, *, images: bool = False,
                       overwrite: bool = False) -> tuple[Path, dict[Path, Path]]:
    """(the output folder, video -> output file). --out names a file when it has a video
    extension, is not a folder and there is one video (and no image); otherwise a folder."""
    from mosaicgan.infer.video.io import OUTPUT_FORMATS

    out = Path(out)
    as_file = out.suffix.lower() in OUTPUT_FORMATS and not out.is_dir()
    if as_file and (len(videos) != 1 or images):
        raise UserError("--out is a video file name, but there is more than one input; give a folder", path=out)
    if as_file:
        plan = plan_outputs(videos, out.parent, names=lambda p: [out.name], overwrite=overwrite)
        return out.parent, {v: outs[0] for v, outs in plan.items()}
    plan = plan_outputs(videos, out, names=lambda p: [video_name(p)], overwrite=overwrite)
    return out, {v: outs[0] for v, outs in plan.items()}


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
                video: AddVideoOptions, start: float = 0.0, duration: float | None = None, resume: bool = False) -> None:
    """What can be known wrong before anything is written: the file decodes, the explicit
    region fits its frames, the output container takes the codec, the options."""
    options.check()
    video.check()
    check_span(start=start, duration=duration, resume=resume, encode=encode, out=out)
    with VideoInput(path, start=start, duration=duration) as src:
        options.check_frame((src.info.width, src.info.height), path=path)
        finder.check(path, (src.info.width, src.info.height))


def add_mosaic_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions,
                     encode: EncodeOptions = EncodeOptions(), video: AddVideoOptions = AddVideoOptions(),
                     start: float = 0.0, duration: float | None = None, metadata: dict[str, str] | None = None,
                     progress=None, resume: bool = False, on_frame=None) -> VideoResult:
    """Mosaic the region `finder` gives in every frame of the video `path`, written to `out`
    (atomically: a temporary file beside it, renamed once complete). resume: work in
    segments that a rerun after an interruption keeps (see `video_resume`). on_frame: called
    with each frame's `video_stage.FrameRegions` (detected regions: boxes, track ids), in order."""
    check_video(path, out, finder=finder, options=options, encode=encode, video=video, start=start,
                duration=duration, resume=resume)
    settings = {"encode": asdict(encode), "options": asdict(options), "steady": asdict(video),
                "region": repr(finder.request)}
    return write_video(path, out, make_stage=lambda result: mosaic_stage(finder=finder, options=options, video=video,
                                                                         path=path, result=result, on_frame=on_frame),
                       encode=encode, settings=settings, start=start, duration=duration, metadata=metadata,
                       progress=progress, resume=resume, queue_size=max(16, 2 * video.batch))
