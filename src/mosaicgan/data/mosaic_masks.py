"""Detector training samples made on the fly from clean photos: (image crop, mosaic mask), never stored.

Each sample draws from its own seed (the loop's sampler hands them out, so a resumed run sees
what an uninterrupted one would): a crop of a photo at a random scale; then either
- a mosaic: 1-2 random shapes (or the whole crop) pixelated at a block size log-uniform in
  [block_min, block_max] (sometimes rectangular, aspect up to 1:2), any grid offset, in the
  average, median or random-pixel style, or with a recipe drawn from a recipe mix
  (`data.recipe_mix`; then box_prob of the regions are rectangles on the block grid, as a
  pixelated crop is); the mask is the region; or
- a clean crop (mask empty, clean_prob of the samples): the negatives the detector must leave
  alone, facades and tiled floors included, as the train photos have them.
Either is then, with jpeg_prob, re-encoded as JPEG: mosaics at quality [jpeg_quality_min,
jpeg_quality_max], clean crops down to quality 20, whose 8x8 blocking on smooth areas is
the look-alike a detector must not take for a mosaic. JPEG's grid sits at the crop's corner
and the mosaic's anywhere, as in a photo mosaicked and then saved.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from mosaicgan.data.mosaic_pairs import index_seed, jpeg_round_trip, load_photos
from mosaicgan.data.recipe_mix import Mix, pick
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.recipes import mosaic_recipe
from mosaicgan.ops.shapes import draw_shapes, sample_shape

MAX_ASPECT = 2.0
MIN_SCALE = 0.5  # photos are shown at a random scale in [MIN_SCALE, 1]: more sizes of texture
NEGATIVE_JPEG_MIN = 20
STYLES = (("average", 0.8), ("median", 0.1), ("random", 0.1))


class MosaicMasks(Dataset):
    def __init__(
        self,
        *,
        roots: list[str | Path],
        length: int,
        crop: int = 192,
        block_min: int = 4,
        block_max: int = 40,
        rect_prob: float = 0.25,
        clean_prob: float = 0.35,
        full_prob: float = 0.05,
        jpeg_prob: float = 0.6,
        jpeg_quality: tuple[int, int] = (50, 95),
        recipes: Mix | None = None,
        box_prob: float = 0.0,
        photos: list[torch.Tensor] | None = None,
    ) -> None:
        if photos is None:
            photos, _ = load_photos(roots)
        self.photos = [p for p in photos if min(p.shape[1:]) >= crop * MIN_SCALE] or photos
        self.length, self.crop = length, crop
        self.block_range = (block_min, block_max)
        self.rect_prob, self.clean_prob, self.full_prob = rect_prob, clean_prob, full_prob
        self.jpeg_prob, self.jpeg_quality = jpeg_prob, jpeg_quality
        self.recipes, self.box_prob = recipes, box_prob

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, index_seed(key))
        g = torch.Generator().manual_seed(seed)

        def uniform(a: float = 0.0, b: float = 1.0) -> float:
            return a + (b - a) * float(torch.rand((), generator=g))

        image = self._crop(self.photos[index % len(self.photos)], uniform)
        c = self.crop
        mask = torch.zeros(1, c, c)
        clean = uniform() < self.clean_prob
        if not clean:
            size = math.exp(uniform(math.log(self.block_range[0]), math.log(self.block_range[1] + 1)))
            aspect = (math.exp(uniform(-math.log(MAX_ASPECT), math.log(MAX_ASPECT)))
                      if uniform() < self.rect_prob else 1.0)
            bh, bw = max(2, round(size / math.sqrt(aspect))), max(2, round(size * math.sqrt(aspect)))
            recipe = None if self.recipes is None else pick(self.recipes, uniform())
            offset = None
            if uniform() < self.full_prob:
                mask = torch.ones(1, c, c)
            elif recipe is not None and uniform() < self.box_prob:
                # A pixelated crop: its grid starts at the box's corner, no block is cut.
                rows = max(3, int(uniform(3 * bh, 0.8 * c) // bh))
                cols = max(3, int(uniform(3 * bw, 0.8 * c) // bw))
                y0, x0 = int(uniform() * max(c - rows * bh, 0)), int(uniform() * max(c - cols * bw, 0))
                mask[:, y0 : y0 + rows * bh, x0 : x0 + cols * bw] = 1
                offset = (y0 % bh, x0 % bw)
            else:
                # At least 3 blocks across, as a mosaic meant to hide something is.
                low = min(0.9, max(0.25, 3 * max(bh, bw) / c))
                shapes = [sample_shape(height=c, width=c, generator=g, size_range=(low, max(low, 0.8)))
                          for _ in range(1 + int(uniform() < 0.3))]
                mask = draw_shapes(shapes, height=c, width=c)
            if recipe is None:
                pick_style, style = uniform(), STYLES[-1][0]
                for name, share in STYLES:
                    if pick_style < share:
                        style = name
                        break
                    pick_style -= share
                offset = (int(uniform() * bh), int(uniform() * bw))
                image = pixelate(image, mask, block=(bh, bw), style=style, offset=offset, generator=g)
            else:
                if offset is None:
                    offset = (int(uniform() * bh), int(uniform() * bw))
                image = mosaic_recipe(image, mask, recipe=recipe, grid=Grid(bh, bw, *offset), generator=g)
        if uniform() < self.jpeg_prob:
            lo, hi = self.jpeg_quality
            if clean:
                lo = min(lo, NEGATIVE_JPEG_MIN)
            image = jpeg_round_trip(image, quality=int(lo + uniform() * (hi - lo + 1)))
        else:
            image = _quantise(image)  # as a PNG would keep it
        if uniform() < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        return {"image": image.contiguous(), "mask": mask.contiguous()}

    def _crop(self, photo: torch.Tensor, uniform) -> torch.Tensor:
        """A crop x crop window of the photo at a random scale, in [-1, 1]."""
        _, ph, pw = photo.shape
        side = min(ph, pw)
        scale = uniform(max(MIN_SCALE, self.crop / side), 1.0) if side > self.crop else self.crop / side
        side = min(round(self.crop / scale), ph, pw)
        y0, x0 = int(uniform() * (ph - side + 1)), int(uniform() * (pw - side + 1))
        window = photo[:, y0 : y0 + side, x0 : x0 + side].float().div(127.5).sub(1)
        if side != self.crop:
            window = F.interpolate(window[None], size=(self.crop, self.crop), mode="bilinear",
                                   antialias=True, align_corners=False)[0].clamp(-1, 1)
        return _quantise(window)


def _quantise(image: torch.Tensor) -> torch.Tensor:
    """To the 256 levels of a saved file: float block means would be flatter than any file's."""
    return image.add(1).mul(127.5).round().clamp(0, 255).div(127.5).sub(1)
