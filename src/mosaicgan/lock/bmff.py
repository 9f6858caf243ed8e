"""Where a sealed payload lives in an MP4 or MOV file: a top-level `uuid` box at the end.

ISO base media files are a sequence of boxes; players skip top-level boxes they do not know,
and a box appended after the last one moves nothing (the sample tables point into `mdat` by
absolute offsets, which stay valid). So the payload is added after the video is complete,
when the encoded stream it is bound to is known (`identity.video_digest`), without rewriting
the file. The box: size 1 + a 64-bit size, type "uuid", the 16-byte user type below, the payload.
Works on open binary files, so a long video's payload never has to be in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

USER_TYPE = bytes.fromhex("6d6f7361696367616e2d6c6f636b2d31")  # "mosaicgan-lock-1"
_HEAD = 8 + 8 + 16


class BoxError(ValueError):
    """The file is not a sequence of ISO boxes (damaged, or not MP4/MOV)."""


def is_bmff(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")


def _boxes(f: BinaryIO, *, cut: bool = False) -> Iterator[tuple[int, bytes, int, int]]:
    """(offset, type, header size, total size) of each top-level box. cut=True: a last box that
    runs past the end of the file (a truncated file) is given with the size that is there."""
    f.seek(0, 2)
    end = f.tell()
    pos = 0
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        head = 8
        if size == 1:
            (size,) = struct.unpack(">Q", f.read(8))
            head = 16
        elif size == 0:
            size = end - pos
        if size < head:
            raise BoxError(f"box {kind!r} at {pos} is damaged (size {size})")
        if pos + size > end:
            if not cut:
                raise BoxError(f"box {kind!r} at {pos} runs past the end of the file")
            size = end - pos
        yield pos, kind, head, size
        pos += size


def find(f: BinaryIO) -> tuple[int, int] | None:
    """(offset, length) of the payload in the file, or None. The payload of a file cut short is
    given as far as it goes (opening it then says it is truncated)."""
    for pos, kind, head, size in _boxes(f, cut=True):
        if kind == b"uuid":
            f.seek(pos + head)
            if f.read(16) == USER_TYPE:
                return pos + head + 16, size - head - 16
    return None


def append(f: BinaryIO, length: int) -> int:
    """Write the box header for a payload of `length` bytes at the end of `f` (opened r+b);
    the caller writes the payload after it. Returns the payload's offset. A last box of size
    0 ("to the end of the file") is given its size first, so it stops before the new box."""
    last = None
    for box in _boxes(f):
        last = box
    f.seek(0, 2)
    end = f.tell()
    if last is not None:
        pos, _, head, _ = last
        f.seek(pos)
        if head == 8 and struct.unpack(">I", f.read(4))[0] == 0:
            if end - pos > 0xFFFFFFFF:
                raise BoxError("a last box of unknown size over 4 GB cannot be closed")
            f.seek(pos)
            f.write(struct.pack(">I", end - pos))
    f.seek(end)
    f.write(struct.pack(">I4sQ", 1, b"uuid", _HEAD + length) + USER_TYPE)
    return end + _HEAD
