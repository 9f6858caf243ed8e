"""Which mosaic recipes training data is made with, and how often: a recipe mix.

A mix is a tuple of (recipe, weight) pairs (`ops.recipes` has the recipes); the samplers draw one
recipe per sample from it. Written as text in configs and on the command line:
"mean:0.3,nearest:0.2,..." (weights are normalised), "mean,nearest" (equal weights), or
"default" (DEFAULT_MIX).

Why DEFAULT_MIX looks as it does (no census of the world's mosaics exists; this weighs what the
tools people reach for do when asked to pixelate):
- block means, 30%: GIMP's Pixelize, Photoshop's Mosaic, FFmpeg's `pixelize` (avg, its default),
  resizing down with area averaging (OpenCV INTER_AREA, Pillow BOX / `reduce`), the block-mean
  loops of most tutorials, and `mosaicgan add`: the most common recipe, and the one our own
  users make;
- OpenCV's default resize (INTER_LINEAR, the middle 2 x 2 pixels) 14%, and Pillow's default
  (`Image.resize` is BICUBIC, antialiased over 4 x 4 blocks) 12%: "resize down, resize up with
  nearest", the usual code snippet, in its two most used libraries with their defaults;
- the top-left pixel 12% (OpenCV INTER_NEAREST, numpy slicing `img[::b, ::b]`, torch's
  "nearest") and the centre pixel 8% (Pillow NEAREST, torch's "nearest-exact", CSS-style
  pixelated scaling): the same snippet asking for "nearest" down;
- Pillow BILINEAR 5%, OpenCV INTER_CUBIC 4%: the same snippet with the other filters;
- median 4% and one random pixel 3% (`mosaicgan add --style`), FFmpeg's min and max 4% each:
  rarer, but each reads its block differently, and a restorer must not take them for means.
"""

from __future__ import annotations

from mosaicgan.choices import MOSAIC_RECIPES
from mosaicgan.errors import UserError

Mix = tuple[tuple[str, float], ...]

DEFAULT_MIX: Mix = (
    ("mean", 0.30), ("bilinear", 0.14), ("pil-bicubic", 0.12), ("nearest", 0.12), ("nearest-centre", 0.08),
    ("pil-bilinear", 0.05), ("bicubic", 0.04), ("median", 0.04), ("random-pixel", 0.03), ("min", 0.04),
    ("max", 0.04),
)


def parse_mix(text: str, *, flag: str = "recipes") -> Mix:
    """'default', 'mean,nearest' or 'mean:0.7,nearest:0.3' -> a mix whose weights sum to 1.
    UserError naming `flag` for an unknown recipe, a bad or negative weight, or an empty mix."""
    text = text.strip()
    if text == "default":
        return DEFAULT_MIX
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, weight = item.partition(":")
        name = name.strip()
        if name not in MOSAIC_RECIPES:
            raise UserError(f"{flag}: unknown mosaic recipe {name!r}; choose from default, {', '.join(MOSAIC_RECIPES)}")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise UserError(f"{flag}: the weight of {name!r} must be a number, got {weight!r}") from None
        if not value >= 0:
            raise UserError(f"{flag}: the weight of {name!r} must be >= 0, got {weight}")
        pairs.append((name, value))
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        raise UserError(f"{flag}: give at least one recipe with a positive weight (or 'default'), got {text!r}")
    if len({n for n, _ in pairs}) != len(pairs):
        raise UserError(f"{flag}: a recipe is named twice in {text!r}")
    return tuple((n, w / total) for n, w in pairs if w > 0)


def format_mix(mix: Mix) -> str:
    return ",".join(f"{name}:{weight:.4g}" for name, weight in mix)


def pick(mix: Mix, u: float) -> str:
    """The recipe a uniform number u in [0, 1) selects (weights in order)."""
    for name, weight in mix:
        if u < weight:
            return name
        u -= weight
    return mix[-1][0]
