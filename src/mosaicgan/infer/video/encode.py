"""Video files out of the per-frame cores, with PyAV. `VideoOutput` encodes frames with the
input's timestamps (so a variable frame rate stays variable, and the frame count and duration
match), turns them back to the coded orientation and keeps the rotation in the display matrix,
and stream-copies audio and subtitles where the output container takes their codec (audio is
re-encoded otherwise; subtitles it cannot hold are dropped, and said so). It writes to a
temporary name in the output folder, renamed when the file is complete (see
`atomic.atomic_path`). `EncodeOptions`, `check_encoder` and `check_frame_size` say before any
work whether the encoder and container take the frames.

Container metadata of the input (titles, GPS "location" tags from phones, dates) is not
copied, as `add` drops EXIF from images: a privacy mosaic should not leave where a clip was
shot in the file. Stream languages are kept.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mosaicgan.data.file_kind import is_media_file as is_media_file  # (by content; the media commands ask here)
from mosaicgan.errors import UserError
from mosaicgan.infer.video.decode import VideoInfo, VideoInput

OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# The audio codec a container takes when a copy is refused.
_AUDIO_FALLBACK = {"webm": "libopus", "matroska": "libopus"}
# Encoders whose 4:2:0 takes even frame sizes only.
_EVEN_ONLY = ("libx264", "libx265")


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
