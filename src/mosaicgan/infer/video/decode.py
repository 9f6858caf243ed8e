"""Video files into the per-frame cores, with PyAV (it bundles FFmpeg; no ffmpeg binary, no
folder of frames on disk). Writing them back is `encode`.

`is_media_file` (from `data.file_kind`) tells a video (or audio) file from an image by its
first bytes, not its name.
`VideoInput` decodes frames as arrays (H, W, 3), uint8, or uint16 for 10/12-bit input, turned
upright by the stream's rotation; packets of the other streams (audio, subtitles) are handed
on untouched, for `encode.VideoOutput` to copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mosaicgan.data.file_kind import is_media_file as is_media_file  # (by content; the media commands ask here)
from mosaicgan.data.images import MAX_PIXELS
from mosaicgan.errors import UserError
from mosaicgan.infer.video.container_size import declared_size

_ATTACHED_PIC = 0x0400  # AV_DISPOSITION_ATTACHED_PIC: a cover picture, not a moving picture


@dataclass(frozen=True)
class VideoInfo:
    """width, height: upright (as displayed). rotation: degrees counter-clockwise from the
    coded frames to the display (0, 90, 180, 270). rate: the average frame rate. frames: the
    container's count, or an estimate from the duration (0 if unknown). bits: 8, 10 or 12."""

    width: int
    height: int
    rotation: int
    rate: Fraction
    time_base: Fraction
    frames: int
    duration: float
    pix_fmt: str
    bits: int
    codec: str
    format: str


def _bits(pix_fmt: str) -> int:
    for bits in (16, 14, 12, 10, 9):
        if f"{bits}le" in pix_fmt or f"{bits}be" in pix_fmt or f"p{bits}" in pix_fmt:
            return min(bits, 12)
    return 8


def check_span(start: float, duration: float | None) -> None:
    """--start and --duration: finite, start >= 0, duration > 0 (one line naming the flag)."""
    if not math.isfinite(start) or start < 0:
        raise UserError(f"--start must be a number of seconds >= 0, got {start}")
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        raise UserError(f"--duration must be a number of seconds > 0, got {duration}")


def _is_picture(stream: av.stream.Stream) -> bool:
    """A cover picture (an attached still), not a moving picture."""
    try:
        return bool(int(getattr(stream, "disposition", 0)) & _ATTACHED_PIC)
    except (TypeError, ValueError):
        return False


class VideoInput:
    """An open video file. Errors (not a video, no video stream, cannot decode, frames over
    the pixel limit of images, a file shorter than its container declares) are one-line
    UserErrors naming the file. The first video stream that is not a cover picture is read;
    the other video streams are listed in `ignored` (the caller says they are left out). Use as
    a context manager."""

    def __init__(self, path: str | Path, *, start: float = 0.0, duration: float | None = None) -> None:
        self.path = Path(path)
        check_span(start, duration)
        self.start, self.end = start, None if duration is None else start + duration
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
            raise UserError(f"not a readable video ({_reason(err)})", path=self.path) from None
        if not self.container.streams.video:
            kinds = sorted({s.type for s in self.container.streams})
            what = "an audio-only file" if kinds == ["audio"] else f"streams: {', '.join(kinds) or 'none'}"
            self.container.close()
            raise UserError(f"no video stream ({what})", path=self.path)
        self._open_streams()
        self.ignored = [f"video stream {s.index} ({s.codec_context.name}, {s.codec_context.width}x"
                        f"{s.codec_context.height}{', a cover picture' if _is_picture(s) else ''})"
                        for s in self.container.streams.video if s.index != self.stream.index]
        self.declared: int | None = None
        try:
            self._check_header()
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    def _open_streams(self) -> None:
        videos = self.container.streams.video
        self.stream = next((s for s in videos if not _is_picture(s)), videos[0])
        self.stream.thread_type = "AUTO"  # frame threads: decoding keeps pace with the encoder
        self.others = [s for s in self.container.streams if s.type in ("audio", "subtitle")]

    def _check_header(self) -> None:
        """What the header tells before a frame is decoded: the frame size against the pixel
        limit of images (a video's frames go through the image path one by one), and, for a
        whole video, whether the file holds the bytes its container declares."""
        ctx = self.stream.codec_context
        if ctx.width * ctx.height > MAX_PIXELS:
            raise UserError(f"video frames too large ({ctx.width} x {ctx.height}; limit {MAX_PIXELS / 1e6:.1f} "
                            "megapixels, as for images)", path=self.path)
        self.declared = declared_size(self.path, self.container.format.name)
        actual = self.path.stat().st_size
        if self.start == 0 and self.end is None and self.declared is not None and self.declared > actual:
            raise UserError(f"truncated video: the container declares {self.declared:,} bytes, the file holds "
                            f"{actual:,} ({100 * actual / self.declared:.0f}%)", path=self.path)

    def _probe(self) -> VideoInfo:
        first = self._first_frame()
        s = self.stream  # a new stream object: _first_frame reopened the file
        rotation = int(round(first.rotation)) % 360 if first is not None else 0
        if rotation % 90:
            rotation = 0  # a skewed display matrix: show the frames as coded
        ctx = s.codec_context
        width, height = (ctx.width, ctx.height) if rotation in (0, 180) else (ctx.height, ctx.width)
        rate = s.average_rate or s.guessed_rate or Fraction(25)
        seconds = float(s.duration * s.time_base) if s.duration else (
            self.container.duration / 1e6 if self.container.duration else 0.0)
        frames = s.frames or int(round(seconds * rate))
        if self.end is not None or self.start:
            span = min(self.end if self.end is not None else seconds, seconds) - self.start
            frames = max(0, int(round(span * rate)))
        pix_fmt = ctx.pix_fmt or (first.format.name if first is not None else "yuv420p")
        return VideoInfo(width=width, height=height, rotation=rotation, rate=Fraction(rate),
                         time_base=Fraction(s.time_base), frames=frames, duration=seconds, pix_fmt=pix_fmt,
                         bits=_bits(pix_fmt), codec=ctx.name, format=self.container.format.name)

    def _first_frame(self) -> av.VideoFrame | None:
        try:
            for frame in self.container.decode(self.stream):
                return frame
        except av.FFmpegError as err:
            raise UserError(f"cannot decode video ({_reason(err)})", path=self.path) from None
        finally:
            self._rewind()
        raise UserError("the video stream has no frames (truncated or empty file?)", path=self.path)

    def _rewind(self) -> None:
        # Reopen rather than seek: a seek lands on a key frame whose exact position some
        # containers (AVI, MPEG-TS) do not promise, and the first frame must not be lost.
        self.container.close()
        self.container = av.open(str(self.path), metadata_errors="ignore")
        self._open_streams()

    def frames(self, *, on_packet: Callable[[av.Packet], None] | None = None, skip: int = 0
               ) -> Iterator[tuple[int, np.ndarray]]:
        """(pts, frame) in display order: frame (H, W, 3) upright RGB, uint8 (8-bit input) or
        uint16 (higher). Packets of `self.others` go to `on_packet`, in file order. With
        --start/--duration only frames with start <= time < end come out; the first `skip` of
        those are decoded but not given (a resumed job)."""
        fmt = "rgb24" if self.info.bits == 8 else "rgb48le"
        turns = self.info.rotation // 90
        tb = self.stream.time_base
        if self.start > 0:
            self.container.seek(int(self.start / tb), stream=self.stream, backward=True)
        last_pts = None
        count = packets = 0
        try:
            for packet in self.container.demux(self.stream, *self.others):
                if packet.stream.type != "video":
                    if on_packet is not None and packet.dts is not None and (
                            self.end is None or packet.pts is None or packet.pts * packet.time_base < self.end):
                        on_packet(packet)
                    continue
                packets += packet.size > 0
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + 1)
                    t = float(pts * tb)
                    if t < self.start - 1e-6:
                        continue
                    if self.end is not None and t >= self.end - 1e-6:
                        return
                    last_pts = pts
                    count += 1
                    if count <= skip:
                        continue
                    arr = frame.to_ndarray(format=fmt)
                    yield pts, np.ascontiguousarray(np.rot90(arr, turns)) if turns else arr
        except av.FFmpegError as err:
            raise UserError(f"cannot decode video ({_reason(err)})", path=self.path) from None
        if self.start == 0 and self.end is None:
            self._check_complete(count, None if last_pts is None else float(last_pts * tb), packets)

    def _check_complete(self, count: int, last: float | None, packets: int) -> None:
        """A file cut short decodes without an error, only fewer frames. Where the container
        declares its size (MP4/MOV, Matroska, AVI), that was checked when the file was opened
        (`container_size`). MP4/MOV also count their frames: fewer packets than that count is a
        cut. Elsewhere the time of the last frame is compared with the duration, give or take
        a second (the audio may run a little longer than the pictures). (AVI's count is in
        ticks of its time base, not frames: no evidence.)"""
        fmt = self.container.format.name
        promised = self.stream.frames if ("mp4" in fmt or "mov" in fmt) else 0
        if promised and count < promised and packets < promised:
            raise UserError(f"truncated video: {count} of {promised} frames decode", path=self.path)
        if self.declared is not None:
            return
        if not promised and last is not None and self.info.duration:
            slack = max(1.0, 5 / float(self.info.rate))
            if last + slack < self.info.duration:
                raise UserError(f"truncated video: frames end at {last:.1f} s of {self.info.duration:.1f} s",
                                path=self.path)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> VideoInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())[:160]
