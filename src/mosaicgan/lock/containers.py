"""Where a sealed payload lives inside an image file: pure byte-string edits, no decoding.

Each format's own extension mechanism, one that readers which do not know it skip:
- PNG: private ancillary chunks "mgLK" before IEND, at most 4 MiB each (libpng refuses
  ancillary chunks over 8 MB by default). The chunk is marked unsafe to copy: an editor that
  changes the pixels should drop it (the payload would no longer fit them anyway).
- JPEG: APP15 segments after the other APPn segments, each "MOSAICGAN-LOCK\\0", its index and
  the count (2 bytes each) and up to 65514 payload bytes (a segment holds at most 64 KiB).
- WebP: a RIFF chunk "MGLK" at the end; a simple (VP8 / VP8L only) file is first made an
  extended one (a VP8X chunk in front), since only those may carry other chunks.
- TIFF: a private tag (65117, UNDEFINED) in the first IFD, written as a copy of that IFD at the
  end of the file, with the payload before it (the pixels and every other tag stay where they are).
Other formats (BMP, the Netpbm family) have no place for it: the caller writes a sidecar.
`embed` refuses a file that already holds a payload; `extract` returns None when there is none.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHUNK = b"mgLK"
PNG_PART = 4 << 20
JPEG_ID = b"MOSAICGAN-LOCK\x00"
JPEG_MARKER = 0xEF  # APP15
JPEG_PART = 0xFFFF - 2 - len(JPEG_ID) - 4
WEBP_CHUNK = b"MGLK"
TIFF_TAG = 65117
FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")


class ContainerError(ValueError):
    """The file's structure does not parse where the payload goes (a damaged file)."""


def sniff(data: bytes) -> str | None:
    """The format among FORMATS by the first bytes, or None."""
    if data.startswith(PNG_SIGNATURE):
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def embed(data: bytes, blob: bytes) -> bytes:
    """`data` (a whole image file) with `blob` put inside it."""
    fmt = sniff(data)
    if fmt is None:
        raise ContainerError("this image format has no place for a payload (use a sidecar)")
    if extract(data) is not None:
        raise ContainerError("the file already holds a locked payload")
    return {"PNG": _png_embed, "JPEG": _jpeg_embed, "WEBP": _webp_embed, "TIFF": _tiff_embed}[fmt](data, blob)


def extract(data: bytes) -> bytes | None:
    """The payload inside an image file, or None."""
    fmt = sniff(data)
    if fmt is None:
        return None
    return {"PNG": _png_extract, "JPEG": _jpeg_extract, "WEBP": _webp_extract, "TIFF": _tiff_extract}[fmt](data)


# PNG ------------------------------------------------------------------------------------


def _png_chunks(data: bytes):
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ContainerError(f"PNG chunk {kind!r} runs past the end of the file")
        yield pos, kind, data[pos + 8:pos + 8 + length], end
        if kind == b"IEND":
            return
        pos = end
    raise ContainerError("PNG without an IEND chunk (truncated?)")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_embed(data: bytes, blob: bytes) -> bytes:
    for pos, kind, _, _ in _png_chunks(data):
        if kind == b"IEND":
            parts = [_png_chunk(PNG_CHUNK, blob[i:i + PNG_PART]) for i in range(0, max(len(blob), 1), PNG_PART)]
            return data[:pos] + b"".join(parts) + data[pos:]
    raise ContainerError("PNG without an IEND chunk")


def _png_extract(data: bytes) -> bytes | None:
    parts = [body for _, kind, body, _ in _png_chunks(data) if kind == PNG_CHUNK]
    return b"".join(parts) if parts else None


# JPEG -----------------------------------------------------------------------------------


def _jpeg_segments(data: bytes):
    """(position, marker, body, end) of each segment before the image data (SOS)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ContainerError("JPEG segment does not start with a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ContainerError("JPEG segment runs past the end of the file")
        yield pos, marker, data[pos + 4:end], end
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        pos = end


def _jpeg_embed(data: bytes, blob: bytes) -> bytes:
    count = max(1, -(-len(blob) // JPEG_PART))
    if count > 0xFFFF:
        raise ContainerError("the payload is too large for JPEG segments (use a sidecar)")
    segments = b"".join(
        b"\xff" + bytes([JPEG_MARKER]) + struct.pack(">H", 2 + len(JPEG_ID) + 4 + len(part)) + JPEG_ID
        + struct.pack(">HH", i, count) + part
        for i, part in enumerate(blob[k:k + JPEG_PART] for k in range(0, count * JPEG_PART, JPEG_PART)))
    where = 2
    for _, marker, _, end in _jpeg_segments(data):
        if 0xE0 <= marker <= 0xEF:
            where = end  # after the other application segments (JFIF, EXIF, ICC, XMP)
        else:
            break
    return data[:where] + segments + data[where:]


def _jpeg_extract(data: bytes) -> bytes | None:
    parts: dict[int, bytes] = {}
    count = None
    for _, marker, body, _ in _jpeg_segments(data):
        if marker == JPEG_MARKER and body.startswith(JPEG_ID):
            index, count = struct.unpack(">HH", body[len(JPEG_ID):len(JPEG_ID) + 4])
            parts[index] = body[len(JPEG_ID) + 4:]
    if count is None:
        return None
    # Missing segments leave the payload short: `seal` reports it as truncated.
    return b"".join(parts[i] for i in range(count) if i in parts)


# WebP -----------------------------------------------------------------------------------


def _riff_chunks(data: bytes):
    pos = 12
    end_of_file = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while pos + 8 <= end_of_file:
        kind = data[pos:pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4:pos + 8])
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > end_of_file:
            raise ContainerError(f"WebP chunk {kind!r} runs past the end of the file")
        yield pos, kind, data[pos + 8:pos + 8 + size], end
        pos = end


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def _webp_embed(data: bytes, blob: bytes) -> bytes:
    chunks = list(_riff_chunks(data))
    body = data[12:chunks[-1][3]] if chunks else b""
    if chunks and chunks[0][1] != b"VP8X":
        body = _vp8x_for(chunks[0][1], chunks[0][2]) + body
    body += _riff_chunk(WEBP_CHUNK, blob)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _vp8x_for(kind: bytes, bitstream: bytes) -> bytes:
    """The VP8X chunk that makes a simple WebP (one VP8 or VP8L chunk) an extended one."""
    if kind == b"VP8L":
        if len(bitstream) < 5 or bitstream[0] != 0x2F:
            raise ContainerError("damaged VP8L header")
        bits = int.from_bytes(bitstream[1:5], "little")
        width, height, alpha = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, (bits >> 28) & 1
    elif kind == b"VP8 ":
        if len(bitstream) < 10 or bitstream[3:6] != b"\x9d\x01\x2a":
            raise ContainerError("damaged VP8 header")
        width = int.from_bytes(bitstream[6:8], "little") & 0x3FFF
        height = int.from_bytes(bitstream[8:10], "little") & 0x3FFF
        alpha = 0
    else:
        raise ContainerError(f"unexpected first WebP chunk {kind!r}")
    flags = 0x10 if alpha else 0
    return _riff_chunk(b"VP8X", bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
                       + (height - 1).to_bytes(3, "little"))


def _webp_extract(data: bytes) -> bytes | None:
    for _, kind, body, _ in _riff_chunks(data):
        if kind == WEBP_CHUNK:
            return body
    return None


# TIFF -----------------------------------------------------------------------------------


def _tiff_layout(data: bytes) -> tuple[str, int]:
    order = "<" if data[:2] == b"II" else ">"
    (first,) = struct.unpack(order + "I", data[4:8])
    if not 8 <= first <= len(data) - 2:
        raise ContainerError("TIFF's first IFD lies outside the file")
    return order, first


def _tiff_entries(data: bytes, order: str, ifd: int) -> tuple[list[bytes], int]:
    (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
    end = ifd + 2 + 12 * count
    if end + 4 > len(data):
        raise ContainerError("TIFF IFD runs past the end of the file")
    entries = [data[ifd + 2 + 12 * i:ifd + 14 + 12 * i] for i in range(count)]
    (next_ifd,) = struct.unpack(order + "I", data[end:end + 4])
    return entries, next_ifd


def _tiff_embed(data: bytes, blob: bytes) -> bytes:
    order, first = _tiff_layout(data)
    entries, next_ifd = _tiff_entries(data, order, first)
    out = bytearray(data)
    if len(out) & 1:
        out += b"\x00"  # TIFF offsets are word-aligned
    where = len(out)
    out += blob + (b"\x00" if len(blob) & 1 else b"")
    entry = struct.pack(order + "HHII", TIFF_TAG, 7, len(blob), where)  # 7: UNDEFINED bytes
    tags = sorted(entries + [entry], key=lambda e: struct.unpack(order + "H", e[:2])[0])
    new_ifd = len(out)
    if new_ifd + 6 + 12 * len(tags) > 0xFFFFFFFF:
        raise ContainerError("the payload makes the TIFF file too large (use a sidecar)")
    out += struct.pack(order + "H", len(tags)) + b"".join(tags) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", new_ifd)
    return bytes(out)


def _tiff_extract(data: bytes) -> bytes | None:
    order, first = _tiff_layout(data)
    entries, _ = _tiff_entries(data, order, first)
    for e in entries:
        tag, kind, count, offset = struct.unpack(order + "HHII", e)
        if tag == TIFF_TAG:
            if kind != 7 or offset + count > len(data):
                raise ContainerError("TIFF lock tag is damaged")
            return data[offset:offset + count] if count > 4 else e[8:8 + count]
    return None
