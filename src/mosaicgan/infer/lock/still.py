"""Locked images: the anonymized file with the sealed original pixels of its regions inside (or
in NAME.ext.locked beside it), and the way back with the private key.

Locking encodes the anonymized image in memory first, because the payload is bound to the
pixels a reader will decode from that file (a JPEG's are not the array it was made from):
encode, decode, hash, seal, put the payload in, write once, atomically. A sidecar is written
before the image, so that no anonymized file exists without its originals.

Unlocking pastes the original pixels back into the decoded file: inside every region they are
the original's bit for bit. A JPEG unlocks to NAME.png: re-encoding as JPEG would change the
originals just restored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from mosaicgan.infer.image_io import SAVE_OPTIONS
from mosaicgan.infer.lock.options import sidecar_path
from mosaicgan.lock import containers
from mosaicgan.lock.identity import image_digest
from mosaicgan.lock.keys import show_fingerprint
from mosaicgan.lock.payload import Patch, PayloadError, pack, unpack
from mosaicgan.lock.seal import LockError, open_sealed, read_header, seal
from mosaicgan.ops.masks import mask_to_boxes


@dataclass(frozen=True)
class Locked:
    """What `lock_image` wrote: the image, its sidecar (or None), how many region crops the
    payload holds and its sealed size in bytes."""

    path: Path
    sidecar: Path | None
    patches: int
    sealed_bytes: int


def _pil(image: np.ndarray, alpha: Image.Image | None) -> Image.Image:
    from mosaicgan.data.images import uint8_to_pil

    img = uint8_to_pil(image)
    if alpha is not None:
        img.putalpha(alpha)
    return img


def encode(img: Image.Image, path: Path, options: dict | None = None) -> bytes:
    """The bytes `save_image` would write to `path` (its format, SAVE_OPTIONS plus `options`)."""
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise UserError("unknown image extension for output", path=path)
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **{**SAVE_OPTIONS.get(path.suffix.lower(), {}), **(options or {})})
    return buf.getvalue()


def region_patches(original: Image.Image, region: torch.Tensor, *, mode: str) -> list[Patch]:
    """The original pixels of each connected part of `region` (H, W; > 0 inside), by its
    bounding box, in `mode` (the anonymized file's, so the channels match when pasted back)."""
    arr = np.asarray(original if original.mode == mode else original.convert(mode))
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    return [Patch(0, b.x0, b.y0, np.ascontiguousarray(arr[b.y0:b.y1, b.x0:b.x1])) for b in mask_to_boxes(region)]


def lock_image(original: np.ndarray, anonymized: np.ndarray, region: torch.Tensor, path: Path, *, recipient,
               alpha: Image.Image | None = None, sidecar: bool = False, options: dict | None = None,
               source: str | None = None) -> Locked:
    """Write `anonymized` (H, W, C) uint8 to `path` with the original pixels of `region` (H, W,
    > 0 where the cover changed pixels: the applied mask) sealed to `recipient`, inside the file
    or, with `sidecar` or a format that cannot hold it, in NAME.ext.locked."""
    data = encode(_pil(anonymized, alpha), path, options)
    with Image.open(io.BytesIO(data)) as decoded:
        mode, size = decoded.mode, decoded.size
    patches = region_patches(_pil(original, alpha), region, mode=mode)
    info = {"kind": "image", "width": size[0], "height": size[1], "mode": mode}
    if source is not None:
        info["source"] = source
    blob = seal(pack(patches, info=info), recipient=recipient, binding=image_digest(data))
    side = None
    if not sidecar and containers.sniff(data) is not None:
        data = containers.embed(data, blob)
    else:
        side = sidecar_path(path)
        with atomic_path(side) as tmp:
            tmp.write_bytes(blob)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Locked(path, side, len(patches), len(blob))


def find_payload(path: Path, data: bytes) -> tuple[bytes, str] | None:
    """(sealed payload, "inside" or "sidecar") of an image file, or None when it has none."""
    try:
        blob = containers.extract(data)
    except containers.ContainerError as err:
        raise UserError(f"damaged file ({err})", path=path) from None
    if blob is not None:
        return blob, "inside"
    side = sidecar_path(path)
    if side.is_file():
        return side.read_bytes(), "sidecar"
    return None


def lock_status(path: Path) -> dict | None:
    """What `info` says about an image's lock: the key's fingerprint, where the payload is and
    its size; None when the file is not locked. Needs no key."""
    data = Path(path).read_bytes()
    found = find_payload(path, data)
    if found is None:
        return None
    blob, where = found
    try:
        header = read_header(blob)
    except LockError as err:
        return {"where": where, "error": str(err)}
    return {"fingerprint": show_fingerprint(header.recipient), "where": where, "bytes": len(blob),
            "version": header.version}


@dataclass
class Unlocked:
    """The image with its original pixels back, how many regions (and their boxes, x0, y0, x1,
    y1, cut to the image), and where the payload was."""

    image: Image.Image
    patches: int
    where: str
    info: dict
    boxes: list[tuple[int, int, int, int]]


def unlock_image(path: Path, *, private_key) -> Unlocked:
    """The locked image `path` with the original pixels of its regions put back. A one-line
    UserError (nothing returned) for a file that is not locked, another key, another file's
    payload, a truncated or altered payload."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UserError(f"cannot read ({err.strerror})", path=path) from None
    found = find_payload(path, data)
    if found is None:
        raise UserError(f"not locked (no payload inside, and no {sidecar_path(path).name} beside it)", path=path)
    blob, where = found
    try:
        binding = image_digest(data)
    except (OSError, SyntaxError, ValueError) as err:
        raise UserError(f"cannot decode image ({err})", path=path) from None
    try:
        info, patches = unpack(open_sealed(blob, private_key=private_key, binding=binding))
    except LockError as err:
        raise UserError(str(err), path=path) from None
    except PayloadError as err:
        raise UserError(f"the locked payload is damaged ({err})", path=path) from None
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        mode = img.mode
        arr = np.array(img)
    if (info.get("width"), info.get("height")) != (arr.shape[1], arr.shape[0]) or info.get("mode") != mode:
        raise UserError("the locked payload does not match this image's size or mode", path=path)
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    boxes = []
    for patch in patches:
        if patch.pixels.shape[2] != arr.shape[2]:
            raise UserError("the locked payload does not match this image's channels", path=path)
        patch.paste(arr)
        h, w = patch.pixels.shape[:2]
        boxes.append((patch.x, patch.y, min(patch.x + w, arr.shape[1]), min(patch.y + h, arr.shape[0])))
    image = Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode)
    return Unlocked(image, len(patches), where, info, boxes)


def unlocked_name(path: Path) -> str:
    """The unlocked file's name: the same, except a JPEG becomes NAME.png (lossless, so the
    restored originals stay exact)."""
    fmt = Image.registered_extensions().get(path.suffix.lower(), "")
    return f"{path.stem}.png" if fmt == "JPEG" else path.name


def unlock_statement(fingerprint: str, medium: str = "image") -> str:
    return (f"The regions of this {medium} that mosaicgan had anonymized hold their original pixels again, "
            f"restored with the private key {fingerprint}. Nothing in it is synthesized.")


def unlock_record(*, fingerprint: str, regions: int | None = None, source: str | None = None,
                  medium: str = "image") -> dict:
    """The provenance record an unlocked file carries (`provenance.format_record` prints it)."""
    from mosaicgan import __version__

    record = {"software": f"mosaicgan {__version__}", "operation": "unlock", "synthesized": False,
              "statement": unlock_statement(fingerprint, medium), "key": fingerprint}
    if regions is not None:
        record["regions"] = regions
    if source is not None:
        record["source_file"] = source
    return record


def write_unlocked(unlocked: Unlocked, out: Path, *, fingerprint: str, source: str | None = None) -> Path:
    """Write an unlocked image atomically, lossless in its format, saying what it is in its metadata."""
    from mosaicgan.data.images import save_image
    from mosaicgan.infer.provenance import metadata_save_options

    fmt = Image.registered_extensions().get(out.suffix.lower(), "")
    record = unlock_record(fingerprint=fingerprint, regions=unlocked.patches, source=source)
    return save_image(unlocked.image, out, **{**SAVE_OPTIONS.get(out.suffix.lower(), {}),
                                               **metadata_save_options(fmt, record)})
