"""Labelled images in class folders (DIR/<class>/*.jpg), for training a classifier.

Class names are the sub-folder names, sorted, so the label order is the same on every machine.
A validation split is held out per class (stratified) by a seeded draw, so it is the same on
every run and on resume. Images are resized by their short side as `ImageClassifier` does at
inference; training adds a random square crop and a flip drawn from the sampler's seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from mosaicgan.data.images import list_images, pil_to_tensor, probe_image, read_image
from mosaicgan.errors import UserError


@dataclass(frozen=True)
class ClassSplit:
    labels: list[str]
    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]


def class_folders(root: str | Path) -> list[Path]:
    """The class sub-folders of `root`, sorted by name; at least two."""
    root = Path(root)
    if not root.is_dir():
        raise UserError("no such data folder", path=root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise UserError("a classifier needs one sub-folder of images per class, at least two", path=root)
    return folders


def split_classes(root: str | Path, *, val_fraction: float, seed: int) -> ClassSplit:
    """Every image of every class folder, with round(n * val_fraction) of each class (at least
    one when the fraction is above 0) held out for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"data.val_fraction must lie in [0, 1), got {val_fraction}")
    folders = class_folders(root)
    train, val = [], []
    for label, folder in enumerate(folders):
        images = list_images(folder)
        n_val = round(len(images) * val_fraction)
        if val_fraction > 0:
            n_val = max(1, n_val)
        if len(images) - n_val < 1:
            raise UserError(f"class {folder.name!r} has {len(images)} images: too few to hold some out", path=folder)
        gen = torch.Generator().manual_seed(seed * 1_000_003 + label)
        order = torch.randperm(len(images), generator=gen).tolist()
        held = set(order[:n_val])
        for i, path in enumerate(images):
            (val if i in held else train).append((path, label))
    return ClassSplit([f.name for f in folders], train, val)


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    scale = size / min(img.size)
    new = (max(size, round(img.width * scale)), max(size, round(img.height * scale)))
    return img.resize(new, Image.Resampling.BICUBIC) if new != img.size else img


class ClassFolderDataset(Dataset):
    """Items {"image": (3, crop, crop) in [-1, 1], "label": int, "path": str}.

    Indexed by (index, sample_seed) from `EpochSampler`: short side to `load_size`, a random
    crop_size square, a random flip. Indexed by a plain int: short side to `crop_size`, centre
    crop, no flip (validation).
    """

    def __init__(self, items: list[tuple[Path, int]], *, load_size: int = 256, crop_size: int = 224,
                 flip: bool = True) -> None:
        if not items:
            raise UserError("no images in this split")
        if crop_size > load_size:
            raise UserError(f"data.crop_size ({crop_size}) must not exceed data.load_size ({load_size})")
        for path, _ in items:  # every file decoded now: a bad one fails before training, naming it
            probe_image(path, decode=True)
        self.items, self.load_size, self.crop_size, self.flip = items, load_size, crop_size, flip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, None)
        path, label = self.items[index]
        img = read_image(path, mode="RGB")
        c = self.crop_size
        if seed is None:
            img = resize_short_side(img, c)
            x, y = (img.width - c) // 2, (img.height - c) // 2
            flip = False
        else:
            gen = torch.Generator().manual_seed(seed)
            img = resize_short_side(img, self.load_size)
            x = int(torch.randint(0, img.width - c + 1, (), generator=gen))
            y = int(torch.randint(0, img.height - c + 1, (), generator=gen))
            flip = self.flip and bool(torch.rand((), generator=gen) < 0.5)
        img = img.crop((x, y, x + c, y + c))
        if flip:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return {"image": pil_to_tensor(img), "label": label, "path": str(path)}
