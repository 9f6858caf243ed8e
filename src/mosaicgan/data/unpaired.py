"""Unpaired data for CycleGAN: two folders of images with no correspondence between them.

The reference layout is ROOT/trainA, ROOT/trainB (and testA, testB); ROOT/A/train, ROOT/B/train
(the paired "folders" layout) also works, its pairing ignored. The domains may hold different
numbers of images: an epoch has max(len A, len B) items, as in the reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mosaicgan.data.decode_cache import DecodeCache, cached_arrays
from mosaicgan.data.images import array_to_tensor, array_to_uint8_tensor, list_images, probe_image, read_image
from mosaicgan.data.paired import MODES, check_channels, folder_pair_dirs
from mosaicgan.data.preprocess import Geometry, apply_geometry, apply_resize, crop_and_flip, sample_geometry
from mosaicgan.errors import UserError


def domain_dirs(root: str | Path, *, split: str, layout: str = "auto") -> tuple[Path, Path]:
    """The A and B folders of `split`: ROOT/{split}A and ROOT/{split}B, or the folders layout."""
    root = Path(root)
    if not root.is_dir():
        raise UserError("no such data folder", path=root)
    if layout == "aligned":
        raise UserError("unpaired training needs two folders (trainA/ and trainB/), not the aligned A|B layout",
                        path=root)
    unaligned = (root / f"{split}A", root / f"{split}B")
    if layout in ("auto", "unaligned"):
        if unaligned[0].is_dir() and unaligned[1].is_dir():
            return unaligned
        if layout == "unaligned":
            missing = next(d for d in unaligned if not d.is_dir())
            raise UserError(f"expected {split}A/ and {split}B/ folders (missing {missing.name}/)", path=root)
    dirs = folder_pair_dirs(root, split)
    if dirs is None:
        raise UserError(f"expected {split}A/ and {split}B/ folders (or A/{split}, B/{split})", path=root)
    return dirs


class UnpairedDataset(Dataset):
    """Items are dicts {"a": (C_in, H, W), "b": (C_out, H', W') in [-1, 1], "path_a", "path_b"}.

    Indexed by (index, sample_seed) from `EpochSampler`: A is image `index % len(A)`; B is drawn
    at random from the seed (or is image `index % len(B)` with `serial`), so every epoch pairs
    each A with different Bs. A and B get independent crops and flips: nothing ties them.
    A plain integer index is deterministic (B in order, centre crop, no flip).
    After `use_decode_cache`, samples come from files decoded and resized once
    (data/decode_cache.py): the same tensors.
    """

    IMAGE_KEYS = ("a", "b")

    def __init__(
        self,
        *,
        root: str | Path,
        split: str = "train",
        layout: str = "auto",
        serial: bool = False,
        preprocess: str = "resize_and_crop",
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        in_channels: int = 3,
        out_channels: int = 3,
        max_items: int = 0,
    ) -> None:
        check_channels(in_channels, out_channels)
        dir_a, dir_b = domain_dirs(root, split=split, layout=layout)
        self.paths_a, self.paths_b = list_images(dir_a), list_images(dir_b)
        if max_items:
            self.paths_a, self.paths_b = self.paths_a[:max_items], self.paths_b[:max_items]
        self.serial = serial
        self.preprocess, self.load_size, self.crop_size, self.flip = preprocess, load_size, crop_size, flip
        self.mode_a, self.mode_b = MODES[in_channels], MODES[out_channels]
        self.split = split
        # Decode every file now, so a bad or truncated one fails before training starts, naming it.
        self.sizes_a = [probe_image(p, decode=True) for p in self.paths_a]
        self.sizes_b = [probe_image(p, decode=True) for p in self.paths_b]
        self.cache: DecodeCache | None = None
        self.as_uint8 = False  # as PairedDataset.as_uint8

    def _geometry(self, size: tuple[int, int], gen: torch.Generator | None) -> Geometry:
        return sample_geometry(size, preprocess=self.preprocess, load_size=self.load_size, crop_size=self.crop_size,
                               flip=self.flip, generator=gen)

    def _domains(self) -> tuple[tuple[list[Path], list[tuple[int, int]], str], ...]:
        return ((self.paths_a, self.sizes_a, self.mode_a), (self.paths_b, self.sizes_b, self.mode_b))

    def use_decode_cache(self, folder: Path, *, build: bool = True) -> DecodeCache | None:
        """As PairedDataset.use_decode_cache: both domains in one file, A's images first."""
        def arrays() -> Iterator[np.ndarray]:
            for paths, sizes, mode in self._domains():
                for p, size in zip(paths, sizes, strict=True):
                    img = read_image(p, mode="RGB").convert(mode)
                    yield np.asarray(apply_resize(img, self._geometry(size, None)))

        nbytes = sum(w * h * len(mode) for _, sizes, mode in self._domains()
                     for w, h in (self._geometry(size, None).resize or size for size in sizes))
        recipe = {"data": "unpaired", "preprocess": self.preprocess, "load_size": self.load_size,
                  "crop_size": self.crop_size, "modes": [self.mode_a, self.mode_b], "count_a": len(self.paths_a)}
        self.cache = cached_arrays(Path(folder) / f"unpaired-{self.split}.u8", build=build, recipe=recipe,
                                   nbytes=nbytes, files=self.paths_a + self.paths_b, arrays=arrays)
        return self.cache

    def __len__(self) -> int:
        return max(len(self.paths_a), len(self.paths_b))

    def pick_b(self, index: int, gen: torch.Generator | None) -> int:
        if self.serial or gen is None:
            return index % len(self.paths_b)
        return int(torch.randint(0, len(self.paths_b), (1,), generator=gen))

    def _load(self, domain: int, i: int, gen: torch.Generator | None) -> torch.Tensor:
        paths, sizes, mode = self._domains()[domain]
        geometry = self._geometry(sizes[i], gen)
        if self.cache is not None:
            arr = crop_and_flip(self.cache[i + domain * len(self.paths_a)], geometry)
        else:
            arr = np.asarray(apply_geometry(read_image(paths[i], mode="RGB").convert(mode), geometry), dtype=np.uint8)
        return array_to_uint8_tensor(arr) if self.as_uint8 else array_to_tensor(arr)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, None)
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        # One generator, drawn in a fixed order (B's index, A's geometry, B's geometry), so an
        # item depends on its seed alone and a resumed run sees the same pairs and crops.
        index_b = self.pick_b(index, gen)
        index_a = index % len(self.paths_a)
        path_a, path_b = self.paths_a[index_a], self.paths_b[index_b]
        return {
            "a": self._load(0, index_a, gen),
            "b": self._load(1, index_b, gen),
            "path_a": str(path_a),
            "path_b": str(path_b),
        }
