"""Geometric preprocessing of training images, as in pix2pix/CycleGAN.

`sample_geometry` draws the random parameters (crop position, flip) from an explicit
generator; `apply_geometry` is a pure function of an image and those parameters, so an
aligned pair (A, B) gets exactly the same crop and flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from mosaicgan.choices import PREPROCESS


@dataclass(frozen=True)
class Geometry:
    resize: tuple[int, int] | None  # (width, height) after resizing, or None
    crop: tuple[int, int, int, int] | None  # (left, top, width, height) after resizing, or None
    flip: bool


def _round_to(value: int, base: int) -> int:
    return max(base, int(round(value / base)) * base)


def sample_geometry(
    size: tuple[int, int],
    *,
    preprocess: str,
    load_size: int,
    crop_size: int,
    flip: bool,
    generator: torch.Generator | None,
) -> Geometry:
    """Parameters for one image of `size` (width, height). With `generator=None` the crop is
    centred and there is no flip (the deterministic version, for evaluation)."""
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
    w, h = size
    resize: tuple[int, int] | None = None
    if preprocess == "resize_and_crop":
        resize = (load_size, load_size)
    elif preprocess.startswith("scale_width"):
        # Keep the aspect ratio; never go below the crop size, which must still fit.
        resize = (load_size, max(crop_size, round(load_size * h / w)))
    elif preprocess == "none":
        # The generators need sides that are multiples of 4 (ResNet) or more (U-Net:
        # the translate command pads); training resizes to a multiple of 4, as the reference.
        resize = (_round_to(w, 4), _round_to(h, 4))
        if resize == (w, h):
            resize = None
    rw, rh = resize or (w, h)

    crop = None
    if preprocess in ("resize_and_crop", "crop", "scale_width_and_crop"):
        cw, ch = min(crop_size, rw), min(crop_size, rh)
        if generator is None:
            x, y = (rw - cw) // 2, (rh - ch) // 2
        else:
            x = int(torch.randint(0, rw - cw + 1, (1,), generator=generator))
            y = int(torch.randint(0, rh - ch + 1, (1,), generator=generator))
        crop = (x, y, cw, ch)
    do_flip = bool(flip and generator is not None and torch.rand((), generator=generator) < 0.5)
    return Geometry(resize=resize, crop=crop, flip=do_flip)


def apply_resize(img: Image.Image, geometry: Geometry) -> Image.Image:
    """The resize alone: it depends on the image's size and the preset only, never on the
    random draws, so a decode cache stores its result (data/decode_cache.py)."""
    if geometry.resize is not None and geometry.resize != img.size:
        img = img.resize(geometry.resize, Image.Resampling.BICUBIC)
    return img


def crop_and_flip(arr: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The rest of `apply_geometry` on an already resized uint8 array (H, W[, C]): the same
    pixels as PIL's crop and flip (a view; no copy)."""
    if geometry.crop is not None:
        x, y, w, h = geometry.crop
        arr = arr[y:y + h, x:x + w]
    return arr[:, ::-1] if geometry.flip else arr


def apply_geometry(img: Image.Image, geometry: Geometry) -> Image.Image:
    img = apply_resize(img, geometry)
    if geometry.crop is not None:
        x, y, w, h = geometry.crop
        img = img.crop((x, y, x + w, y + h))
    if geometry.flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


def output_size(size: tuple[int, int], *, preprocess: str, load_size: int, crop_size: int) -> tuple[int, int]:
    """The (width, height) an image of `size` has after preprocessing (no randomness involved)."""
    g = sample_geometry(size, preprocess=preprocess, load_size=load_size, crop_size=crop_size, flip=False,
                        generator=None)
    if g.crop is not None:
        return g.crop[2], g.crop[3]
    return g.resize or size
