"""Writing an example's outputs: `<name>.png` (the figure) and `<name>.json` (its numbers).

Both are written atomically, so an interrupted run never leaves a half-written file that a
later reader (or test) would mistake for a result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mosaicgan.atomic import atomic_path
from mosaicgan.data.images import save_image
from mosaicgan.errors import UserError


def to_jsonable(value: Any, *, digits: int = 6) -> Any:
    """Numpy arrays and scalars, tuples and paths -> plain JSON values; floats rounded.

    Rounding keeps the files small and diff-able; six significant digits is far finer than any
    figure is drawn. Non-finite floats become null, since JSON has no NaN.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, digits=digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, digits=digits) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), digits=digits)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_outputs(
    *,
    out_dir: Path,
    name: str,
    image: Image.Image,
    seed: int,
    options: dict[str, Any],
    headline: dict[str, Any],
    figures: dict[str, Any],
) -> dict[str, Any]:
    """Write the figure and its numbers; return what was written plus the two paths.

    `headline` holds the few numbers a reader should see first (the CLI prints them);
    `figures` holds the data behind every panel of the PNG.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError("output path exists and is not a folder", path=out_dir)
    result = to_jsonable({"example": name, "seed": seed, "options": options,
                          "headline": headline, "figures": figures})
    png_path = save_image(image, out_dir / f"{name}.png")
    json_path = out_dir / f"{name}.json"
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return {**result, "files": {"png": str(png_path), "json": str(json_path)}}
