"""Random transforms: thin classes that sample parameters and call the pure ops in `mosaicgan.ops`.

Each transform returns the parameters it used as plain data next to its output, so a data set
builder can record them and `apply_mosaic` can redo the exact same result later.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from mosaicgan.data.recipe_mix import Mix, pick
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import as_mask, feather_mask, grow_mask
from mosaicgan.ops.mosaic import STYLES, auto_block_size, block_shape, mosaic_region
from mosaicgan.ops.recipes import mosaic_recipe


@dataclass(frozen=True)
class MosaicParams:
    """Everything that decides one mosaic. `applied` is False when the p-coin skipped it.

    `seed` seeds the generator of the "random" style (one pixel per block), so the result can
    be redone from these fields alone; other styles ignore it. `recipe` (one of
    `choices.MOSAIC_RECIPES`, see `ops.recipes`), when set, makes the mosaic instead of `style`
    (which then names the same recipe's `pixelate` style, or "recipe"); `jpeg` > 0 re-encodes
    the result as JPEG at that quality, as a mosaicked photo saved as JPEG would be.
    """

    style: str
    block: tuple[int, int]
    offset: tuple[int, int]
    grow: int
    feather: int
    seed: int
    applied: bool = True
    recipe: str | None = None
    jpeg: int = 0

    def to_dict(self) -> dict:
        """Plain data; `recipe` and `jpeg` only when set, so records of style mosaics read as before."""
        data = asdict(self)
        if self.recipe is None:
            del data["recipe"]
        if not self.jpeg:
            del data["jpeg"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> MosaicParams:
        """The inverse of `to_dict`, also after a JSON round trip (lists back to tuples)."""
        fields = dict(data)
        for name in ("block", "offset"):
            fields[name] = tuple(int(v) for v in fields[name])
        return cls(**fields)


def apply_mosaic(img: torch.Tensor, mask: torch.Tensor, params: MosaicParams) -> torch.Tensor:
    """The mosaic that `params` describes, on one image (C, H, W) or a batch sharing them."""
    if not params.applied:
        return img
    generator = None
    if params.style == "random" or params.recipe == "random-pixel":
        # On the CPU whatever img's device, so the same params give the same picks everywhere.
        generator = torch.Generator().manual_seed(params.seed)
    if params.recipe is not None:
        m = feather_mask(grow_mask(as_mask(mask, image=img), radius=params.grow), width=params.feather)
        out = mosaic_recipe(img, m, recipe=params.recipe, grid=Grid(*params.block, *params.offset),
                            generator=generator)
        return _jpeg(out, params.jpeg) if params.jpeg else out
    out = mosaic_region(
        img,
        mask,
        block=params.block,
        style=params.style,
        grow=params.grow,
        feather=params.feather,
        offset=params.offset,
        generator=generator,
    )
    return _jpeg(out, params.jpeg) if params.jpeg else out


def _jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    from mosaicgan.data.mosaic_pairs import jpeg_round_trip

    if img.ndim == 4:
        return torch.stack([jpeg_round_trip(one, quality=quality) for one in img])
    return jpeg_round_trip(img, quality=quality)


class RandomMosaic:
    """Mosaic the masked region with randomly drawn style, block size, aspect, grow and feather.

    block_range: (low, high) block size in pixels, both included; None sizes the block from
      the (grown) region instead: `auto_block_size` with a fraction drawn from `fraction_range`.
    aspect_range: block width / height, drawn log-uniformly (so 1/2..2 is symmetric), at about
      the area of a square block of the drawn size.
    grow_range, feather_range: pixels, both ends included; a negative grow shrinks the mask.
    random_offset: place the block grid at a random phase rather than at the image corner.
    recipes: a recipe mix (`data.recipe_mix`) to draw each mosaic's recipe from instead of a
      style; jpeg_prob, jpeg_quality: the share re-encoded as JPEG, at a quality drawn from
      (low, high). Both only draw numbers when set, so other draws stay as they were.
    p: probability of mosaicking at all (otherwise the image comes back as it is).

    Randomness: the `generator` given to a call, else the transform's own generator when built
    with a `seed`, else torch's global generator (which DataLoader seeds per worker, so
    workers do not repeat each other). All parameters are drawn even when the p-coin says no,
    so the draws of later images do not depend on that coin.

    Call with an image (C, H, W) and its mask ((H, W) or (1, H, W)) -> (image, MosaicParams),
    or a batch (N, C, H, W) with masks (N, 1, H, W) (or one mask for all) -> (batch,
    list of MosaicParams): each image gets its own parameters, so a batch is done image by image.
    """

    def __init__(
        self,
        *,
        styles: tuple[str, ...] = STYLES,
        block_range: tuple[int, int] | None = (8, 24),
        fraction_range: tuple[float, float] = (0.06, 0.15),
        min_block: int = 4,
        aspect_range: tuple[float, float] = (1.0, 1.0),
        grow_range: tuple[int, int] = (0, 0),
        feather_range: tuple[int, int] = (0, 0),
        random_offset: bool = True,
        recipes: Mix | None = None,
        jpeg_prob: float = 0.0,
        jpeg_quality: tuple[int, int] = (60, 95),
        p: float = 1.0,
        seed: int | None = None,
    ) -> None:
        if not styles or any(s not in STYLES for s in styles):
            raise ValueError(f"styles must be a non-empty subset of {STYLES}, got {styles}")
        if block_range is not None and not 1 <= block_range[0] <= block_range[1]:
            raise ValueError(f"block_range must satisfy 1 <= low <= high, got {block_range}")
        if not 0 < aspect_range[0] <= aspect_range[1]:
            raise ValueError(f"aspect_range must satisfy 0 < low <= high, got {aspect_range}")
        if not 0 <= feather_range[0] <= feather_range[1]:
            raise ValueError(f"feather_range must satisfy 0 <= low <= high, got {feather_range}")
        if grow_range[0] > grow_range[1] or fraction_range[0] > fraction_range[1]:
            raise ValueError("grow_range and fraction_range must be (low, high) with low <= high")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        self.styles = tuple(styles)
        self.block_range = block_range
        self.fraction_range = fraction_range
        self.min_block = min_block
        self.aspect_range = aspect_range
        self.grow_range = grow_range
        self.feather_range = feather_range
        self.random_offset = random_offset
        self.recipes, self.jpeg_prob, self.jpeg_quality = recipes, jpeg_prob, jpeg_quality
        self.p = p
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def __call__(
        self, img: torch.Tensor, mask: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, MosaicParams | list[MosaicParams]]:
        gen = generator if generator is not None else self.generator
        if img.ndim == 3:
            params = self.sample(mask, generator=gen)
            return apply_mosaic(img, mask, params), params
        masks = as_mask(mask, image=img).expand(img.shape[0], -1, -1, -1)
        outs, params = [], []
        for one_img, one_mask in zip(img, masks, strict=True):
            out, p = self(one_img, one_mask, generator=gen)
            outs.append(out)
            params.append(p)
        return torch.stack(outs), params

    def sample(self, mask: torch.Tensor, *, generator: torch.Generator | None = None) -> MosaicParams:
        """Draw the parameters for one image's mask (the mask matters only for automatic block sizes)."""

        def uniform(lo: float, hi: float) -> float:
            return lo + (hi - lo) * float(torch.rand((), generator=generator))

        def integer(lo: int, hi: int) -> int:  # both ends included
            return int(torch.randint(lo, hi + 1, (), generator=generator))

        applied = float(torch.rand((), generator=generator)) < self.p
        style = self.styles[integer(0, len(self.styles) - 1)]
        grow = integer(*self.grow_range)
        feather = integer(*self.feather_range)
        aspect = math.exp(uniform(math.log(self.aspect_range[0]), math.log(self.aspect_range[1])))
        if self.block_range is not None:
            size = integer(*self.block_range)
        else:
            fraction = uniform(*self.fraction_range)
            grown = grow_mask(as_mask(mask), radius=grow)
            size = int(auto_block_size(grown, fraction=fraction, min_block=self.min_block)[0])
        block = block_shape(size, aspect=aspect)
        phase = (uniform(0.0, 1.0), uniform(0.0, 1.0))
        offset = (int(phase[0] * block[0]), int(phase[1] * block[1])) if self.random_offset else (0, 0)
        seed = integer(0, 2**31 - 1)
        recipe, jpeg = None, 0
        if self.recipes is not None:
            recipe = pick(self.recipes, uniform(0.0, 1.0))
            style = {"mean": "average", "median": "median", "random-pixel": "random"}.get(recipe, "recipe")
        if self.jpeg_prob > 0 and uniform(0.0, 1.0) < self.jpeg_prob:
            jpeg = integer(*self.jpeg_quality)
        return MosaicParams(style, block, offset, grow, feather, seed, applied, recipe, jpeg)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("styles", "block_range", "aspect_range", "grow_range", "feather_range", "p")
        )
        return f"{type(self).__name__}({fields})"
