"""An HTML gallery of a translate or eval run: one row per image, its pictures side by side
(input | output | target) with their figures (PSNR, SSIM) under them.

One self-contained file: every picture is embedded as a JPEG thumbnail (a data: URI), so the
page can be mailed or archived alone and opens with no server and nothing fetched; a
thumbnail links to its full-size output where that file exists, by a path relative to the
gallery. No script, only a little inline CSS. Written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from mosaicgan.atomic import atomic_path
from mosaicgan.data.images import tensor_to_pil
from mosaicgan.errors import UserError

THUMB_SIDE = 320  # longest side of an embedded picture
EXTENSIONS = (".html", ".htm")


def check_gallery_path(path: Path) -> Path:
    """--gallery FILE.html: an .html name (the file is a web page) in a writable folder."""
    from mosaicgan.atomic import check_writable_file

    if path.suffix.lower() not in EXTENSIONS:
        raise UserError("--gallery writes a web page: give a file name ending in .html", path=path)
    check_writable_file(path, flag="--gallery")
    return path


def _thumbnail(picture: torch.Tensor | Image.Image | Path) -> str:
    if isinstance(picture, Path):
        from mosaicgan.data.images import read_image

        image = read_image(picture, mode="RGB")
    elif isinstance(picture, torch.Tensor):
        image = tensor_to_pil(picture.detach().float().cpu()).convert("RGB")
    else:
        image = picture.convert("RGB")
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass
class Cell:
    label: str
    src: str  # a data: URI
    link: Path | None = None
    figures: dict[str, float] = field(default_factory=dict)


@dataclass
class Gallery:
    """Rows of pictures; `add` turns each picture into its thumbnail at once (no tensor kept)."""

    title: str
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)

    def add(self, name: str, pictures: list[tuple[str, torch.Tensor | Image.Image | Path]], *,
            figures: dict[str, dict[str, float]] | None = None, links: dict[str, Path] | None = None) -> None:
        """pictures: (label, picture) in column order; a tensor is (C, H, W) in [-1, 1].
        figures: label -> {"PSNR": ..., "SSIM": ...} shown under that picture; links: label -> file."""
        figures, links = figures or {}, links or {}
        self.rows.append((name, [Cell(label, _thumbnail(picture), links.get(label), figures.get(label, {}))
                                 for label, picture in pictures]))

    def write(self, path: Path, *, summary: list[str] = ()) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(self.render(base=path.parent, summary=summary), encoding="utf-8")
        return path

    def render(self, *, base: Path, summary: list[str] = ()) -> str:
        e = html.escape
        out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
               f"<title>{e(self.title)}</title>",
               "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d232a}"
               "table{border-collapse:collapse}td,th{padding:.4rem;border-bottom:1px solid #d5dbe1;"
               "vertical-align:top;text-align:left}figure{margin:0}img{display:block;max-width:320px}"
               "figcaption{font-size:.85rem;color:#5b6672}.fig{font-variant-numeric:tabular-nums}</style>",
               "</head><body>", f"<h1>{e(self.title)}</h1>"]
        out += [f"<p>{e(line)}</p>" for line in summary]
        labels = self.rows[0][1] if self.rows else []
        out.append("<table><thead><tr><th>image</th>" + "".join(f"<th>{e(c.label)}</th>" for c in labels)
                   + "</tr></thead><tbody>")
        for name, cells in self.rows:
            out.append(f"<tr><td>{e(name)}</td>")
            for cell in cells:
                img = f'<img src="{cell.src}" alt="{e(cell.label)}: {e(name)}">'
                if cell.link is not None:
                    href = Path(os.path.relpath(cell.link, base)).as_posix()
                    img = f'<a href="{e(href, quote=True)}">{img}</a>'
                figures = " ".join(f"{e(k)} {v:.4f}" if k == "SSIM" else f"{e(k)} {v:.2f}"
                                   for k, v in cell.figures.items())
                caption = f'<figcaption class="fig">{figures}</figcaption>' if figures else ""
                out.append(f"<td><figure>{img}{caption}</figure></td>")
            out.append("</tr>")
        out.append("</tbody></table></body></html>")
        return "\n".join(out) + "\n"
