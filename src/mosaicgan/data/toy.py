"""A small paired task the project makes itself: outlines of coloured shapes -> filled shapes.

Used by the tests, the demo and the benchmarks (no downloads). The outline carries the
shape's colour, so the target is fully determined by the input: a model can learn it exactly,
and the L1 error of the input taken as output (the identity baseline) is large.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

from mosaicgan.data.images import save_image


def shape_pair(*, size: int, rng: random.Random, max_shapes: int = 2) -> tuple[Image.Image, Image.Image]:
    """(outline image, filled image), both RGB on a white background."""
    edges = Image.new("RGB", (size, size), "white")
    filled = Image.new("RGB", (size, size), "white")
    draw_e, draw_f = ImageDraw.Draw(edges), ImageDraw.Draw(filled)
    width = max(1, size // 32)
    for _ in range(rng.randint(1, max_shapes)):
        colour = tuple(rng.randint(0, 200) for _ in range(3))
        r = rng.randint(size // 6, size // 3)
        cx, cy = rng.randint(r, size - r), rng.randint(r, size - r)
        kind = rng.choice(("ellipse", "rectangle", "triangle"))
        if kind == "triangle":
            pts = [(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)]
            draw_f.polygon(pts, fill=colour)
            draw_e.polygon(pts, outline=colour, width=width)
        else:
            box = (cx - r, cy - r, cx + r, cy + r)
            getattr(draw_f, kind)(box, fill=colour)
            getattr(draw_e, kind)(box, outline=colour, width=width)
    return edges, filled


def make_shapes_dataset(out: str | Path, *, n_train: int = 200, n_test: int = 20, size: int = 64,
                        seed: int = 0) -> Path:
    """Write ROOT/{train,test}/NNNN.png, each outline|filled side by side (the aligned layout)."""
    out = Path(out)
    rng = random.Random(seed)
    for split, count in (("train", n_train), ("test", n_test)):
        for i in range(count):
            a, b = shape_pair(size=size, rng=rng)
            both = Image.new("RGB", (2 * size, size))
            both.paste(a, (0, 0))
            both.paste(b, (size, 0))
            save_image(both, out / split / f"{i:04d}.png")
    return out
