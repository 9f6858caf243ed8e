"""The contact sheet of a detection report (`add --report-sheet FILE.png|.html`): one thumbnail
of every face (images) and every track (videos) found, taken from the input, with its input,
id or box, and whether it was covered. It exists so that someone can check the detector's work
and pick faces to keep (--keep, --keep-track) before publishing.

The sheet shows the faces that the outputs hide: it is as sensitive as the inputs, says so
in itself, and `add` refuses it beside --lock-to unless asked (--sheet-with-lock).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError

THUMB = 96
CAPTION = 28
WARNING = ("SENSITIVE: these thumbnails are taken from the input and show the faces the outputs hide. "
           "Keep this sheet with the originals, not with the published files.")
FORMATS = (".png", ".html")


def check_sheet_path(path: Path) -> None:
    from mosaicgan.atomic import check_writable_file

    if Path(path).suffix.lower() not in FORMATS:
        raise UserError("--report-sheet writes .png or .html", path=path)
    check_writable_file(path, flag="--report-sheet")


def _thumb(arr: np.ndarray) -> Image.Image:
    img = Image.fromarray(arr if arr.ndim == 3 else arr[:, :, None].repeat(3, 2))
    img.thumbnail((THUMB, THUMB), Image.BILINEAR if max(img.size) < THUMB else Image.LANCZOS)
    return img


def sheet_cells(items, thumbs: dict[Path, dict[int, np.ndarray]]) -> list[tuple[Image.Image, str]]:
    """(thumbnail, caption) for every face of the images (read again from the input) and every
    track of the videos (`thumbs`: input -> track id -> thumbnail taken while it ran)."""
    from mosaicgan.data.images import read_image

    cells = []
    for item in items:
        name = Path(item.input).name
        if item.kind == "image":
            info = item.regions[0] if item.regions else {}
            faces = info.get("faces", [])
            if not faces:
                continue
            rgb = np.asarray(read_image(item.input, mode="RGB"))
            for k, face in enumerate(faces):
                x0, y0, x1, y1 = face["box"]
                if x1 <= x0 or y1 <= y0:
                    continue
                state = "covered" if face["applied"] else "kept"
                cells.append((_thumb(rgb[y0:y1, x0:x1]), f"{name} #{k + 1} {state}\n{x0},{y0},{x1 - x0},{y1 - y0}"))
        else:
            tracks = {t["id"]: t for t in (item.tracks or {}).get("tracks", [])}
            for track, arr in sorted(thumbs.get(Path(item.input), {}).items()):
                t = tracks.get(track, {})
                state = "covered" if t.get("applied", True) else "kept"
                cells.append((_thumb(arr), f"{name} track {track} {state}\nframes {t.get('first_frame')}-"
                                           f"{t.get('last_frame')}"))
    return cells


def write_sheet(path: Path, cells: list[tuple[Image.Image, str]], *, columns: int = 8) -> Path:
    """Write the sheet as a PNG grid or an HTML page (thumbnails inline), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".html":
            tmp.write_text(_html(cells), encoding="utf-8")
        else:
            _png(cells, columns=columns).save(tmp, format="PNG")
    return path


def _png(cells, *, columns: int) -> Image.Image:
    rows = max(1, -(-len(cells) // columns))
    width = max(1, min(columns, len(cells))) * (THUMB + 8)
    banner = 2 * CAPTION
    sheet = Image.new("RGB", (max(width, 640), banner + rows * (THUMB + CAPTION + 8)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 4), WARNING[:95], fill=(180, 0, 0))
    draw.text((6, 4 + CAPTION // 2), WARNING[95:], fill=(180, 0, 0))
    if not cells:
        draw.text((6, banner + 6), "no face or track found", fill="black")
    for k, (thumb, caption) in enumerate(cells):
        x = (k % columns) * (THUMB + 8) + 4
        y = banner + (k // columns) * (THUMB + CAPTION + 8)
        sheet.paste(thumb, (x, y))
        draw.multiline_text((x, y + THUMB + 1), caption, fill="black", spacing=0)
    return sheet


def _html(cells) -> str:
    figures = []
    for thumb, caption in cells:
        buf = io.BytesIO()
        thumb.save(buf, format="PNG")
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        figures.append(f'<figure><img src="data:image/png;base64,{data}" alt="">'
                       f"<figcaption>{html.escape(caption).replace(chr(10), '<br>')}</figcaption></figure>")
    body = "\n".join(figures) or "<p>no face or track found</p>"
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mosaicgan contact sheet</title>"
            "<style>body{font-family:sans-serif}figure{display:inline-block;margin:4px;width:110px;"
            "font-size:11px;vertical-align:top}.warn{color:#b00;font-weight:bold}</style></head><body>\n"
            f"<p class=\"warn\">{html.escape(WARNING)}</p>\n{body}\n</body></html>\n")
