"""What a file is, by its first bytes: an image, a video (or audio) file, or neither.

Inputs of the media commands are told apart by content, not by name, so a folder may mix
photos and clips, a video named `.dat` is still a video, and an image named `.mp4` is still an
image. Only where the first bytes say nothing (a truncated or corrupt file) does the name
decide, so that the reader named by it gives its one-line error ("not a readable video")
rather than the other reader's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

FileKind = Literal["image", "video"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# Names that say video when the content does not (a file cut short before its header).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg",
                    ".ogv", ".flv", ".3gp", ".wmv")

# ISO base media files (MP4's `ftyp` box) whose brand is a still image (HEIF, AVIF).
_FTYP_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
# First bytes of the image formats Pillow reads that inputs come in.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
_NETPBM = re.compile(rb"^P[1-7]\s")

# A data set's license has to travel with it (Apache-2.0 and most other licenses say so): a
# file named like one is the only non-image file a data or input folder may hold; it is skipped.
_LICENSE_NAME = re.compile(r"^(licen[cs]e|copying|notice)(\.(txt|md|rst))?$", re.IGNORECASE)


def is_license_name(path: str | Path) -> bool:
    return bool(_LICENSE_NAME.match(Path(path).name))


def _head(path: str | Path, size: int = 32) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return None


def _media_head(path: str | Path, head: bytes) -> bool:
    if len(head) < 12:
        return False
    if head[4:8] == b"ftyp":
        return head[8:12] not in _FTYP_IMAGE_BRANDS
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return True
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, WebM
        return True
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"WAVE"):
        return True
    if head[0] == 0x47 and not head.startswith((b"GIF87a", b"GIF89a")):  # MPEG-TS sync byte, confirmed later
        return _probe_ts(path)
    if head[:4] == b"\x00\x00\x01\xba":  # MPEG program stream (.mpg)
        return True
    return head[:4] in (b"OggS", b"fLaC") or head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3")


def _probe_ts(path: str | Path) -> bool:
    with open(path, "rb") as f:
        data = f.read(188 * 3 + 1)
    return len(data) > 188 * 2 and data[188] == 0x47 and data[376] == 0x47


def is_media_content(path: str | Path) -> bool:
    """True for an MP4/MOV/M4A, Matroska/WebM, AVI, MPEG-TS/PS, Ogg, WAV, MP3 or FLAC file, by content."""
    head = _head(path)
    return head is not None and _media_head(path, head)


def _image_head(path: str | Path, head: bytes) -> bool:
    if head.startswith(_IMAGE_MAGIC) or _NETPBM.match(head):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    # Anything else Pillow can identify from its header (it reads a few bytes, decodes nothing).
    from PIL import Image

    try:
        with Image.open(path):
            return True
    except Exception:  # noqa: BLE001  (Pillow raises many kinds for what is not an image)
        return False


def file_kind(path: str | Path) -> FileKind | None:
    """"video" (or audio: the video reader says "no video stream"), "image", or None for a
    file that is neither, by content; by name where the content says nothing."""
    head = _head(path)
    if head is None:
        return None
    if _media_head(path, head):
        return "video"
    if _image_head(path, head):
        return "image"
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS or suffix == ".gif":
        return "image"
    return None


def is_media_file(path: str | Path) -> bool:
    """Whether `path` goes to the video reader: a video or audio file by content, or a file whose
    content says nothing and whose name is a video's."""
    return file_kind(path) == "video"
