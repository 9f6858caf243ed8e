"""`upscale` over image files: read (any mode), upscale, write NAME.png at `scale` times the
size. Alpha is set aside and resized with bicubic (it never enters the network). Every output
is planned (and checked) before the first is written; each is written atomically."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from mosaicgan.data.images import probe_image
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.outputs import plan_outputs, png_names
from mosaicgan.infer.upscaler import Upscaler


def upscale_files(paths: list[Path], *, upscaler: Upscaler, out_dir: str | Path, progress=None,
                  overwrite: bool = False) -> list[Path]:
    """Upscale every image in `paths` into `out_dir`; returns the files written."""
    targets = plan_outputs(paths, out_dir, names=png_names(), overwrite=overwrite)
    for p in paths:  # every input decodes before the first write
        probe_image(p, decode=True)
    written = []
    for path in paths:
        item = load_image(path)
        out = upscaler(item.image)
        alpha = item.alpha
        if alpha is not None:
            alpha = alpha.resize((out.shape[-1], out.shape[-2]), Image.BICUBIC)
        written.append(write_image(out, targets[path][0], alpha=alpha))
        if progress is not None:
            progress.update(1)
    return written
