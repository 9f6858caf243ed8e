"""`upscale` over image files: read (any mode), upscale, write NAME.png at `scale` times the
size. Alpha is set aside and resized with bicubic (it never enters the network). Every output
is planned (and checked) before the first is written; each is written atomically. The output is
made band by band in 8 bits (`upscale_to_uint8`), so a 4000x3000 photo's
16000x12000 output is never held whole as float."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from PIL import Image

from mosaicgan.data.images import probe_image
from mosaicgan.infer.image_io import load_image, write_array
from mosaicgan.infer.outputs import plan_outputs, png_names
from mosaicgan.infer.results import ItemResult
from mosaicgan.infer.upscale.bands import upscale_to_uint8
from mosaicgan.infer.upscale.upscaler import Upscaler


def check_inputs(paths: list[Path], *, out_dir: str | Path, overwrite: bool = False,
                 mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """Before the first write: the outputs (NAME.png) and every input of this process decodes."""
    plan = plan_outputs(paths, out_dir, names=png_names(), overwrite=overwrite, mine=mine)
    for p in paths if mine is None else [p for p in paths if p in mine]:
        probe_image(p, decode=True)
    return plan


def upscale_image(path: Path, outputs: list[Path], *, upscaler: Upscaler) -> ItemResult:
    """Upscale the image `path` into outputs[0]."""
    item = load_image(path)
    out = upscale_to_uint8(upscaler, item.image)
    alpha = item.alpha
    if alpha is not None:
        alpha = alpha.resize((out.shape[1], out.shape[0]), Image.BICUBIC)
    del item  # the input as float (0.14 GB at 4000x3000) is not needed while writing
    return ItemResult(input=path, kind="image", outputs=[write_array(out, outputs[0], alpha=alpha)])
