"""`add` over image files: check every input, then read, find the region, mosaic, write.

Every input is checked before the first file is written (it decodes; a mask file has the
image's size and covers something; boxes meet the image; outputs neither overwrite an input
nor collide), so a bad input stops the run with one line and an untouched --out.

Outputs keep the input's file name and format (see `image_io.SAVE_OPTIONS`). Grey images
stay grey and an alpha channel is kept. Metadata (EXIF, GPS) is not copied: a privacy mosaic
should not leave where and when the photo was taken in the file.

Faces and CAM may find nothing in an image. Such an image is left out of --out (and listed),
not copied unchanged, so that an untouched photo is never passed off as processed.

`add_to_image` does one image; `mosaicgan.jobs` runs it over the inputs. This module only
adapts files to the per-frame cores: `image_io.load_image`,
`RegionFinder.find`, `mosaic_core.mosaic_image`, `image_io.write_image`, `mask_io.write_mask`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mosaicgan.data.images import read_image
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.mask_io import write_mask
from mosaicgan.infer.add.core import MosaicOptions, applied_mask, mosaic_generator, mosaic_image
from mosaicgan.infer.outputs import plan_outputs, same_name, with_mask_name
from mosaicgan.infer.results import NOTHING_FOUND, SHRUNK_AWAY, ItemResult
from mosaicgan.infer.add.regions import RegionFinder


def check_inputs(paths: list[Path], *, finder: RegionFinder, out_dir: str | Path, options: MosaicOptions,
                 save_mask: bool = False, overwrite: bool = False,
                 mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """Everything that can fail on the user's input, before anything is written: the options,
    the output names, every image decodes, explicit regions fit. Returns the output plan:
    input -> [output] or [output, mask output]. `mine`: this process's share under torchrun
    (see `outputs.plan_outputs`)."""
    options.check()
    plan = plan_outputs(paths, out_dir, names=with_mask_name(same_name) if save_mask else same_name,
                        overwrite=overwrite, mine=mine)
    for path in paths:
        size = read_image(path, mode="RGB").size
        options.check_frame(size, path=path)
        finder.check(path, size)
    return plan


def add_to_image(path: Path, outputs: list[Path], *, finder: RegionFinder, options: MosaicOptions,
                 save_mask: bool = False) -> ItemResult:
    """Mosaic the region `finder` gives in the image `path`, written to outputs[0] (and the
    mask as applied to outputs[1] with `save_mask`); outputs come from `check_inputs`."""
    loaded = load_image(path)
    region = finder.find(loaded.image, path=path)
    item = ItemResult(input=path, kind="image", regions=[region.info])
    if region.empty:  # only detectors get here: explicit regions were checked before
        item.status = NOTHING_FOUND
    elif options.shrinks_away(region.mask):
        item.status = SHRUNK_AWAY
    else:
        out = mosaic_image(loaded.image, region.mask, options=options, generator=mosaic_generator(options, path.name))
        item.outputs.append(write_image(out, outputs[0], alpha=loaded.alpha))
        if save_mask:
            item.outputs.append(write_mask(applied_mask(region.mask, options), outputs[1]))
    return item
