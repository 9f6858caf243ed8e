"""The identity a payload is bound to: what the anonymized file shows, not its name.

- An image: SHA-256 of its decoded pixels (mode, size, bytes), so metadata added or stripped
  later (a caption, EXIF) does not break the lock, while any change of a pixel does.
- A video: SHA-256 of its encoded video stream (every packet's bytes and timestamps, in file
  order): decoding a whole video twice to hash its pixels would cost more than the job, and
  the encoded stream changes whenever a frame does.
A payload opened against another file fails with `seal.OtherFile` before any decryption.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image


def image_digest(data: bytes) -> bytes:
    """The identity of an image file's pixels (any format Pillow reads), 32 bytes."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        digest = hashlib.sha256(f"mosaicgan-pixels-v1\x00{img.mode}\x00{img.width}x{img.height}\x00".encode())
        digest.update(img.tobytes())
    return digest.digest()


def video_digest(path: str | Path) -> bytes:
    """The identity of a video file's first video stream, 32 bytes."""
    import av

    digest = hashlib.sha256(b"mosaicgan-video-v1\x00")
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            digest.update(f"{packet.pts}:{packet.dts}:{packet.size}\x00".encode())
            digest.update(bytes(packet))
    return digest.digest()
