"""Score an upscaler as the super-resolution literature does: each high-resolution image is
cropped to a multiple of the scale, downscaled (`ops.sr.downscale`: bicubic with antialiasing,
8-bit), upscaled back, and compared on the Y channel (BT.601) with `scale` pixels of border
cropped: PSNR and SSIM per image, averaged; beside bicubic upscaling of the same input. Also the
grid an upscaler can print: `metrics.periodic_energy_db` at the scale's period (dB; the
original's own value is given for reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mosaicgan.data.images import list_images, pil_to_tensor, read_image
from mosaicgan.errors import UserError
from mosaicgan.infer.upscale.upscaler import Upscaler
from mosaicgan.metrics import periodic_energy_db, psnr_y, ssim_y
from mosaicgan.ops.sr import crop_to_multiple, downscale, upscale_bicubic


def hr_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError("--data: not a folder of high-resolution images", path=folder)
    return list_images(folder)  # the rule of every data folder: a non-image file is named and refused


def evaluate_sr(upscaler: Upscaler, *, root: str | Path, progress=None, on_image=None) -> dict[str, Any]:
    """Mean Y-channel PSNR (dB) and SSIM of the upscaler ("model") and of bicubic on the images in `root`.
    on_image(name, pictures, scores): per image (an HTML gallery): pictures {"bicubic", "model",
    "target"} (C, H, W) in [-1, 1]; scores {"model": (psnr, ssim), "bicubic": ...}."""
    scale = upscaler.scale
    rows: dict[str, list[tuple[float, float, float]]] = {"model": [], "bicubic": []}
    original_grid = []
    per_image = []
    for path in hr_images(root):
        hr = crop_to_multiple(pil_to_tensor(read_image(path, mode="RGB"))[None], scale)
        small = downscale(hr, scale)
        preds = {"model": upscaler(small[0])[None], "bicubic": upscale_bicubic(small, scale)}
        scores = {}
        for name, pred in preds.items():
            score = (float(psnr_y(pred, hr, border=scale)), float(ssim_y(pred, hr, border=scale)),
                     float(periodic_energy_db(pred, period=scale, border=scale)))
            rows[name].append(score)
            scores[name] = {"psnr": score[0], "ssim": score[1], "grid_db": score[2]}
        original_grid.append(float(periodic_energy_db(hr, period=scale, border=scale)))
        per_image.append({"image": path.name, **scores, "original": {"grid_db": original_grid[-1]}})
        if on_image is not None:
            on_image(path.name, {"bicubic": preds["bicubic"][0], "model": preds["model"][0], "target": hr[0]},
                     {name: (s["psnr"], s["ssim"]) for name, s in scores.items()})
        if progress is not None:
            progress.update(1)
    n = len(per_image)
    result: dict[str, Any] = {"data": str(root), "images": n, "scale": scale,
                              "metric": f"Y channel (BT.601), {scale}-pixel border cropped"}
    for name, scores in rows.items():
        result[name] = {"psnr": sum(s[0] for s in scores) / n, "ssim": sum(s[1] for s in scores) / n,
                        "grid_db": sum(s[2] for s in scores) / n}
    result["original"] = {"grid_db": sum(original_grid) / n}
    result["per_image"] = per_image
    return result
