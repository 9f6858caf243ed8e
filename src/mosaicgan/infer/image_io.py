"""Image files in and out of the per-frame cores: the one place that reads an image with its
alpha channel (upright by its EXIF orientation) and writes a result beside nothing.

A frame is a tensor (C, H, W) in [-1, 1]: C = 3 (RGB) or 1 (grey). Alpha never enters a
core: it is read here, set aside, and put back on the output unchanged, so a mosaic or a
translation never touches transparency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mosaicgan.data.images import pil_to_tensor, read_image, save_image, tensor_to_uint8, uint8_to_pil

GREY_MODES = ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")

# Outputs that keep the input's format: JPEG at quality 95 with full-resolution colour (4:4:4),
# so block edges stay sharp; WebP lossless; PNG, BMP, TIFF are lossless anyway.
SAVE_OPTIONS = {".jpg": {"quality": 95, "subsampling": 0}, ".jpeg": {"quality": 95, "subsampling": 0},
                ".webp": {"lossless": True}}


@dataclass
class LoadedImage:
    """image: (C, H, W) in [-1, 1]; alpha: the alpha band (mode "L") or None."""

    image: torch.Tensor
    alpha: Image.Image | None = None


def has_alpha(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            return img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    except Exception:  # noqa: BLE001  (read_image gives the one-line error when the file is read)
        return False


def load_image(path: str | Path, *, channels: int | None = None) -> LoadedImage:
    """Read an image file (any mode, turned upright by its EXIF orientation) as a frame.

    channels: 1 or 3 converts to grey or RGB (what a network takes); None keeps grey files
    grey and makes every other file RGB (what a mosaic should write back). An image with
    transparency is read as RGB plus its alpha band. A bad file is a UserError naming it.
    """
    path = Path(path)
    alpha = None
    if has_alpha(path):
        rgba = read_image(path, mode="RGBA")
        alpha, img = rgba.getchannel("A"), rgba.convert("RGB")
    else:
        img = read_image(path, mode="RGB")
        if channels is None:
            with Image.open(path) as probe:
                if probe.mode in GREY_MODES:
                    img = img.convert("L")
    if channels == 1:
        img = img.convert("L")
    elif channels not in (None, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels}")
    return LoadedImage(pil_to_tensor(img), alpha)


def write_image(image: torch.Tensor, path: str | Path, *, alpha: Image.Image | None = None,
                options: dict | None = None, source: Path | None = None) -> Path:
    """Write a frame (C, H, W) in [-1, 1] atomically, with `alpha` put back when given, in the
    format of `path`'s extension (see SAVE_OPTIONS; `options` adds to or replaces those, e.g.
    a JPEG quality or metadata to write). The input's metadata (EXIF, GPS) is never copied.
    source: the input the frame was read from; a GIF output keeps its palette (`_on_palette`)."""
    return write_array(tensor_to_uint8(image), path, alpha=alpha, options=options, source=source)


def write_array(image: np.ndarray, path: str | Path, *, alpha: Image.Image | None = None,
                options: dict | None = None, source: Path | None = None) -> Path:
    """`write_image` for a frame already in 8 bits, a uint8 array (H, W, C) with C in 1, 3: no
    float copy of the image is made, only PIL's own (a 16000 x 12000 RGB output is 0.6 GB here
    and 0.8 GB in PIL, against 2.3 GB as float32)."""
    path = Path(path)
    options = {**SAVE_OPTIONS.get(path.suffix.lower(), {}), **(options or {})}
    if path.suffix.lower() == ".gif" and source is not None and image.shape[2] == 3:
        img, extra = _on_palette(image, alpha, source=Path(source))
        if img is not None:
            return save_image(img, path, **{**options, **extra})
    img = uint8_to_pil(image)
    if alpha is not None:
        img.putalpha(alpha)
    return save_image(img, path, **options)


def _on_palette(image: np.ndarray, alpha: Image.Image | None, *, source: Path) -> tuple[Image.Image | None, dict]:
    """A GIF output on its input's palette: every pixel that is the input's keeps the input's
    palette index, a changed pixel takes the nearest of the input's opaque colours, and the
    transparent ones the input's transparent index. (Saving RGB as GIF would choose a new
    palette and move pixels all over the image, outside the region too.) (None, {}) when the
    input has no palette to keep (a grey GIF is written grey, without loss)."""
    with Image.open(source) as src:
        if src.mode != "P" or src.size != (image.shape[1], image.shape[0]):
            return None, {}
        indices = np.asarray(src).copy()
        palette = np.asarray(src.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
        transparent = src.info.get("transparency")
    transparent = transparent if isinstance(transparent, int) and transparent < len(palette) else None
    was = palette[np.minimum(indices, len(palette) - 1)]
    changed = (was != image).any(axis=2)
    if transparent is not None:
        changed &= indices != transparent
    opaque = np.array([k for k in range(len(palette)) if k != transparent])
    ys, xs = np.nonzero(changed)
    colours = palette[opaque].astype(np.int32)
    for start in range(0, len(ys), 1 << 16):  # nearest colour, in chunks (memory: 64k x 256 distances)
        y, x = ys[start:start + (1 << 16)], xs[start:start + (1 << 16)]
        d = ((image[y, x].astype(np.int32)[:, None, :] - colours[None]) ** 2).sum(axis=2)
        indices[y, x] = opaque[d.argmin(axis=1)]
    extra: dict = {"optimize": False}
    if transparent is not None:
        extra["transparency"] = transparent
        if alpha is not None:
            indices[np.asarray(alpha) < 128] = transparent
    out = Image.fromarray(indices.astype(np.uint8))
    out.putpalette(palette.reshape(-1).tolist())  # (an "L" image with a palette becomes "P")
    return out, extra


def as_frame(image: torch.Tensor | np.ndarray | Image.Image) -> torch.Tensor:
    """A frame (C, H, W) in [-1, 1] from a tensor of that form, a uint8 array (H, W) or
    (H, W, 3) as video decoders give them, or a PIL image (converted to RGB unless grey)."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f"expected a frame (C, H, W) with C in 1, 3; got {tuple(image.shape)}")
        return image
    if isinstance(image, Image.Image):
        return pil_to_tensor(image if image.mode == "L" else image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
        raise ValueError(f"expected a uint8 array (H, W) or (H, W, 3), got {arr.dtype} {arr.shape}")
    return pil_to_tensor(Image.fromarray(arr if arr.ndim == 2 or arr.shape[2] == 3 else arr[:, :, 0]))


def to_rgb(image: torch.Tensor) -> torch.Tensor:
    """A grey frame (1, H, W) repeated to RGB; an RGB frame unchanged."""
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image
