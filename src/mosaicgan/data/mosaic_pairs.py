"""Restoration pairs made on the fly from clean photos: (mosaicked crop, truth), never stored.

Every sample draws its own block size (log-uniform, sometimes rectangular), region shapes,
style, grid phase relative to JPEG's 8x8 blocks, JPEG quality and flip from the per-sample
seed the loop's sampler hands out, so a resumed run sees exactly the samples an uninterrupted
one would. Photos are decoded once into memory as uint8, so making a sample costs a crop,
one mosaic and (sometimes) one JPEG round trip.

What a sample holds (see `ops.unmosaic.lattice_features` and `nets.restorer`):
- "features": (7, L, L), the network's input on a lattice of L x L blocks;
- "target": (3, L*s, L*s), the truth resampled so that each block is s x s pixels;
- "mask": (1, L*s, L*s), where the loss counts (the region given to the restorer).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from mosaicgan.data.images import list_images, read_image
from mosaicgan.errors import UserError
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import grow_mask
from mosaicgan.ops.mosaic import block_shape, pixelate
from mosaicgan.ops.shapes import draw_shapes, sample_shape
from mosaicgan.ops.unmosaic import lattice_features, resample

MIN_SIDE = 64
# Share of pixels equal to their right-hand neighbour above which an image is a chart,
# checkerboard or label mask rather than a photo. Measured on ../shared/data: photos 0.01 to
# 0.51 (grey and over-exposed ones highest), the coral checkerboards 0.65 to 0.74, label masks
# 0.97 and more. (A count of distinct colours, used before, also dropped grey photos.)
MAX_FLAT = 0.6


def load_photos(roots: list[str | Path]) -> tuple[list[torch.Tensor], list[Path]]:
    """Every photo under the folders (recursively) as uint8 (3, H, W). Flat-colour graphics
    (see MAX_FLAT) and images with a side under 64 pixels are left out. The folders follow the
    rule of every training data folder (`images.list_images`): a file that is not an image
    is refused, naming it; a license file and hidden files are skipped."""
    photos, paths = [], []
    for root in roots:
        if not Path(root).is_dir():
            raise UserError("not a folder", path=root)
        for path in list_images(root, recursive=True):
            arr = np.asarray(read_image(path, mode="RGB"))
            if min(arr.shape[:2]) < MIN_SIDE:
                continue
            if (arr[:, 1:] == arr[:, :-1]).all(axis=-1).mean() > MAX_FLAT:
                continue
            photos.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous())
            paths.append(path)
    if not photos:
        raise UserError(f"no photos found in {', '.join(map(str, roots))}")
    return photos, paths


def jpeg_round_trip(img: torch.Tensor, *, quality: int) -> torch.Tensor:
    """(3, H, W) in [-1, 1] through an in-memory JPEG at `quality` (PIL defaults: 4:2:0)."""
    arr = img.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float().div(127.5).sub(1)


class MosaicPairs(Dataset):
    def __init__(
        self,
        *,
        roots: list[str | Path],
        length: int,
        lattice: int = 16,
        scale: int = 8,
        block_min: int = 4,
        block_max: int = 32,
        rect_prob: float = 0.2,
        median_prob: float = 0.1,
        jpeg_prob: float = 0.3,
        jpeg_quality: tuple[int, int] = (60, 95),
        full_prob: float = 0.1,
        grow_prob: float = 0.3,
        photos: list[torch.Tensor] | None = None,
    ) -> None:
        if photos is None:
            photos, _ = load_photos(roots)
        self.photos = photos
        self.length, self.lattice, self.scale = length, lattice, scale
        self.block_range = (block_min, block_max)
        self.rect_prob, self.median_prob, self.full_prob, self.grow_prob = rect_prob, median_prob, full_prob, grow_prob
        self.jpeg_prob, self.jpeg_quality = jpeg_prob, jpeg_quality

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, index_seed(key))
        g = torch.Generator().manual_seed(seed)

        def uniform(a: float = 0.0, b: float = 1.0) -> float:
            return a + (b - a) * float(torch.rand((), generator=g))

        photo = self.photos[index % len(self.photos)]
        n, s = self.lattice, self.scale
        size = math.exp(uniform(math.log(self.block_range[0]), math.log(self.block_range[1] + 1)))
        aspect = math.exp(uniform(-math.log(1.5), math.log(1.5))) if uniform() < self.rect_prob else 1.0
        bh, bw = block_shape(max(2, int(size)), aspect=aspect)
        jpeg = uniform() < self.jpeg_prob
        pad = 8 if jpeg else 0  # room to put the grid at any phase of JPEG's 8x8 blocks
        _, ph, pw = photo.shape
        fit = min((ph - pad) / (n * bh), (pw - pad) / (n * bw), 1.0)
        bh, bw = max(2, int(bh * fit)), max(2, int(bw * fit))
        wh, ww = n * bh + pad, n * bw + pad
        y0 = int(uniform() * (ph - wh + 1))
        x0 = int(uniform() * (pw - ww + 1))
        window = photo[:, y0 : y0 + wh, x0 : x0 + ww].float().div(127.5).sub(1)
        if uniform() < 0.5:
            window = window.flip(-1)
        oy, ox = (int(uniform() * 8), int(uniform() * 8)) if jpeg else (0, 0)
        ch, cw = n * bh, n * bw

        if uniform() < self.full_prob:
            region = torch.ones(1, ch, cw)
        else:
            shapes = [sample_shape(height=ch, width=cw, generator=g, size_range=(0.3, 0.9))
                      for _ in range(1 + int(uniform() < 0.3))]
            region = draw_shapes(shapes, height=ch, width=cw)
        region_window = torch.zeros(1, wh, ww)
        region_window[:, oy : oy + ch, ox : ox + cw] = region
        style = "median" if uniform() < self.median_prob else "average"
        observed = pixelate(window, region_window, block=(bh, bw), style=style, offset=(oy, ox))
        if jpeg:
            lo, hi = self.jpeg_quality
            observed = jpeg_round_trip(observed, quality=int(lo + uniform() * (hi - lo + 1)))
        observed = observed[:, oy : oy + ch, ox : ox + cw]
        truth = window[:, oy : oy + ch, ox : ox + cw]
        # The region a restorer is given is often larger than the mosaic (a detector's or a
        # user's mask, grown for safety): its extra blocks are clean, and still have exact means.
        given = grow_mask(region, radius=int(uniform() * max(bh, bw)))[0] if uniform() < self.grow_prob else region
        features = lattice_features(observed[None], given[None], Grid(bh, bw), scale=s)[0]
        return {
            "features": features,
            "target": resample(truth[None], (n * s, n * s))[0].clamp(-1, 1),
            "mask": resample(given[None], (n * s, n * s))[0],
        }


def index_seed(index: int) -> int:
    return 1_000_003 * (index + 1)
