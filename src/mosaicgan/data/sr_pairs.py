"""Super-resolution pairs made on the fly from high-resolution photos: (LR crop, HR crop).

Each sample draws its photo position, crop and flips/transposition from the per-sample seed the
loop's sampler hands out (so a resumed run sees what an uninterrupted one would). The LR side is
`ops.sr.downscale` of the HR crop: bicubic with antialiasing, rounded to 8 bits. Photos are
decoded once into memory as uint8 (`mosaic_pairs.load_photos`: flat graphics such as
checkerboards and label masks are left out).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from mosaicgan.data.mosaic_pairs import index_seed, load_photos
from mosaicgan.ops.sr import downscale


class SRPairs(Dataset):
    """Samples {"lr": (3, patch/scale, patch/scale), "hr": (3, patch, patch)} in [-1, 1]."""

    def __init__(self, *, roots: list[str | Path], length: int, scale: int, patch: int,
                 photos: list[torch.Tensor] | None = None) -> None:
        if patch % scale:
            raise ValueError(f"patch {patch} is not a multiple of scale {scale}")
        if photos is None:
            photos, _ = load_photos(roots)
        # A photo smaller than the crop would give a smaller sample and break the batch.
        self.photos = [p for p in photos if min(p.shape[-2:]) >= patch]
        if not self.photos:
            raise ValueError(f"no photo has both sides of at least {patch} pixels")
        self.length, self.scale, self.patch = length, scale, patch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, index_seed(key))
        g = torch.Generator().manual_seed(seed)
        photo = self.photos[index % len(self.photos)]
        _, h, w = photo.shape
        y0 = int(torch.randint(0, h - self.patch + 1, (), generator=g))
        x0 = int(torch.randint(0, w - self.patch + 1, (), generator=g))
        hr = photo[:, y0 : y0 + self.patch, x0 : x0 + self.patch].float().div(127.5).sub(1)
        hflip, vflip, transpose = (torch.rand(3, generator=g) < 0.5).tolist()
        if hflip:
            hr = hr.flip(-1)
        if vflip:
            hr = hr.flip(-2)
        if transpose:
            hr = hr.transpose(-1, -2)
        hr = hr.contiguous()
        return {"lr": downscale(hr[None], self.scale)[0], "hr": hr}
