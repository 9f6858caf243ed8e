"""Mask files: the one place that reads and writes them and knows where they are found.

In memory a mask is a float tensor (H, W) in [0, 1] (1 = inside the region; values between
are a soft edge). On disk it is a grey image: 0 outside, 255 inside. Where masks live:
- `add --mask FILE|DIR`: one file for every image, or a folder with NAME.ext or NAME_mask.ext
  per image (`find_mask_file`);
- `add --save-mask`: NAME_mask.png beside the output (named by `outputs.with_mask_name`);
- `make-pairs`: OUT/masks/SPLIT/NAME.png per pair, which `eval --masks` reads (`pair_mask_path`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from mosaicgan.data.images import IMAGE_EXTENSIONS, pil_to_tensor, read_image, save_image, tensor_to_pil
from mosaicgan.errors import UserError


def read_mask(path: str | Path, *, size: tuple[int, int] | None = None, what: str = "the image") -> torch.Tensor:
    """A mask file as (H, W) in [0, 1]. With `size` (width, height), a mask of another size is a
    UserError naming the file and `what` it should fit."""
    mask = (pil_to_tensor(read_image(path, mode="L"))[0] + 1) / 2
    if size is not None and (mask.shape[1], mask.shape[0]) != tuple(size):
        raise UserError(f"mask is {mask.shape[1]}x{mask.shape[0]} but {what} is {size[0]}x{size[1]}", path=path)
    return mask


def write_mask(mask: torch.Tensor, path: str | Path) -> Path:
    """Write a mask (H, W) in [0, 1] as a grey image (atomically)."""
    if mask.ndim != 2:
        raise ValueError(f"expected a mask (H, W), got shape {tuple(mask.shape)}")
    return save_image(tensor_to_pil(mask[None].float() * 2 - 1), path)


def find_mask_file(mask: str | Path, image_path: str | Path | None) -> Path:
    """The mask of an image: `mask` itself when it is a file, else NAME.ext or NAME_mask.ext
    (any image extension) in the folder `mask`."""
    folder = Path(mask)
    if folder.is_file():
        return folder
    if image_path is None:
        raise UserError("a folder of masks needs the image's file name", path=folder)
    stem = Path(image_path).stem
    for name in (stem, f"{stem}_mask"):
        for ext in IMAGE_EXTENSIONS:
            for candidate in (folder / f"{name}{ext}", folder / f"{name}{ext.upper()}"):
                if candidate.is_file():
                    return candidate
    raise UserError(f"no mask for {Path(image_path).name} (looked for {stem}.png or {stem}_mask.png "
                    "and other image extensions)", path=folder)


def pair_mask_path(masks: str | Path, *, split: str, pair: str | Path) -> Path:
    """Where the mask of a paired example is: MASKS/SPLIT/NAME.png as make-pairs writes it, or
    MASKS/NAME.png when MASKS has no SPLIT folder."""
    masks = Path(masks)
    base = masks / split if (masks / split).is_dir() else masks
    return base / f"{Path(pair).stem}.png"
