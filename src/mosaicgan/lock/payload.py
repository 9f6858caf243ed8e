"""The plaintext of a lock: the original pixels of every anonymized region, losslessly.

    magic "MGPL", version (1 byte), info length (4 bytes), info (UTF-8 JSON: what the patches
    belong to, e.g. {"kind": "image", "width": W, "height": H, "channels": C})
    patches, each: frame, x, y (4 bytes each), channels (1 byte), PNG length (4 bytes), a PNG
    end: frame 0xFFFFFFFF, then zero padding

A patch is a rectangle of one frame (an image is frame 0) as it was before anonymization:
(h, w, C) uint8 or uint16, C in 1, 3, 4, compressed as a PNG (lossless, and PNG's filters suit
photographs better than plain deflate). Patches are in frame order, so a video's payload is
read in step with its frames. The padding rounds the length up to a step of at most 1/16 of
it, so the sealed size says little about how detailed the regions are.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

MAGIC = b"MGPL"
VERSION = 1
_PATCH = struct.Struct(">IIIBI")
_END = 0xFFFFFFFF
PNG_LEVEL = 6


class PayloadError(ValueError):
    """A payload that decrypted but does not parse: a bug or a forgery, never a wrong key."""


@dataclass(frozen=True)
class Patch:
    """pixels: (h, w, C) uint8 or uint16 with C in 1, 3, 4, placed with its top-left at (x, y)
    of frame `frame`."""

    frame: int
    x: int
    y: int
    pixels: np.ndarray

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] not in (1, 3, 4) or p.dtype not in (np.uint8, np.uint16) or 0 in p.shape[:2]:
            raise ValueError(f"a patch is (h, w, C) uint8/uint16 with C in 1, 3, 4; got {p.dtype} {p.shape}")
        if min(self.frame, self.x, self.y) < 0 or self.frame >= _END:
            raise ValueError(f"a patch's frame and position must be >= 0, got {self.frame}, {self.x}, {self.y}")

    def paste(self, frame: np.ndarray) -> None:
        """Put the pixels back into `frame` (H, W, C), in place (cut to the frame)."""
        h, w = self.pixels.shape[:2]
        region = frame[self.y:self.y + h, self.x:self.x + w]
        region[...] = self.pixels[:region.shape[0], :region.shape[1]].reshape(region.shape)


def padded_length(n: int) -> int:
    """n rounded up to a multiple of max(1 KiB, the largest power of two <= n / 16)."""
    step = max(1024, 1 << max(0, n.bit_length() - 5))
    return -(-n // step) * step


class PayloadWriter:
    """Writes a payload through `write` as patches come (a video's come frame by frame)."""

    def __init__(self, write: Callable[[bytes], object], *, info: dict, level: int = PNG_LEVEL) -> None:
        self.write, self.level, self.size, self.patches = write, level, 0, 0
        self._last_frame = 0
        text = json.dumps(info, sort_keys=True).encode("utf-8")
        self._put(MAGIC + bytes([VERSION]) + struct.pack(">I", len(text)) + text)

    def _put(self, data: bytes) -> None:
        self.write(data)
        self.size += len(data)

    def add(self, patch: Patch) -> None:
        if patch.frame < self._last_frame:
            raise ValueError(f"patches must come in frame order ({patch.frame} after {self._last_frame})")
        self._last_frame = patch.frame
        ok, png = cv2.imencode(".png", patch.pixels, [cv2.IMWRITE_PNG_COMPRESSION, self.level])
        if not ok:
            raise ValueError("PNG encoding of a patch failed")
        data = png.tobytes()
        self._put(_PATCH.pack(patch.frame, patch.x, patch.y, patch.pixels.shape[2], len(data)) + data)
        self.patches += 1

    def finish(self) -> int:
        """Write the end mark and the padding; returns the payload's length."""
        self._put(struct.pack(">I", _END))
        self._put(bytes(padded_length(self.size) - self.size))
        return self.size


def pack(patches: Iterable[Patch], *, info: dict, level: int = PNG_LEVEL) -> bytes:
    parts: list[bytes] = []
    writer = PayloadWriter(parts.append, info=info, level=level)
    for patch in patches:
        writer.add(patch)
    writer.finish()
    return b"".join(parts)


class PayloadReader:
    """Reads a payload from an iterator of byte strings (e.g. `seal.open_stream`): `info` at
    once, then `patches()` in order."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = bytearray()
        self._pos = 0
        head = self._take(len(MAGIC) + 5)
        if head[:len(MAGIC)] != MAGIC:
            raise PayloadError("not a mosaicgan lock payload inside")
        if head[len(MAGIC)] != VERSION:
            raise PayloadError(f"payload version {head[len(MAGIC)]} is not known to this mosaicgan; update it")
        (size,) = struct.unpack(">I", head[len(MAGIC) + 1:])
        try:
            self.info = json.loads(self._take(size).decode("utf-8"))
        except ValueError:
            raise PayloadError("the payload's description does not parse") from None

    def _take(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                raise PayloadError("the payload ends early") from None
            del self._buf[:self._pos]
            self._pos = 0
            self._buf += chunk
        out = bytes(self._buf[self._pos:self._pos + n])
        self._pos += n
        return out

    def drain(self) -> None:
        """Read the source to its end without decoding patches (a source that authenticates, as
        `seal.open_stream`, then has checked every chunk)."""
        for _ in self._chunks:
            pass

    def patches(self) -> Iterator[Patch]:
        while True:
            (frame,) = struct.unpack(">I", self._take(4))
            if frame == _END:
                self.drain()  # the source authenticates its last chunk only when read
                return
            x, y, channels, n = struct.unpack(">IIBI", self._take(_PATCH.size - 4))
            pixels = cv2.imdecode(np.frombuffer(self._take(n), np.uint8), cv2.IMREAD_UNCHANGED)
            if pixels is None:
                raise PayloadError("a patch of the payload does not decode")
            yield Patch(frame, x, y, pixels.reshape(pixels.shape[0], pixels.shape[1], channels))


def unpack(data: bytes) -> tuple[dict, list[Patch]]:
    reader = PayloadReader([data])
    return reader.info, list(reader.patches())
