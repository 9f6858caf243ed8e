"""How an output is encoded when it should match its input: JPEG at the input's quality.

A JPEG carries no quality number, only its quantisation tables; libjpeg (and so Pillow and
most cameras' software) makes them by scaling the standard tables of the JPEG spec (Annex K)
with the IJG quality formula. `estimate_jpeg_quality` inverts that: the quality whose scaled
luminance table is closest to the file's. Tables from other encoders land on the nearest
quality, which is what a re-encode at "the same quality" can mean for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

# Annex K luminance table, in natural (row-major) order, as Pillow reports `quantization`.
_LUMA_Q50 = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)


def ijg_table(quality: int, base: np.ndarray = _LUMA_Q50) -> np.ndarray:
    """The IJG (libjpeg) table for `quality` in 1..100, baseline (entries 1..255)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((base * scale + 50) / 100), 1, 255)


def estimate_jpeg_quality(path: str | Path) -> int | None:
    """The IJG quality (1..100) whose luminance table is nearest to the file's; None when the
    file is not a JPEG or has no tables."""
    with Image.open(path) as img:
        tables = getattr(img, "quantization", None)
        if img.format != "JPEG" or not tables:
            return None
        luma = np.asarray(tables[min(tables)], dtype=np.float64)
    if luma.shape != (64,):
        return None
    errors = [float(np.abs(np.log(ijg_table(q)) - np.log(luma)).sum()) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def jpeg_subsampling(path: str | Path) -> int | None:
    """Pillow's subsampling code of a JPEG (0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0), or None."""
    with Image.open(path) as img:
        if img.format != "JPEG":
            return None
        code = JpegImagePlugin.get_sampling(img)
    return code if code in (0, 1, 2) else None


def matching_save_options(source: str | Path, output: str | Path, *, quality: int | None = None) -> dict[str, Any]:
    """Save options for `output` that match `source`: a JPEG at the source's estimated quality
    (or `quality`) and chroma subsampling; WebP lossless; nothing else for lossless formats."""
    suffix = Path(output).suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        q = quality if quality is not None else estimate_jpeg_quality(source)
        options: dict[str, Any] = {"quality": q if q is not None else 95}
        sampling = jpeg_subsampling(source)
        options["subsampling"] = sampling if sampling is not None else 0
        return options
    if suffix == ".webp":
        return {"lossless": True} if quality is None else {"quality": quality}
    return {}
