"""What a restored file says about itself: made by mosaicgan, with which restorer, and that
the restored regions are synthesized, not recovered. One home for writing and reading it.

Where it goes, by format (one JSON record, the same everywhere):
- PNG: an iTXt chunk "mosaicgan" (the record), plus "Software" and "Description" text chunks
  that any viewer shows;
- JPEG, WebP: EXIF ImageDescription (the statement), Software, UserComment (the record), and
  an XMP packet (dc:description, xmp:CreatorTool, and the record in mosaicgan:record);
- TIFF: the ImageDescription and Software tags;
- GIF: a comment extension (the statement, a newline, the record);
- BMP and the Netpbm formats carry no metadata: such outputs cannot say it (`remove` warns).
`read_provenance` finds the record in any of them.
"""

from __future__ import annotations

import json
import re
from html import escape, unescape
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from mosaicgan import __version__
from mosaicgan.errors import printable

KEY = "mosaicgan"


def restored_statement(medium: str = "image") -> str:
    """What every restored file says about itself; medium: what was restored ("image", "video")."""
    return (f"Regions of this {medium} were restored by mosaicgan: what is there is synthesized, "
            "not recovered. A mosaic destroys the detail it covers; this is an invention, and a "
            "restored face is not the person's face and must never be used to identify anyone.")


STATEMENT = restored_statement("image")
_EXIF_IFD = 0x8769
_IMAGE_DESCRIPTION = 0x010E
_SOFTWARE = 0x0131
_USER_COMMENT = 0x9286
_UNICODE = b"UNICODE\x00"  # EXIF UserComment character code: UCS-2 follows
_NO_METADATA = ("BMP", "PPM", "DIB")


def provenance_record(*, restorer: dict[str, str], regions: list[dict[str, Any]], source: str | None = None,
                      medium: str = "image") -> dict:
    """The record a restored file carries. restorer: `Restorer.describe()`. regions: one dict
    per restored region (box, grid, how it was found). medium: "image" or "video"."""
    record = {"software": f"mosaicgan {__version__}", "operation": "remove mosaic", "synthesized": True,
              "statement": restored_statement(medium), **restorer, "regions": regions}
    if source is not None:
        record["source_file"] = source
    return record


def carries_metadata(fmt: str) -> bool:
    return fmt.upper() not in _NO_METADATA


def metadata_save_options(fmt: str, record: dict) -> dict[str, Any]:
    """Keyword arguments for `Image.save` that write `record` into a file of Pillow format `fmt`."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    fmt = fmt.upper()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", record["software"])
        info.add_text("Description", record.get("statement", STATEMENT))
        info.add_itxt(KEY, text)
        return {"pnginfo": info}
    if fmt in ("JPEG", "WEBP", "MPO"):
        exif = Image.Exif()
        exif[_IMAGE_DESCRIPTION] = record.get("statement", STATEMENT)
        exif[_SOFTWARE] = record["software"]
        exif.get_ifd(_EXIF_IFD)[_USER_COMMENT] = _UNICODE + text.encode("utf-16-be")
        return {"exif": exif.tobytes(), "xmp": _xmp(record, text)}
    if fmt == "TIFF":
        return {"tiffinfo": {_IMAGE_DESCRIPTION: record.get("statement", STATEMENT) + "\n" + text,
                             _SOFTWARE: record["software"]}}
    if fmt == "GIF":
        return {"comment": (record.get("statement", STATEMENT) + "\n" + text).encode("utf-8")}
    return {}


def _xmp(record: dict, text: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:mosaicgan="https://example.org/mosaicgan/1.0/">'
        f'<xmp:CreatorTool>{escape(record["software"])}</xmp:CreatorTool>'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(record.get("statement", STATEMENT))}'
        '</rdf:li></rdf:Alt></dc:description>'
        f"<mosaicgan:record>{escape(text)}</mosaicgan:record>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode("utf-8")


def read_provenance(path: str | Path) -> dict | None:
    """The record a file carries, or None. A file that is not an image raises UserError."""
    from mosaicgan.data.images import read_image  # one-line errors for unreadable files

    path = Path(path)
    read_image(path, mode="RGB")
    with Image.open(path) as img:
        texts = []
        if KEY in getattr(img, "text", {}) or KEY in img.info:
            texts.append(getattr(img, "text", {}).get(KEY) or img.info.get(KEY))
        exif = img.getexif()
        comment = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
        if isinstance(comment, bytes):
            texts.append(_decode_comment(comment))
        elif isinstance(comment, str):
            texts.append(comment)
        xmp = img.info.get("xmp")
        if isinstance(xmp, (bytes, str)):
            raw = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
            found = re.search(r"<mosaicgan:record>(.*?)</mosaicgan:record>", raw, re.S)
            if found:
                texts.append(unescape(found.group(1)))
        gif_comment = img.info.get("comment") if img.format == "GIF" else None
        if isinstance(gif_comment, bytes) and b"\n" in gif_comment:
            texts.append(gif_comment.decode("utf-8", "replace").split("\n", 1)[1])
        description = exif.get(_IMAGE_DESCRIPTION)
        if isinstance(description, str) and "\n" in description:
            texts.append(description.split("\n", 1)[1])
    for text in texts:
        try:
            record = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(record, dict) and str(record.get("software", "")).startswith("mosaicgan"):
            return record
    return None


def read_video_provenance(path: str | Path) -> dict | None:
    """The record a video written by `remove` carries in its container tags (`mosaicgan`), or
    None (also for `add` outputs, whose tags record a mosaic, not a restoration)."""
    import av

    from mosaicgan.errors import UserError

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            # Matroska gives its tag names back upper-cased.
            tags = {k.lower(): v for k, v in container.metadata.items()}
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"not a readable video ({' '.join(str(err).split())[:160]})", path=path) from None
    text = tags.get(KEY)
    try:
        record = json.loads(text) if text else None
    except ValueError:
        record = None
    ok = isinstance(record, dict) and str(record.get("software", "")).startswith("mosaicgan")
    if ok:
        return record if (record.get("synthesized") or record.get("operation") == "unlock") else None
    return _record_of_comment(tags.get("comment"))


# The readable `comment` tag `remove` writes (infer/remove/video.remove_tags). Containers that
# keep only a fixed set of tags (AVI: comment, title, encoder, ...) drop the JSON record but
# keep this line, so the restorer and the statement are read back from it.
_COMMENT = re.compile(r"^(mosaicgan \S+) remove: restored with (.+?)\. (Regions of this .*)$", re.S)


def _record_of_comment(comment: str | None) -> dict | None:
    found = _COMMENT.match(comment.strip()) if isinstance(comment, str) else None
    if found is None:
        return None
    software, restorer, statement = found.groups()
    return {"software": software, "operation": "remove mosaic", "synthesized": True, "restorer": restorer,
            "statement": statement, "regions": [], "from": "the container's comment tag (its only tag kept)"}


def _decode_comment(raw: bytes) -> str:
    if raw.startswith(_UNICODE):
        body = raw[len(_UNICODE):]
        # Byte order is not fixed by the standard; a JSON record starts with "{".
        return body.decode("utf-16-be" if body[:2] == b"\x00{" else "utf-16-le", "replace")
    if raw[:8] in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return raw[8:].decode("ascii", "replace")
    return raw.decode("utf-8", "replace")


def format_record(record: dict | None, path: Path) -> str:
    """What `mosaicgan info` prints. Every line is made printable (`errors.printable`): the
    name and the record come from outside (a crafted file could hold escape codes)."""
    return "\n".join(printable(line) for line in _record_lines(record, path))


def _record_lines(record: dict | None, path: Path) -> list[str]:
    if record is None:
        return [f"{path}: no mosaicgan provenance (not restored by mosaicgan, or its metadata was stripped)"]
    if record.get("operation") == "unlock":  # `remove --unlock`: originals back, nothing synthesized
        lines = [f"{path}: original pixels restored with a key by {record.get('software')}",
                 f"  key: {record.get('key')}"]
        if record.get("regions") is not None:
            lines.append(f"  regions: {record['regions']}")
        return [*lines, f"  {record.get('statement')}"]
    lines = [f"{path}: restored by {record.get('software')}", f"  restorer: {record.get('restorer')}"
             + (f" ({record['restorer_kind']})" if record.get("restorer_kind") else "")]
    if record.get("restorer_sha256"):
        lines.append(f"  restorer sha256: {record['restorer_sha256']}")
    if record.get("source_file"):
        lines.append(f"  source file: {record['source_file']}")
    regions = record.get("regions")
    for k, region in enumerate(regions if isinstance(regions, list) else []):
        parts = [f"{key} {value}" for key, value in region.items()] if isinstance(region, dict) else [str(region)]
        lines.append(f"  region {k + 1}: " + ", ".join(parts))
    if record.get("from"):
        lines.append(f"  read from {record['from']}")
    lines.append(f"  {record.get('statement', STATEMENT)}")
    return lines
