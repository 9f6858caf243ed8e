"""docs/honesty.png: original | mosaic | restoration, for the README's honesty section.

A mosaic keeps one colour per block and throws the rest away; a restorer can only invent
detail that fits those colours. The figure puts the restorer's output (the shipped default,
as `remove` uses it) beside the original it never saw, on two bundled public-domain /
Apache-2.0 photos: a face (the restored face is not this person's face) and a bird. The
crops are enlarged 2x (nearest neighbour) so the invented detail can be seen; each row ends
with the PSNR inside the region, which says how far from the original the invention is.

    .venv/bin/python scripts/make_honesty_figure.py [--out docs/honesty.png] [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path

from PIL import Image, ImageDraw

from mosaicgan.data.images import tensor_to_pil
from mosaicgan.infer.image_io import load_image
from mosaicgan.infer.remove.restorer import load_restorer
from mosaicgan.metrics import masked_psnr
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, boxes_to_mask
from mosaicgan.ops.mosaic import pixelate

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
# (photo, region box x0, y0, x1, y1, grid): a grid offset that does not match the image's.
CASES = [
    ("grace_hopper.jpg", Box(72, 50, 192, 178), Grid(10, 10, 3, 7)),
    ("bird.jpg", Box(96, 40, 232, 170), Grid(10, 10, 5, 2)),
]
SCALE = 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/honesty.png"))
    p.add_argument("--checkpoint", type=Path, default=None)
    args = p.parse_args()
    restorer = load_restorer(args.checkpoint)
    rows = []
    for name, box, grid in CASES:
        path = FIXTURES / name
        if not path.is_file():  # an installed package has no tests/: use the demo copy
            path = Path(str(importlib.resources.files("mosaicgan") / "assets" / "demo" / name))
        original = load_image(path, channels=3).image
        h, w = original.shape[1:]
        mask = boxes_to_mask([box], height=h, width=w)[0]
        mosaic = pixelate(original, mask, block=grid.block, offset=grid.offset)
        restored = restorer.restore(mosaic, mask[None], grid=grid)
        gains = (masked_psnr(mosaic, original, mask), masked_psnr(restored, original, mask))
        pad = 12
        x0, y0, x1, y1 = max(0, box.x0 - pad), max(0, box.y0 - pad), min(w, box.x1 + pad), min(h, box.y1 + pad)
        tiles = [tensor_to_pil(t[:, y0:y1, x0:x1]).resize(((x1 - x0) * SCALE, (y1 - y0) * SCALE), Image.NEAREST)
                 for t in (original, mosaic, restored)]
        rows.append((tiles, gains, restorer.name))
    gap, label = 6, 18
    width = max(sum(t.width for t in tiles) + gap * 2 for tiles, _, _ in rows)
    height = sum(tiles[0].height + label for tiles, _, _ in rows) + gap * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    y = 0
    for tiles, (before, after), _ in rows:
        x = 0
        captions = ("original (never seen by the restorer)", f"mosaic ({before:.1f} dB)",
                    f"restoration: invented ({after:.1f} dB)")
        for tile, caption in zip(tiles, captions, strict=True):
            draw.text((x + 2, y + 3), caption, fill="black")
            sheet.paste(tile, (x, y + label))
            x += tile.width + gap
        y += tiles[0].height + label + gap
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({width}x{height}); restorer: {rows[0][2]}")


if __name__ == "__main__":
    main()
