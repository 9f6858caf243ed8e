"""Whether a video file holds all the bytes its container declares: the container's own
evidence of a file cut short (a copy or a download that stopped), read from its top-level
structure before anything is decoded.

- MP4/MOV (ISO base media): every top-level box states its size; the last one must end
  within the file (the `mdat` of a cut file runs past its end).
- Matroska/WebM: the Segment element states its size (unless the writer could not seek back
  to fill it in: "unknown", then nothing can be told from here).
- AVI: each RIFF chunk ('AVI ', then 'AVIX' for OpenDML files over 1 GB) states its size.

Decoding alone cannot tell: a cut file decodes without an error, only to fewer frames, and
the counts in headers are not comparable across containers (AVI counts in its time base's
ticks; Matroska has none). Other containers (MPEG-TS, Ogg) declare no size; there the time
of the last frame is compared with the duration (`VideoInput._check_complete`).
"""

from __future__ import annotations

import struct
from pathlib import Path


def declared_size(path: str | Path, fmt: str) -> int | None:
    """The size in bytes the container at `path` declares for itself (FFmpeg format name
    `fmt`), or None when it declares none or the structure cannot be read here."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if "mp4" in fmt or "mov" in fmt:
                return _iso_end(f, size)
            if "matroska" in fmt or "webm" in fmt:
                return _matroska_end(f)
            if fmt == "avi":
                return _riff_end(f, size)
    except (OSError, struct.error, ValueError):
        return None
    return None


def _iso_end(f, size: int) -> int | None:
    pos = 0
    while pos + 8 <= size:
        f.seek(pos)
        length, kind = struct.unpack(">I4s", f.read(8))
        if length == 1:  # a 64-bit size follows the type
            length = struct.unpack(">Q", f.read(8))[0]
        elif length == 0:  # the box runs to the end of the file
            return size
        if length < 8 or not kind.isascii():
            return None  # not a box structure this reader understands
        pos += length
    return pos if pos >= size else None


def _vint(f) -> tuple[int, int, bool]:
    """An EBML variable-length integer: (value, its length in bytes, all value bits set)."""
    first = f.read(1)[0]
    length, mask = 1, 0x80
    while length <= 8 and not first & mask:
        length, mask = length + 1, mask >> 1
    if length > 8:
        raise ValueError("not an EBML number")
    value = first & (mask - 1)
    for byte in f.read(length - 1):
        value = (value << 8) | byte
    return value, length, value == (1 << (7 * length)) - 1


def _matroska_end(f) -> int | None:
    f.seek(0)
    if f.read(4) != b"\x1a\x45\xdf\xa3":
        return None
    header, _, _ = _vint(f)
    f.seek(header, 1)
    if f.read(4) != b"\x18\x53\x80\x67":  # Segment
        return None
    size, _, unknown = _vint(f)
    return None if unknown else f.tell() + size


def _riff_end(f, size: int) -> int | None:
    pos, end = 0, None
    while pos + 12 <= size:
        f.seek(pos)
        tag, length, kind = struct.unpack("<4sI4s", f.read(12))
        if tag != b"RIFF" or kind not in (b"AVI ", b"AVIX"):
            break  # what follows the last RIFF chunk (padding some writers add) is not declared
        end = pos + 8 + length
        pos = end + (length & 1)  # (a pad byte after an odd size; a writer may leave the last one out)
    return end
