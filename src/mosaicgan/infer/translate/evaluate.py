"""Score a translator on paired data: PSNR and SSIM of outputs against targets, beside the
identity baseline (the input taken as the output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mosaicgan.data.images import pil_to_tensor
from mosaicgan.data.paired import PairedDataset
from mosaicgan.errors import UserError
from mosaicgan.infer.mask_io import pair_mask_path, read_mask
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.metrics import psnr, ssim
from mosaicgan.ops.blend import composite


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    return x.mean(dim=1, keepdim=True)  # RGB -> grey, for a grey target


def evaluate(
    translator: Translator,
    *,
    root: str | Path,
    split: str = "test",
    layout: str = "auto",
    direction: str = "AtoB",
    max_items: int = 0,
    masks: str | Path | None = None,
    progress=None,
    on_pair=None,
) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM at each image's full size (no resizing or cropping).

    With `masks` (a folder of 0..255 masks named like the pairs, in MASKS/SPLIT/ or MASKS/,
    as make-pairs writes them) a third row, "model_in_mask", scores the output blended into
    the input through the mask: how a restorer is used, where every pixel outside the region
    keeps its input value, so only the restored region is judged against the identity baseline.
    on_pair(name, pictures, scores): called per pair (an HTML gallery): pictures {"input",
    "output", "target"} (C, H, W) in [-1, 1]; scores {"model": (psnr, ssim), "identity": ...}.
    """
    data = PairedDataset(root=root, split=split, layout=layout, direction=direction, max_items=max_items,
                         in_channels=translator.in_channels, out_channels=translator.out_channels)
    if masks is not None and not Path(masks).is_dir():
        raise UserError("--masks: no such folder", path=masks)
    names = ["model", "identity"] + (["model_in_mask"] if masks is not None else [])
    sums = {name: [0.0, 0.0] for name in names}
    for i in range(len(data)):
        a_img, b_img = data.load_pair(i)
        a, b = pil_to_tensor(a_img)[None], pil_to_tensor(b_img)[None]
        out = translator(a)
        preds = {"model": out, "identity": match_channels(a, b.shape[1])}
        if masks is not None:
            mask = read_pair_mask(Path(masks), split=split, pair=data.pairs[i][0], size=a_img.size)
            preds["model_in_mask"] = composite(preds["identity"], out, mask)
        scores = {}
        for name, pred in preds.items():
            scores[name] = (float(psnr(pred, b)), float(ssim(pred, b)))
            sums[name][0] += scores[name][0]
            sums[name][1] += scores[name][1]
        if on_pair is not None:
            on_pair(data.pairs[i][0].name, {"input": a[0], "output": out[0], "target": b[0]}, scores)
        if progress is not None:
            progress.update(1)
    n = len(data)
    result: dict[str, Any] = {"split": split, "images": n}
    for name in names:
        result[name] = {"psnr": sums[name][0] / n, "ssim": sums[name][1] / n}
    return result


def read_pair_mask(folder: Path, *, split: str, pair: Path, size: tuple[int, int]) -> torch.Tensor:
    """The mask of one pair, (H, W) in [0, 1]; missing or of the wrong size: UserError naming it."""
    return read_mask(pair_mask_path(folder, split=split, pair=pair), size=size, what="its pair's input")
