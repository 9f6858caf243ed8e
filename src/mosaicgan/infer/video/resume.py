"""Resumable video jobs: the video is encoded as segments of N frames in a work folder beside
the output (`.NAME.resume/`), each one renamed into place once complete; a rerun with
--resume keeps the complete segments and starts at the first missing frame; at the end the
segments and the input's audio and subtitles are muxed into the output without re-encoding
the video (packets are copied), and the work folder is removed.

A segment is a whole file in the output's container, starting on a key frame, with the
input's timestamps, so copying its packets one after another gives the same stream as one
long encode (at each boundary the encoder starts afresh: a key frame and a reset rate
control). The job's settings and the input's size and time stamp are kept in job.json; a
rerun with other settings or another input starts over. Beside each segment, seg_K.json
says how many of its frames got a region, so that a resumed job's summary counts the frames
of the segments it kept (a segment without one is done again).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import av

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.video.decode import VideoInput
from mosaicgan.infer.video.encode import EncodeOptions, VideoOutput

SEGMENT_FRAMES = 250


def work_folder(out: Path) -> Path:
    return out.parent / f".{out.name}.resume"


def job_key(path: Path, settings: dict) -> dict:
    stat = path.stat()
    return {"input": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "settings": settings}


def segment_path(folder: Path, k: int, suffix: str) -> Path:
    return folder / f"seg_{k:05d}{suffix}"


def _counts_path(folder: Path, k: int) -> Path:
    return folder / f"seg_{k:05d}.json"


def _region_frames(folder: Path, k: int) -> int | None:
    try:
        value = json.loads(_counts_path(folder, k).read_text())["with_region"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and value >= 0 else None


def region_frames(folder: Path, count: int) -> int:
    """Frames that got a region in segments 0..count-1 (as `done_segments` found them)."""
    return sum(_region_frames(folder, k) or 0 for k in range(count))


def done_segments(folder: Path, key: dict, *, suffix: str) -> int:
    """How many segments a previous run of this same job completed (0, and a clean folder,
    when there was none or it was another job)."""
    job = folder / "job.json"
    try:
        same = json.loads(job.read_text()) == key
    except (OSError, ValueError):
        same = False
    if not same:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        job.write_text(json.dumps(key))
        return 0
    k = 0
    while segment_path(folder, k, suffix).exists() and _region_frames(folder, k) is not None:
        k += 1
    for stray in folder.glob("*.tmp"):  # a segment cut off by the interruption
        stray.unlink()
    return k


class SegmentSink:
    """The `VideoOutput` interface for `add_video._run`, writing segments of `length` frames
    (the video only: audio and subtitles come from the input when the segments are joined)."""

    def __init__(self, folder: Path, *, fmt: str, suffix: str, source: VideoInput, options: EncodeOptions,
                 first: int, length: int = SEGMENT_FRAMES) -> None:
        self.folder, self.fmt, self.suffix, self.source, self.options = folder, fmt, suffix, source, options
        self.k, self.length, self.count, self.changed = first, length, 0, 0
        self.out: VideoOutput | None = None
        self.dropped: list[str] = []

    def _tmp(self) -> Path:
        return self.folder / f"seg_{self.k:05d}{self.suffix}.tmp"

    def shift(self, pts_offset: int) -> None:
        if pts_offset:
            raise ValueError("resumable jobs take no --start")

    def write(self, pts: int, frame, *, changed: bool = False) -> None:
        if self.out is None:
            self.out = VideoOutput(self._tmp(), fmt=self.fmt, source=self.source, options=self.options, others=False)
        self.out.write(pts, frame)
        self.count += 1
        self.changed += int(changed)
        if self.count == self.length:
            self._finish()

    def _finish(self) -> None:
        self.out.close()
        # The count first: a segment in place always has its count (a kill between the two
        # leaves a count without its segment, which the rerun writes again).
        with atomic_path(_counts_path(self.folder, self.k)) as tmp:
            tmp.write_text(json.dumps({"frames": self.count, "with_region": self.changed}))
        os.replace(self._tmp(), segment_path(self.folder, self.k, self.suffix))
        self.out, self.count, self.changed, self.k = None, 0, 0, self.k + 1

    def write_packet(self, packet) -> None:
        pass

    def close(self) -> None:
        if self.out is not None:
            self._finish()

    def abort(self) -> None:
        if self.out is not None:
            self.out.abort()
            self._tmp().unlink(missing_ok=True)


def join_segments(folder: Path, count: int, out_tmp: Path, *, fmt: str, suffix: str, source: VideoInput,
                  metadata: dict[str, str]) -> list[str]:
    """Mux segments 0..count-1 and the input's other streams into `out_tmp`, copying the
    video packets. Packets are interleaved by time here, so the muxer buffers only a few."""
    if count == 0:
        raise UserError("no frames to write (the video is empty)", path=source.path)
    first = av.open(str(segment_path(folder, 0, suffix)))
    sink = VideoOutput(out_tmp, fmt=fmt, source=source, options=EncodeOptions(), metadata=metadata,
                       video_from=first.streams.video[0])
    first.close()
    try:
        video = _segment_packets(folder, count, suffix)
        others = (p for p in source.container.demux(*source.others) if p.dts is not None) if source.others else iter(())
        v, o = next(video, None), next(others, None)
        while v is not None or o is not None:
            if o is None or (v is not None and _time(v) <= _time(o)):
                sink.write_video_packet(v)
                v = next(video, None)
            else:
                sink.write_packet(o)
                o = next(others, None)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return sink.dropped


def _segment_packets(folder: Path, count: int, suffix: str):
    for k in range(count):
        with av.open(str(segment_path(folder, k, suffix))) as seg:
            for packet in seg.demux(seg.streams.video[0]):
                if packet.dts is not None:
                    yield packet


def _time(packet: av.Packet) -> float:
    return float((packet.dts if packet.dts is not None else packet.pts) * packet.time_base)
