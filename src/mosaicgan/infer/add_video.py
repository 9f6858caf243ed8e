"""`add` over video files: output names, checks before anything is written, provenance
tags, and the atomic (or resumable) write around the streaming loop of `video_pipeline`.

The image path stays the single source of truth: frames go through the same
`RegionFinder.find` and `mosaic_core.mosaic_image` as image files (see `video_pipeline`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import av

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.mosaic_core import MosaicOptions
from mosaicgan.infer.outputs import plan_outputs
from mosaicgan.infer.region_finder import RegionFinder, RegionRequest
from mosaicgan.infer.video_io import EncodeOptions, VideoInput, VideoOutput, check_encoder, output_format
from mosaicgan.infer.video_pipeline import SteadyOptions, VideoResult, mosaic_frame, run_pipeline

__all__ = ["SteadyOptions", "VideoResult", "add_mosaic_video", "check_video", "mosaic_frame", "plan_video_outputs",
           "provenance_tags", "video_name"]


def video_name(path: Path) -> str:
    """The output's name for --out DIR: the input's name, or NAME.mp4 where the input's
    container is not one `add` writes (MPEG-TS, Ogg)."""
    from mosaicgan.infer.video_io import OUTPUT_FORMATS

    return path.name if path.suffix.lower() in OUTPUT_FORMATS else f"{path.stem}.mp4"


def plan_video_outputs(videos: list[Path], out: Path, *, images: bool = False,
                       overwrite: bool = False) -> tuple[Path, dict[Path, Path]]:
    """(the output folder, video -> output file). --out names a file when it has a video
    extension, is not a folder and there is one video (and no image); otherwise a folder."""
    from mosaicgan.infer.video_io import OUTPUT_FORMATS

    out = Path(out)
    as_file = out.suffix.lower() in OUTPUT_FORMATS and not out.is_dir()
    if as_file and (len(videos) != 1 or images):
        raise UserError("--out is a video file name, but there is more than one input; give a folder", path=out)
    if as_file:
        plan = plan_outputs(videos, out.parent, names=lambda p: [out.name], overwrite=overwrite)
        return out.parent, {v: outs[0] for v, outs in plan.items()}
    plan = plan_outputs(videos, out, names=lambda p: [video_name(p)], overwrite=overwrite)
    return out, {v: outs[0] for v, outs in plan.items()}


def provenance_tags(*, request: RegionRequest, options: MosaicOptions, steady: SteadyOptions) -> dict[str, str]:
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
        settings["steady"] = ({"window": steady.window, "bridge": steady.bridge, "detect_every": steady.detect_every}
                              if steady.steady else False)
    what = where.get(request.kind, request.kind)
    return {"comment": f"mosaicgan {__version__} add: {options.style} mosaic over {what}",
            "encoder": f"mosaicgan {__version__}", "mosaicgan": json.dumps(settings, sort_keys=True)}


def check_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
                steady: SteadyOptions, start: float = 0.0, duration: float | None = None) -> None:
    """What can be known wrong before anything is written: the file decodes, the explicit
    region fits its frames, the output container takes the codec, the options."""
    options.check()
    steady.check()
    if start < 0 or (duration is not None and duration <= 0):
        raise UserError("--start must be >= 0 and --duration > 0")
    check_encoder(encode, output_format(out))
    with VideoInput(path, start=start, duration=duration) as src:
        options.check_frame((src.info.width, src.info.height), path=path)
        finder.check(path, (src.info.width, src.info.height))


def add_mosaic_video(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions,
                     encode: EncodeOptions = EncodeOptions(), steady: SteadyOptions = SteadyOptions(),
                     start: float = 0.0, duration: float | None = None, metadata: dict[str, str] | None = None,
                     progress=None, resume: bool = False) -> VideoResult:
    """Mosaic the region `finder` gives in every frame of the video `path`, written to `out`
    (atomically: a temporary file beside it, renamed once complete). resume: work in
    segments that a rerun after an interruption keeps (see `video_resume`)."""
    check_video(path, out, finder=finder, options=options, encode=encode, steady=steady, start=start,
                duration=duration)
    if resume and (start or duration is not None):
        raise UserError("--resume works on whole videos; it takes no --start or --duration")
    try:
        if resume:
            return _resumable(path, out, finder=finder, options=options, encode=encode, steady=steady,
                              metadata=metadata, progress=progress)
        return _whole(path, out, finder=finder, options=options, encode=encode, steady=steady, start=start,
                      duration=duration, metadata=metadata, progress=progress)
    except _NothingFound:
        # An untouched video is never passed off as processed: like an image without a face,
        # it is left out (and a --resume work folder with it).
        from mosaicgan.infer.video_resume import work_folder

        shutil.rmtree(work_folder(out), ignore_errors=True)
        return VideoResult(written=False)
    except (OSError, av.FFmpegError) as err:  # disk full, folder not writable, a muxer refusing
        if isinstance(err, av.FFmpegError) and err.filename and Path(err.filename) == path:
            raise  # (the input's errors are UserErrors already)
        raise UserError(f"cannot write the video ({' '.join(str(err).split())[:160]})", path=out) from None


def _whole(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
           steady: SteadyOptions, start: float, duration: float | None, metadata: dict[str, str] | None,
           progress) -> VideoResult:
    result = VideoResult()
    with VideoInput(path, start=start, duration=duration) as src, atomic_path(out) as tmp:
        _start_progress(progress, src.info.frames)
        sink = VideoOutput(tmp, fmt=output_format(out), source=src, options=encode, metadata=metadata)
        result.dropped_streams = list(sink.dropped)
        try:
            run_pipeline(src, sink, finder=finder, options=options, steady=steady, path=path, result=result,
                         progress=progress)
            if result.frames_with_region == 0:
                raise _NothingFound
            t0 = time.perf_counter()
            sink.close()
            result.seconds["encode"] += time.perf_counter() - t0
        except BaseException:
            sink.abort()
            raise
    return result


class _NothingFound(Exception):
    """No frame got a region (faces or CAM found nothing): nothing is written, as for images."""


def _start_progress(progress, total: int, done: int = 0) -> None:
    if progress is not None and total:
        progress.total = total
        if done:
            progress.update(done)
        progress.refresh()


def _resumable(path: Path, out: Path, *, finder: RegionFinder, options: MosaicOptions, encode: EncodeOptions,
               steady: SteadyOptions, metadata: dict[str, str] | None, progress) -> VideoResult:
    from dataclasses import asdict

    from mosaicgan.infer.video_resume import (SEGMENT_FRAMES, SegmentSink, done_segments, job_key, join_segments,
                                              work_folder)

    fmt, suffix, folder = output_format(out), out.suffix, work_folder(out)
    settings = {"metadata": metadata or {}, "encode": asdict(encode), "options": asdict(options),
                "steady": asdict(steady), "region": repr(finder.request)}
    first = done_segments(folder, job_key(path, settings), suffix=suffix)
    skip = first * SEGMENT_FRAMES
    result = VideoResult(frames=skip)
    with VideoInput(path) as src:
        _start_progress(progress, src.info.frames, skip)
        sink = SegmentSink(folder, fmt=fmt, suffix=suffix, source=src, options=encode, first=first,
                           length=SEGMENT_FRAMES)
        try:
            run_pipeline(src, sink, finder=finder, options=options, steady=steady, path=path, result=result,
                 progress=progress, skip=skip)
            sink.close()
        except BaseException:
            sink.abort()
            raise
        count = sink.k
    if result.frames_with_region == 0 and not first:
        raise _NothingFound
    with VideoInput(path) as src, atomic_path(out) as tmp:
        result.dropped_streams = join_segments(folder, count, tmp, fmt=fmt, suffix=suffix, source=src,
                                               metadata=metadata or {})
    shutil.rmtree(folder)
    return result
