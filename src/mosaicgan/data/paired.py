"""Aligned (paired) data for pix2pix.

Two layouts, as users of the reference implementation have them:
- aligned: each file holds A and B side by side (A left), in ROOT/train, ROOT/val, ROOT/test;
- folders: ROOT/A and ROOT/B with matching file names (optionally ROOT/A/train, ROOT/B/train
  or ROOT/train/A, ROOT/train/B, or CycleGAN's ROOT/trainA, ROOT/trainB).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from mosaicgan.choices import DIRECTIONS
from mosaicgan.data.decode_cache import DecodeCache, cached_arrays
from mosaicgan.data.images import array_to_tensor, array_to_uint8_tensor, list_images, probe_image, read_image
from mosaicgan.data.preprocess import Geometry, apply_geometry, apply_resize, crop_and_flip, sample_geometry
from mosaicgan.errors import UserError

MODES = {1: "L", 3: "RGB"}


def check_channels(*channels: int) -> None:
    for ch in channels:
        if ch not in MODES:
            raise UserError(f"images must have 1 or 3 channels, got {ch}")


def split_folder(root: Path, split: str) -> Path:
    """ROOT/split when it exists, else ROOT itself (a folder of images with no splits).

    A ROOT with other split folders but not this one is an error naming the split, not a
    complaint about whatever non-image file sits in ROOT."""
    if (root / split).is_dir():
        return root / split
    splits = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if splits:
        raise UserError(f"no {split!r} split here (its sub-folders: {', '.join(splits)})", path=root)
    return root


def folder_pair_dirs(root: Path, split: str) -> tuple[Path, Path] | None:
    candidates = (
        (root / "A" / split, root / "B" / split),
        (root / split / "A", root / split / "B"),
        (root / f"{split}A", root / f"{split}B"),  # CycleGAN's layout, paired by file name
        (root / "A", root / "B"),
    )
    for a, b in candidates:
        if a.is_dir() and b.is_dir():
            return a, b
    return None


def detect_layout(root: Path) -> str:
    if folder_pair_dirs(root, "train") or folder_pair_dirs(root, "test"):
        return "folders"
    if any((root / d).is_dir() for d in ("trainA", "trainB", "testA", "testB")):
        return "unaligned"
    return "aligned"


def discover_pairs(root: str | Path, *, split: str, layout: str = "auto") -> list[tuple[Path, Path | None]]:
    """(A path, B path) per example; B is None in the aligned layout (both halves in one file)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError("no such data folder", path=root)
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "aligned":
        return [(p, None) for p in list_images(split_folder(root, split))]
    if layout in ("folders", "unaligned"):
        dirs = folder_pair_dirs(root, split)
        if dirs is None:
            raise UserError(f"expected A/ and B/ folders (or A/{split}, B/{split}, or {split}A/, {split}B/)", path=root)
        a_files = {p.stem: p for p in list_images(dirs[0])}
        b_files = {p.stem: p for p in list_images(dirs[1])}
        missing = sorted(set(a_files) ^ set(b_files))
        if missing:
            raise UserError(f"A and B file names differ ({len(missing)} without a partner, e.g. {missing[0]!r})",
                            path=dirs[0].parent)
        return [(a_files[k], b_files[k]) for k in sorted(a_files)]
    raise UserError(f"layout {layout!r} is not paired data (pix2pix needs aligned or folders)", path=root)


class PairedDataset(Dataset):
    """Items are dicts {"a": (C_in, H, W), "b": (C_out, H, W) in [-1, 1], "path": str}.

    Indexed by (index, sample_seed) from `EpochSampler` (random crop/flip drawn from the
    seed) or by a plain index (deterministic: centre crop, no flip). `direction="BtoA"`
    swaps the roles of the two images. After `use_decode_cache`, samples come from files decoded
    and resized once (data/decode_cache.py): the same tensors.
    """

    IMAGE_KEYS = ("a", "b")

    def __init__(
        self,
        *,
        root: str | Path,
        split: str = "train",
        layout: str = "auto",
        direction: str = "AtoB",
        preprocess: str = "resize_and_crop",
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        in_channels: int = 3,
        out_channels: int = 3,
        max_items: int = 0,
    ) -> None:
        if direction not in DIRECTIONS:
            raise UserError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        check_channels(in_channels, out_channels)
        self.pairs = discover_pairs(root, split=split, layout=layout)
        if max_items:
            self.pairs = self.pairs[:max_items]
        self.swap = direction == "BtoA"
        self.preprocess, self.load_size, self.crop_size, self.flip = preprocess, load_size, crop_size, flip
        self.in_mode, self.out_mode = MODES[in_channels], MODES[out_channels]
        self.split = split
        # Decode every file now, so a bad or truncated one fails before training starts, naming it.
        self.sizes = []
        for a, b in self.pairs:
            w, h = probe_image(a, decode=True)
            if b is not None:
                probe_image(b, decode=True)
            else:
                w //= 2
            self.sizes.append((w, h))
        self.cache: DecodeCache | None = None
        # Images as uint8 (C, H, W) instead, for the user of the batch to convert with
        # `uint8_to_unit` (the training loop does it on the device; IMAGE_KEYS names them).
        self.as_uint8 = False

    def _geometry(self, index: int, gen: torch.Generator | None) -> Geometry:
        return sample_geometry(self.sizes[index], preprocess=self.preprocess, load_size=self.load_size,
                               crop_size=self.crop_size, flip=self.flip, generator=gen)

    def use_decode_cache(self, folder: Path, *, build: bool = True) -> DecodeCache | None:
        """Serve samples from the decode cache in `folder` (data/decode_cache.py): reused if it
        matches these files, else made (unless `build` is false); None, and samples decoded per
        sample as before, when there is none to use."""
        def arrays() -> Iterator[np.ndarray]:
            for i in range(len(self.pairs)):
                fixed = self._geometry(i, None)
                for img in self.load_pair(i):
                    yield np.asarray(apply_resize(img, fixed))

        channels = len(self.in_mode) + len(self.out_mode)
        nbytes = sum(w * h * channels for w, h in (self._geometry(i, None).resize or self.sizes[i]
                                                   for i in range(len(self.pairs))))
        recipe = {"data": "pairs", "swap": self.swap, "preprocess": self.preprocess, "load_size": self.load_size,
                  "crop_size": self.crop_size, "modes": [self.in_mode, self.out_mode],
                  "aligned": [b is None for _, b in self.pairs]}
        self.cache = cached_arrays(Path(folder) / f"pairs-{self.split}.u8", build=build, recipe=recipe, nbytes=nbytes,
                                   files=[f for pair in self.pairs for f in pair if f is not None], arrays=arrays)
        return self.cache

    def __len__(self) -> int:
        return len(self.pairs)

    def load_pair(self, index: int) -> tuple[Image.Image, Image.Image]:
        """The raw (A, B) images of one example in the training direction, before preprocessing."""
        path_a, path_b = self.pairs[index]
        if path_b is None:
            both = read_image(path_a, mode="RGB")
            w, h = both.size
            a, b = both.crop((0, 0, w // 2, h)), both.crop((w // 2, 0, w // 2 * 2, h))
        else:
            a, b = read_image(path_a, mode="RGB"), read_image(path_b, mode="RGB")
            if a.size != b.size:
                raise UserError(f"A is {a.size[0]}x{a.size[1]} but its B partner is {b.size[0]}x{b.size[1]}",
                                path=path_b)
        if self.swap:
            a, b = b, a
        return a.convert(self.in_mode), b.convert(self.out_mode)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, None)
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        geometry = self._geometry(index, gen)
        if self.cache is not None:
            arrays = [crop_and_flip(self.cache[2 * index + k], geometry) for k in (0, 1)]
        else:
            arrays = [np.asarray(apply_geometry(img, geometry), dtype=np.uint8) for img in self.load_pair(index)]
        a, b = (array_to_uint8_tensor(x) if self.as_uint8 else array_to_tensor(x) for x in arrays)
        return {"a": a, "b": b, "path": str(self.pairs[index][0])}
