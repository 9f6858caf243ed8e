"""`upscale` over image files: read (any mode), upscale, write NAME.png at `scale` times the
size. Alpha is set aside and resized with bicubic (it never enters the network). Every output
is planned (and checked) before the first is written; each is written atomically. The output is
made band by band in 8 bits (`upscale_to_uint8`), so a 4000x3000 photo's
16000x12000 output is never held whole as float."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from mosaicgan.data.images import probe_image
from mosaicgan.infer.image_io import load_image, write_array
from mosaicgan.infer.outputs import plan_outputs, png_names
from mosaicgan.infer.upscale.bands import upscale_to_uint8
from mosaicgan.infer.upscale.upscaler import Upscaler


def upscale_files(paths: list[Path], *, upscaler: Upscaler, out_dir: str | Path, progress=None,
                  overwrite: bool = False) -> list[Path]:
    """Upscale every image in `paths` into `out_dir`; returns the files written."""
    targets = plan_outputs(paths, out_dir, names=png_names(), overwrite=overwrite)
    for p in paths:  # every input decodes before the first write
        probe_image(p, decode=True)
    written = []
    for path in paths:
        item = load_image(path)
        out = upscale_to_uint8(upscaler, item.image)
        alpha = item.alpha
        if alpha is not None:
            alpha = alpha.resize((out.shape[1], out.shape[0]), Image.BICUBIC)
        del item  # the input as float (0.14 GB at 4000x3000) is not needed while writing
        written.append(write_array(out, targets[path][0], alpha=alpha))
        del out, alpha  # not held while the next image is upscaled
        if progress is not None:
            progress.update(1)
    return written
