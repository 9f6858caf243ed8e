"""Score a translator on paired data: PSNR and SSIM of outputs against targets, beside the
identity baseline (the input taken as the output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mosaicgan.data.images import pil_to_tensor
from mosaicgan.data.paired import PairedDataset
from mosaicgan.infer.translator import Translator
from mosaicgan.metrics import psnr, ssim


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
    progress=None,
) -> dict[str, Any]:
    """Mean PSNR (dB) and SSIM at each image's full size (no resizing or cropping)."""
    data = PairedDataset(root=root, split=split, layout=layout, direction=direction, max_items=max_items,
                         in_channels=translator.in_channels, out_channels=translator.out_channels)
    sums = {"model": [0.0, 0.0], "identity": [0.0, 0.0]}
    for i in range(len(data)):
        a_img, b_img = data.load_pair(i)
        a, b = pil_to_tensor(a_img)[None], pil_to_tensor(b_img)[None]
        out = translator(a)
        for name, pred in (("model", out), ("identity", match_channels(a, b.shape[1]))):
            sums[name][0] += float(psnr(pred, b))
            sums[name][1] += float(ssim(pred, b))
        if progress is not None:
            progress.update(1)
    n = len(data)
    return {
        "split": split,
        "images": n,
        "model": {"psnr": sums["model"][0] / n, "ssim": sums["model"][1] / n},
        "identity": {"psnr": sums["identity"][0] / n, "ssim": sums["identity"][1] / n},
    }
