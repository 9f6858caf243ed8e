"""Locked videos: while `add` covers a video's frames, the original pixels of every covered part
of every frame go into an encrypted spool (`PatchRecorder`); once the video is encoded they are
sealed to the key and put at the end of the file (MP4/MOV: a `uuid` box, `lock/bmff.py`) or in
NAME.ext.locked beside it (other containers, or --lock-sidecar), before the file takes its name.

`remove --unlock` decodes the locked video and pastes the originals back frame by frame; the
result is encoded losslessly (H.264 in RGB at quality 0, libx264rgb), so inside every region the
decoded frames are the decoded input frames, bit for bit. Outside the regions they are the locked
file's (lossy once, as `add` wrote them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.lock.options import sidecar_path, video_embeds
from mosaicgan.infer.video.encode import EncodeOptions
from mosaicgan.lock import bmff
from mosaicgan.lock.identity import video_digest
from mosaicgan.lock.keys import show_fingerprint
from mosaicgan.lock.payload import Patch, PayloadError, PayloadReader, PayloadWriter
from mosaicgan.lock.seal import LockError, open_stream, read_header, seal_stream, sealed_size
from mosaicgan.lock.spool import EncryptedSpool
from mosaicgan.ops.masks import Box, mask_to_boxes

# The unlocked video: lossless RGB, so the originals put back stay exact.
UNLOCK_ENCODE = EncodeOptions(codec="libx264rgb", crf=0, preset="fast")
# PNG effort for the frames' patches: a video has many; level 3 is several times faster than 6
# for a few per cent more bytes.
VIDEO_PNG_LEVEL = 3


class PatchRecorder:
    """The original pixels of the covered parts of a video's frames, in frame order, kept in an
    encrypted spool in `folder` until `seal_into`."""

    def __init__(self, *, folder: Path, width: int, height: int, source: str | None = None) -> None:
        self.spool = EncryptedSpool(folder=folder)
        info = {"kind": "video", "width": width, "height": height}
        if source is not None:
            info["source"] = source
        self.writer = PayloadWriter(self.spool.write, info=info, level=VIDEO_PNG_LEVEL)
        self.frames = 0
        self._last: tuple[int, list[Box]] | None = None  # (id of the mask, its boxes): a fixed mask is cut once

    def record(self, index: int, frame: np.ndarray, mask: torch.Tensor, *, margin: int) -> None:
        """Keep the pixels of `frame` (H, W, 3) that a cover of `mask` (H, W) can change: each
        connected part's box, widened by `margin` (grow + feather). Call before covering."""
        if self._last is not None and self._last[0] == id(mask):
            boxes = self._last[1]
        else:
            height, width = frame.shape[:2]
            boxes = [Box(max(0, b.x0 - margin), max(0, b.y0 - margin), min(width, b.x1 + margin),
                         min(height, b.y1 + margin)) for b in mask_to_boxes(mask)]
            self._last = (id(mask), boxes)
        for b in boxes:
            self.writer.add(Patch(index, b.x0, b.y0, np.ascontiguousarray(frame[b.y0:b.y1, b.x0:b.x1])))
        self.frames += bool(boxes)

    def seal_into(self, video: Path, *, out: Path, recipient, sidecar: bool) -> tuple[int, Path | None]:
        """Seal what was recorded to `recipient`, bound to the encoded `video` (the complete
        temporary file that becomes `out`): appended to it, or written to `out`'s sidecar.
        Returns (sealed bytes, the sidecar or None)."""
        length = self.writer.finish()
        read = self.spool.reader()
        binding = video_digest(video)
        try:
            if not sidecar and video_embeds(out):
                with open(video, "r+b") as f:
                    bmff.append(f, sealed_size(length))
                    size = seal_stream(read, length, f.write, recipient=recipient, binding=binding)
                return size, None
            side = sidecar_path(out)
            with atomic_path(side) as tmp, open(tmp, "wb") as f:
                size = seal_stream(read, length, f.write, recipient=recipient, binding=binding)
            return size, side
        finally:
            self.spool.close()

    def close(self) -> None:
        self.spool.close()


@dataclass(frozen=True)
class VideoPayload:
    """Where a locked video's sealed payload is: the file, its offset and length."""

    file: Path
    offset: int
    length: int
    where: str  # "inside" or "sidecar"

    def read(self) -> Callable[[int], bytes]:
        """A read(n) over the payload's bytes; call its `close()` when done."""
        f = open(self.file, "rb")
        f.seek(self.offset)
        left = [self.length]

        def read(n: int) -> bytes:
            data = f.read(min(n, left[0]))
            left[0] -= len(data)
            return data

        read.close = f.close  # type: ignore[attr-defined]
        return read


def find_video_payload(path: Path) -> VideoPayload | None:
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
        if bmff.is_bmff(head):
            try:
                found = bmff.find(f)
            except bmff.BoxError as err:
                raise UserError(f"damaged file ({err})", path=path) from None
            if found is not None:
                return VideoPayload(path, found[0], found[1], "inside")
    side = sidecar_path(path)
    if side.is_file():
        return VideoPayload(side, 0, side.stat().st_size, "sidecar")
    return None


def video_lock_status(path: Path) -> dict | None:
    """What `info` says about a video's lock (no key needed); None when it is not locked."""
    payload = find_video_payload(path)
    if payload is None:
        return None
    read = payload.read()
    try:
        header = read_header(read(256))
    except LockError as err:
        return {"where": payload.where, "error": str(err)}
    finally:
        read.close()
    return {"fingerprint": show_fingerprint(header.recipient), "where": payload.where, "bytes": payload.length,
            "version": header.version}


def _chunks(path: Path, payload: VideoPayload, *, private_key, binding: bytes) -> Iterator[bytes]:
    read = payload.read()
    try:
        yield from open_stream(read, payload.length, private_key=private_key, binding=binding)
    except LockError as err:
        raise UserError(str(err), path=path) from None
    finally:
        read.close()


def check_unlock_video(path: Path, *, private_key, size: tuple[int, int]) -> VideoPayload:
    """The whole payload opens with the key and belongs to this video of `size` (width, height);
    every chunk is authenticated (nothing is written yet)."""
    payload = find_video_payload(path)
    if payload is None:
        raise UserError(f"not locked (no payload inside, and no {sidecar_path(path).name} beside it)", path=path)
    binding = video_digest(path)
    try:
        reader = PayloadReader(_chunks(path, payload, private_key=private_key, binding=binding))
        info = reader.info
        reader.drain()
    except PayloadError as err:
        raise UserError(f"the locked payload is damaged ({err})", path=path) from None
    if info.get("kind") != "video" or (info.get("width"), info.get("height")) != tuple(size):
        raise UserError("the locked payload does not match this video's kind or frame size", path=path)
    return payload


def unlock_stage(path: Path, payload: VideoPayload, *, private_key, result):
    """The frame stage of `remove --unlock` on a video: each frame gets its original pixels back."""
    def stage(frames, emit) -> None:
        reader = PayloadReader(_chunks(path, payload, private_key=private_key, binding=video_digest(path)))
        patches = reader.patches()
        pending: Patch | None = next(patches, None)
        for index, pts, frame in frames:
            changed = False
            while pending is not None and pending.frame <= index:
                if pending.frame == index:
                    if pending.pixels.dtype != frame.dtype or pending.pixels.shape[2] != frame.shape[2]:
                        raise UserError("the locked payload does not match this video's pixels", path=path)
                    pending.paste(frame)
                    changed = True
                pending = next(patches, None)
            emit(pts, frame, changed)

    return stage


def unlock_tags(*, fingerprint: str, source: str | None = None) -> dict[str, str]:
    """Container metadata of an unlocked video (`info` reads the record under `mosaicgan`)."""
    import json

    from mosaicgan.infer.lock.still import unlock_record

    record = unlock_record(fingerprint=fingerprint, source=source, medium="video")
    return {"comment": record["statement"], "encoder": record["software"],
            "mosaicgan": json.dumps(record, sort_keys=True)}
