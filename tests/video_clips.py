"""Synthetic video clips for the video tests and benchmarks/video_speed.py: a background with
moving shapes, a photo (a face) pasted in motion, optional sine-tone audio, rotation, VFR."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from helpers import FIXTURES

FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm"}


@dataclass
class Clip:
    path: Path
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # the photo: x0, y0, x1, y1 per frame
    pts: list[int] = field(default_factory=list)
    time_base: Fraction = Fraction(1, 1000)
    audio: np.ndarray | None = None


def make_clip(path: Path, *, width: int = 128, height: int = 96, frames: int = 30, fps: int = 25,
              photo: str | None = "grace_hopper.jpg", photo_size: int | None = None, motion: float = 1.5,
              static: bool = False, noise: float = 0.0, audio: bool = True, vfr: bool = False, rotation: int = 0,
              codec: str | None = None, seed: int = 0, shapes: int = 3, pix_fmt: str = "yuv420p",
              metadata: dict[str, str] | None = None, subtitles: list[tuple[int, int, str]] | None = None) -> Clip:
    """Write a clip; returns where the photo is in every frame (in the frames as coded).
    subtitles: (start ms, end ms, text) cues as a SubRip stream (Matroska only: PyAV cannot
    open the subrip or mov_text encoders, so the cues are written as an .srt file beside the
    clip and its packets copied in)."""
    rng = np.random.default_rng(seed)
    fmt = FORMATS[path.suffix.lower()]
    codec = codec or ("libvpx-vp9" if fmt == "webm" else "libx264")
    tb = Fraction(1, 1000)
    out = av.open(str(path), "w", format=fmt)
    out.metadata.update(metadata or {})
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.codec_context.time_base = tb
    stream.options = {"crf": "18", "preset": "ultrafast"} if codec == "libx264" else {}
    if rotation:
        stream.set_display_rotation(rotation)
    sr = 48000
    a_stream = None
    if audio:
        a_codec = "libopus" if fmt == "webm" else ("pcm_s16le" if fmt in ("avi", "matroska") else "aac")
        a_stream = out.add_stream(a_codec, rate=sr, layout="mono")
    s_stream, s_packets = None, []
    if subtitles:
        srt = path.with_suffix(".srt")
        srt.write_text("".join(f"{k + 1}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n"
                               for k, (a, b, text) in enumerate(subtitles)))
        with av.open(str(srt)) as cues:
            s_stream = out.add_stream_from_template(cues.streams.subtitles[0])
        with av.open(str(srt)) as cues:
            s_packets = [(bytes(p), p.pts, p.duration) for p in cues.demux() if p.size]
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([xx * 255 // max(1, width - 1), yy * 255 // max(1, height - 1),
                           np.full_like(xx, 96)], axis=-1).astype(np.uint8)
    face = None
    side = side_h = 0
    if photo:
        im = Image.open(FIXTURES / photo).convert("RGB")
        side = photo_size or max(16, min(width, height) // 2)
        side_h = min(height, round(side * im.height / im.width))
        face = np.asarray(im.resize((side, side_h), Image.BILINEAR))
    shape_params = [(rng.integers(0, width), rng.integers(0, height), rng.integers(4, max(5, width // 8)),
                     rng.integers(0, 255, 3), rng.uniform(-2, 2, 2)) for _ in range(shapes)]
    clip = Clip(path=path, time_base=tb)
    t_ms = 0
    for i in range(frames):
        img = background.copy()
        for x, y, r, colour, (vx, vy) in shape_params:
            cx, cy = int(x + vx * i) % width, int(y + vy * i) % height
            img[max(0, cy - r):cy + r, max(0, cx - r):cx + r] = colour
        if face is not None:
            span_x, span_y = max(1, width - side), max(1, height - side_h)
            x0 = 0 if static else int(round(i * motion)) % (2 * span_x)
            x0 = x0 if x0 <= span_x else 2 * span_x - x0
            y0 = span_y // 2 if static else int(round(i * motion * 0.5)) % (2 * span_y)
            y0 = min(y0, span_y) if static else (y0 if y0 <= span_y else 2 * span_y - y0)
            img[y0:y0 + side_h, x0:x0 + side] = face
            clip.boxes.append((x0, y0, x0 + side, y0 + side_h))
        if noise:
            img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = t_ms, tb
        clip.pts.append(t_ms)
        t_ms += (1000 // fps) if not vfr else (1000 // fps) * (1 + (i % 3 == 2))
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    if a_stream is not None:
        n = int(sr * t_ms / 1000)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)).astype(np.float32)
        clip.audio = tone
        size = a_stream.codec_context.frame_size or 1024
        fmt_a = a_stream.codec_context.format.name
        for k in range(0, n, size):
            chunk = tone[k:k + size]
            data = (chunk * 32767).astype(np.int16)[None] if fmt_a.startswith("s16") else chunk[None]
            af = av.AudioFrame.from_ndarray(data, format=fmt_a, layout="mono")
            af.sample_rate, af.pts, af.time_base = sr, k, Fraction(1, sr)
            for packet in a_stream.encode(af):
                out.mux(packet)
        for packet in a_stream.encode():
            out.mux(packet)
    for data, pts, duration in s_packets:
        packet = av.Packet(data)
        packet.stream, packet.pts, packet.dts, packet.duration = s_stream, pts, pts, duration
        packet.time_base = Fraction(1, 1000)
        out.mux(packet)
    out.close()
    return clip


def _srt_time(ms: int) -> str:
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def read_subtitles(path: Path) -> list[tuple[bytes, float]]:
    """The cues of the first subtitle stream: (text, start in seconds)."""
    with av.open(str(path)) as c:
        s = c.streams.subtitles[0]
        return [(bytes(p), float(p.pts * p.time_base)) for p in c.demux(s) if p.size]


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float], dict]:
    """Frames (as displayed: rotation applied), their times, and stream facts."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        facts = {"rate": v.average_rate, "audio": [s.codec_context.name for s in c.streams.audio],
                 "metadata": dict(c.metadata), "format": c.format.name, "pix_fmt": v.codec_context.pix_fmt,
                 "codec": v.codec_context.name}
        frames, times, rotation = [], [], 0
        for f in c.decode(v):
            rotation = int(round(f.rotation)) % 360
            arr = f.to_ndarray(format="rgb24")
            frames.append(np.rot90(arr, rotation // 90) if rotation else arr)
            times.append(float(f.time))
        facts["rotation"] = rotation
        facts["size"] = (v.codec_context.width, v.codec_context.height)
    return frames, times, facts


def read_audio(path: Path) -> tuple[np.ndarray, list[bytes]]:
    """All audio samples (mono float) and the raw packets of the first audio stream."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        packets = [bytes(p) for p in c.demux(a) if p.size]
    with av.open(str(path)) as c:
        chunks = [f.to_ndarray().astype(np.float32).reshape(-1) for f in c.decode(c.streams.audio[0])]
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples, packets
