"""Video files in and out of the per-frame cores, with PyAV (it bundles FFmpeg; no ffmpeg
binary, no folder of frames on disk).

`is_media_file` (from `data.file_kind`) tells a video (or audio) file from an image by its
first bytes, not its name.
`VideoInput` decodes frames as arrays (H, W, 3), uint8, or uint16 for 10/12-bit input, turned
upright by the stream's rotation; packets of the other streams (audio, subtitles) are handed
on untouched. `VideoOutput` encodes frames with the input's timestamps (so a variable frame
rate stays variable, and the frame count and duration match), turns them back to the coded
orientation and keeps the rotation in the display matrix, and stream-copies audio and
subtitles where the output container takes their codec (audio is re-encoded otherwise;
subtitles it cannot hold are dropped, and said so). It writes to a temporary name in the
output folder, renamed when the file is complete (see `atomic.atomic_path`).

Container metadata of the input (titles, GPS "location" tags from phones, dates) is not
copied, as `add` drops EXIF from images: a privacy mosaic should not leave where a clip was
shot in the file. Stream languages are kept.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
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

OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# The audio codec a container takes when a copy is refused.
_AUDIO_FALLBACK = {"webm": "libopus", "matroska": "libopus"}
# Encoders whose 4:2:0 takes even frame sizes only.
_EVEN_ONLY = ("libx264", "libx265")
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


@dataclass(frozen=True)
class EncodeOptions:
    """codec: an FFmpeg encoder (libx264, libx265, libvpx-vp9, libsvtav1, mpeg4...); None picks
    libx264, or libvpx-vp9 for WebM. crf: quality (lower is better; 18 is near transparent for
    x264). preset: the encoder's speed/size trade-off (x264/x265: ultrafast ... veryslow)."""

    codec: str | None = None
    crf: int = 18
    preset: str | None = "medium"
    threads: int = 0

    def codec_for(self, fmt: str) -> str:
        return self.codec or ("libvpx-vp9" if fmt == "webm" else "libx264")


def output_format(path: Path) -> str:
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unknown video extension; use one of {', '.join(OUTPUT_FORMATS)}", path=path)
    return fmt


def check_encoder(options: EncodeOptions, fmt: str) -> str:
    """The encoder's name, checked: it exists and the container takes it."""
    name = options.codec_for(fmt)
    try:
        codec = av.Codec(name, "w")
    except (av.FFmpegError, ValueError):
        raise UserError(f"--codec {name}: no such video encoder in this PyAV build") from None
    if codec.type != "video":
        raise UserError(f"--codec {name} is not a video encoder")
    if not _takes(fmt, lambda out: out.add_stream(name, rate=25)):
        raise UserError(f"--codec {name}: the {fmt} container cannot hold it; pick another --codec or extension")
    if options.crf < 0 or options.crf > 63:
        raise UserError(f"--crf must lie in 0..63, got {options.crf}")
    return name


def _takes(fmt: str, add: Callable, *, header: bool = False) -> bool:
    """Whether a `fmt` container accepts the stream `add(container)` adds (tried in memory;
    header=True also writes the file header, where some muxers check a copied stream)."""
    out = av.open(io.BytesIO(), "w", format=fmt)
    try:
        add(out)
        if header:
            out.start_encoding()
        return True
    except (av.FFmpegError, ValueError, NotImplementedError):
        return False
    finally:
        try:
            out.close()
        except Exception:  # noqa: BLE001  (a half-set-up in-memory container; nothing to keep)
            pass


def _pix_fmt(codec: str, bits: int) -> str:
    formats = [f.name for f in (av.Codec(codec, "w").video_formats or ())]
    want = "yuv420p10le" if bits > 8 else "yuv420p"
    return want if not formats or want in formats else ("yuv420p" if "yuv420p" in formats else formats[0])


@functools.lru_cache(maxsize=64)
def encoder_pix_fmt(codec: str, bits: int, width: int, height: int) -> str | None:
    """The pixel format frames of width x height (as coded) are encoded in: 4:2:0 (10-bit for
    deeper input) where the encoder takes it. A frame of odd width or height (321 x 241) has no
    4:2:0 form in x264 and x265; there the first of 4:2:0 and 4:4:4 (every pixel's colour kept,
    the size kept) that the encoder opens at that size is used. None: the encoder takes
    neither (`check_frame_size` refuses the video before any work)."""
    want = _pix_fmt(codec, bits)
    if width % 2 == 0 and height % 2 == 0:
        return want
    formats = {f.name for f in (av.Codec(codec, "w").video_formats or ())}
    for candidate in dict.fromkeys((want, "yuv444p10le" if bits > 8 else "yuv444p", "yuv444p")):
        if codec in _EVEN_ONLY and candidate.startswith("yuv420p"):
            continue  # known to refuse (and x265 says so on stderr when tried)
        if (not formats or candidate in formats) and _opens(codec, candidate, width, height):
            return candidate
    return None


def _opens(codec: str, pix_fmt: str, width: int, height: int) -> bool:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base, ctx.framerate = Fraction(1, 25), Fraction(25)
    if codec == "libx265":
        ctx.options = {"x265-params": "log-level=error"}
    try:
        ctx.open()
        return True
    except (av.FFmpegError, ValueError):
        return False


def check_frame_size(options: EncodeOptions, fmt: str, info: VideoInfo, *, path: Path) -> None:
    """Refuse, before any work, a video whose frame size the encoder cannot take."""
    codec = options.codec_for(fmt)
    coded = (info.width, info.height) if info.rotation in (0, 180) else (info.height, info.width)
    if encoder_pix_fmt(codec, info.bits, *coded) is None:
        raise UserError(f"frames of {coded[0]} x {coded[1]} (an odd size): the encoder {codec} takes none of its pixel "
                        "formats at that size; give another --codec (libx264 and libvpx-vp9 take it)", path=path)


class VideoOutput:
    """Encodes frames to `path` (written as given: the caller passes a temporary name) with the
    input's time base and timestamps, and copies or re-encodes the input's other streams."""

    def __init__(self, path: Path, *, fmt: str, source: VideoInput, options: EncodeOptions,
                 metadata: dict[str, str] | None = None, others: bool = True,
                 video_from: av.stream.Stream | None = None) -> None:
        """others=False: the video alone (a segment of a resumable job). video_from: copy this
        encoded stream's packets (`write_video_packet`) instead of encoding frames."""
        info = source.info
        self.info = info
        self.container = av.open(str(path), "w", format=fmt,
                                 options={"movflags": "use_metadata_tags"} if fmt in ("mp4", "mov") else {})
        for key, value in (metadata or {}).items():
            self.container.metadata[key] = value
        self.copied: dict[int, av.stream.Stream] = {}
        self.encoded: dict[int, tuple[av.stream.Stream, av.codec.CodecContext]] = {}
        self.dropped: list[str] = []
        self.pts_offset = None
        if video_from is not None:
            self.video = self.container.add_stream_from_template(video_from)
            self.video.metadata.clear()
            if info.rotation:
                self.video.set_display_rotation(info.rotation)
            self.turns, self.frame_format = 0, ""
        else:
            self._add_encoder(fmt, options)
        for s in source.others if others else ():
            self._add_other(s, fmt)

    def _add_encoder(self, fmt: str, options: EncodeOptions) -> None:
        info = self.info
        codec = check_encoder(options, fmt)
        coded_w, coded_h = (info.width, info.height) if info.rotation in (0, 180) else (info.height, info.width)
        stream = self.container.add_stream(codec, rate=info.rate)
        stream.width, stream.height = coded_w, coded_h
        stream.pix_fmt = encoder_pix_fmt(codec, info.bits, coded_w, coded_h) or _pix_fmt(codec, info.bits)
        # pts pass through: VFR stays VFR. AVI has no timestamps, only a frame rate: there
        # frames are numbered (a variable rate cannot be kept in AVI).
        self.numbered = fmt == "avi"
        self.count = 0
        base = Fraction(1, 1) / Fraction(info.rate) if self.numbered else info.time_base
        stream.time_base = base
        stream.codec_context.time_base = base
        stream.thread_count = options.threads
        opts = {"crf": str(options.crf)}
        if codec in ("libx264", "libx265") and options.preset:
            opts["preset"] = options.preset
        if codec == "libx265":
            opts["x265-params"] = "log-level=error"
        if codec == "libvpx-vp9":
            opts.update({"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"})
        if self.numbered:
            stream.codec_context.max_b_frames = 0  # AVI stores no presentation times: no reordered frames
        stream.options = opts
        if info.rotation:
            stream.set_display_rotation(info.rotation)
        self.video = stream
        self.turns = info.rotation // 90
        self.frame_format = "rgb24" if info.bits == 8 else "rgb48le"

    def _add_other(self, s: av.stream.Stream, fmt: str) -> None:
        if _takes(fmt, lambda out: out.add_stream_from_template(s), header=True):
            out = self.container.add_stream_from_template(s)
            out.metadata.clear()
            if s.language:
                out.metadata["language"] = s.language
            self.copied[s.index] = out
        elif s.type == "audio":
            name = _AUDIO_FALLBACK.get(fmt, "aac")
            out = self.container.add_stream(name, rate=s.codec_context.sample_rate or 48000,
                                            layout=s.codec_context.layout.name if s.codec_context.layout else "stereo")
            self.encoded[s.index] = (out, s.codec_context)
        else:
            self.dropped.append(f"{s.type} stream {s.index} ({s.codec_context.name})")

    def shift(self, pts_offset: int) -> None:
        """Output times start at 0 when --start cuts the head: every stream is shifted alike."""
        self.pts_offset = pts_offset

    def write(self, pts: int, frame: np.ndarray, *, changed: bool = False) -> None:
        """One frame (H, W, 3) upright, as `VideoInput.frames` gave it, at its input pts.
        changed: the stage put a region into it (counted by a resumable job's segments)."""
        if self.turns:
            frame = np.ascontiguousarray(np.rot90(frame, -self.turns))
        vf = av.VideoFrame.from_ndarray(frame, format=self.frame_format)
        if self.numbered:
            vf.pts, vf.time_base = self.count, self.video.codec_context.time_base
            self.count += 1
        else:
            vf.pts = pts - (self.pts_offset or 0)
            vf.time_base = self.info.time_base
        for packet in self.video.encode(vf):
            self.container.mux(packet)

    def write_video_packet(self, packet: av.Packet) -> None:
        """An encoded video packet (of `video_from`), copied."""
        packet.stream = self.video
        self.container.mux(packet)

    def write_packet(self, packet: av.Packet) -> None:
        """A packet of another stream of the input: copied, or decoded and re-encoded."""
        index = packet.stream.index
        offset = 0.0 if self.pts_offset is None else float(self.pts_offset * self.info.time_base)
        if index in self.copied:
            if packet.pts is not None and packet.time_base is not None and offset:
                shift = int(round(offset / packet.time_base))
                if packet.pts - shift < 0:
                    return  # before --start
                packet.pts -= shift
                packet.dts = None if packet.dts is None else packet.dts - shift
            packet.stream = self.copied[index]
            self.container.mux(packet)
        elif index in self.encoded:
            out, _ = self.encoded[index]
            for frame in packet.decode():
                if frame.pts is not None and offset:
                    frame.pts -= int(round(offset / frame.time_base))
                    if frame.pts < 0:
                        continue
                for p in out.encode(frame):
                    self.container.mux(p)

    def close(self) -> None:
        """Flush the encoders and write the trailer (the file is complete after this)."""
        if self.frame_format:
            for packet in self.video.encode():
                self.container.mux(packet)
        for out, _ in self.encoded.values():
            for packet in out.encode():
                self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.container.close()
            except Exception:  # noqa: BLE001  (the file is being thrown away)
                pass
