"""One video job around the streaming loop: the atomic write (a temporary name beside the
output, renamed once complete), or the resumable one (segments, see `video_resume`), and
what happens when no frame got a region (nothing is written, as for images). Shared by
`add` and `remove` on videos; each gives its frame stage (`video_pipeline.Stage`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import av

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.video.decode import VideoInput
from mosaicgan.infer.video.decode import check_span as span_ok
from mosaicgan.infer.video.encode import EncodeOptions, VideoOutput, check_encoder, output_format
from mosaicgan.infer.video.pipeline import Stage, VideoResult, run_pipeline

# Makes the frame stage of one run, given the run's result (the stage adds its times there).
StageFactory = Callable[[VideoResult], Stage]


def check_span(*, start: float, duration: float | None, resume: bool, encode: EncodeOptions, out: Path) -> None:
    span_ok(start, duration)
    if resume and (start or duration is not None):
        raise UserError("--resume works on whole videos; it takes no --start or --duration")
    check_encoder(encode, output_format(out))


def write_video(path: Path, out: Path, *, make_stage: StageFactory, encode: EncodeOptions, settings: dict,
                start: float = 0.0, duration: float | None = None, metadata: dict[str, str] | None = None,
                progress=None, resume: bool = False, queue_size: int = 16,
                finish: Callable[[Path], None] | None = None) -> VideoResult:
    """Run the frame stage `make_stage(result)` over the video `path` into `out`. settings:
    everything that changes the output (a resumed job with other settings starts over).
    finish: called with the complete temporary file before it takes the output's name (e.g.
    --lock-to adds the sealed originals); not with `resume`."""
    if resume and finish is not None:
        raise ValueError("a resumable job takes no finish step")
    try:
        if resume:
            return _resumable(path, out, make_stage=make_stage, encode=encode, settings=settings,
                              metadata=metadata, progress=progress, queue_size=queue_size)
        return _whole(path, out, make_stage=make_stage, encode=encode, start=start, duration=duration,
                      metadata=metadata, progress=progress, queue_size=queue_size, finish=finish)
    except _NothingFound:
        # An untouched video is never passed off as processed: like an image without a region,
        # it is left out (and a --resume work folder with it).
        from mosaicgan.infer.video.resume import work_folder

        shutil.rmtree(work_folder(out), ignore_errors=True)
        return VideoResult(written=False)
    except (OSError, av.FFmpegError) as err:  # disk full, folder not writable, a muxer refusing
        if isinstance(err, av.FFmpegError) and err.filename and Path(err.filename) == path:
            raise  # (the input's errors are UserErrors already)
        raise UserError(f"cannot write the video ({' '.join(str(err).split())[:160]})", path=out) from None


def _whole(path: Path, out: Path, *, make_stage: StageFactory, encode: EncodeOptions, start: float,
           duration: float | None, metadata: dict[str, str] | None, progress, queue_size: int,
           finish: Callable[[Path], None] | None = None) -> VideoResult:
    result = VideoResult()
    with VideoInput(path, start=start, duration=duration) as src, atomic_path(out) as tmp:
        _start_progress(progress, src.info.frames)
        sink = VideoOutput(tmp, fmt=output_format(out), source=src, options=encode, metadata=metadata)
        result.dropped_streams = list(sink.dropped)
        result.notes = ignored_notes(src)
        try:
            run_pipeline(src, sink, stage=make_stage(result), path=path, result=result, progress=progress,
                         queue_size=queue_size)
            if result.frames_with_region == 0:
                raise _NothingFound
            t0 = time.perf_counter()
            sink.close()
            result.seconds["encode"] += time.perf_counter() - t0
        except BaseException:
            sink.abort()
            raise
        if finish is not None:
            finish(tmp)
    return result


def ignored_notes(src: VideoInput) -> list[str]:
    """One line for each video stream of the input that is not processed (only one is)."""
    return [f"{what}: left out (one video stream is processed, the first that is not a cover picture)"
            for what in src.ignored]


class _NothingFound(Exception):
    """No frame got a region (faces, CAM or mosaics found nothing): nothing is written."""


def _start_progress(progress, total: int, done: int = 0) -> None:
    if progress is not None and total:
        progress.total = total
        if done:
            progress.update(done)
        progress.refresh()


def _resumable(path: Path, out: Path, *, make_stage: StageFactory, encode: EncodeOptions, settings: dict,
               metadata: dict[str, str] | None, progress, queue_size: int) -> VideoResult:
    from mosaicgan.infer.video.resume import (
        SEGMENT_FRAMES,
        SegmentSink,
        done_segments,
        job_key,
        join_segments,
        region_frames,
        work_folder,
    )

    fmt, suffix, folder = output_format(out), out.suffix, work_folder(out)
    first = done_segments(folder, job_key(path, {"metadata": metadata or {}, **settings}), suffix=suffix)
    skip = first * SEGMENT_FRAMES
    # The kept segments' frames count in the summary as if this run had made them.
    result = VideoResult(frames=skip, frames_with_region=region_frames(folder, first))
    with VideoInput(path) as src:
        result.notes = ignored_notes(src)
        _start_progress(progress, src.info.frames, skip)
        sink = SegmentSink(folder, fmt=fmt, suffix=suffix, source=src, options=encode, first=first,
                           length=SEGMENT_FRAMES)
        try:
            run_pipeline(src, sink, stage=make_stage(result), path=path, result=result, progress=progress,
                         skip=skip, queue_size=queue_size)
            sink.close()
        except BaseException:
            sink.abort()
            raise
        count = sink.k
    if result.frames_with_region == 0:
        raise _NothingFound
    with VideoInput(path) as src, atomic_path(out) as tmp:
        result.dropped_streams = join_segments(folder, count, tmp, fmt=fmt, suffix=suffix, source=src,
                                               metadata=metadata or {})
    shutil.rmtree(folder)
    return result
