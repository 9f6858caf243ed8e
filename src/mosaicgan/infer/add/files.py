"""`add` over image files: check every input, then read, find the region, mosaic, write.

Every input is checked before the first file is written (it decodes; a mask file has the
image's size and covers something; boxes meet the image; outputs neither overwrite an input
nor collide), so a bad input stops the run with one line and an untouched --out.

Outputs keep the input's file name and format (see `image_io.SAVE_OPTIONS`). Grey images
stay grey and an alpha channel is kept. Metadata (EXIF, GPS) is not copied: a privacy mosaic
should not leave where and when the photo was taken in the file.

Faces and CAM may find nothing in an image. Such an image is left out of --out (and listed),
not copied unchanged, so that an untouched photo is never passed off as processed.

With --lock-to, the original pixels of each image's regions go sealed into its output (or a
sidecar beside it, `infer/lock/still.py`), and the output is written by the lock instead.

`add_to_image` does one image; `mosaicgan.jobs` runs it over the inputs. This module only
adapts files to the per-frame cores: `image_io.load_image`,
`RegionFinder.find`, `mosaic_core.mosaic_image`, `image_io.write_image`, `mask_io.write_mask`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mosaicgan.data.images import read_image, tensor_to_uint8
from mosaicgan.infer.add.core import (
    MosaicOptions,
    applied_mask,
    for_face_sides,
    for_faces,
    mosaic_generator,
    mosaic_image,
)
from mosaicgan.infer.add.regions import RegionFinder
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.lock.options import LockOptions, with_sidecar_names
from mosaicgan.infer.mask_io import write_mask
from mosaicgan.infer.outputs import plan_outputs, same_name, with_mask_name
from mosaicgan.infer.results import NOTHING_FOUND, SHRUNK_AWAY, ItemResult


def check_inputs(paths: list[Path], *, finder: RegionFinder, out_dir: str | Path, options: MosaicOptions,
                 save_mask: bool = False, overwrite: bool = False,
                 mine: Collection[Path] | None = None, lock: LockOptions | None = None) -> dict[Path, list[Path]]:
    """Everything that can fail on the user's input, before anything is written: the options,
    the output names, every image decodes, explicit regions fit, the lock's key. Returns the
    output plan: input -> [output] or [output, mask output], then the sidecar where one is
    written. `mine`: this process's share under torchrun (see `outputs.plan_outputs`)."""
    options.check()
    if lock is not None:
        lock.recipient()
    names = with_mask_name(same_name) if save_mask else same_name
    plan = plan_outputs(paths, out_dir, names=with_sidecar_names(names, lock), overwrite=overwrite, mine=mine)
    for path in paths:
        size = read_image(path, mode="RGB").size
        options.check_frame(size, path=path)
        finder.check(path, size)
    return plan


def add_to_image(path: Path, outputs: list[Path], *, finder: RegionFinder, options: MosaicOptions,
                 save_mask: bool = False, lock: LockOptions | None = None, recipient=None) -> ItemResult:
    """Mosaic the region `finder` gives in the image `path` (with the user's --keep and --also,
    `RegionFinder.compose`), written to outputs[0] (and the mask as applied to outputs[1] with
    `save_mask`); outputs come from `check_inputs`. lock, recipient: seal the original pixels of
    the region into the output (recipient: `lock.recipient()`, loaded once by the caller)."""
    if finder.request.kind == "faces":
        options = for_faces(options, face_grow=finder.request.face_grow)
    loaded = load_image(path)
    region = finder.compose(finder.find(loaded.image, path=path))
    height, width = loaded.image.shape[-2:]
    item = ItemResult(input=path, kind="image", regions=[region.info], size=(width, height))
    if region.empty:  # only detectors get here: explicit regions were checked before
        item.status = NOTHING_FOUND
    elif options.shrinks_away(region.mask):
        item.status = SHRUNK_AWAY
    else:
        if finder.request.kind == "faces":
            sides = [max(f["box"][2] - f["box"][0], f["box"][3] - f["box"][1])
                     for f in region.info.get("faces", []) if f["applied"]]
            options = for_face_sides(options, region.mask, sides)
        out = mosaic_image(loaded.image, region.mask, options=options, generator=mosaic_generator(options, path.name),
                           keep=region.keep)
        applied = applied_mask(region.mask, options, keep=region.keep)
        item.mask_area = int((applied > 0).sum())
        if lock is None:
            item.outputs.append(write_image(out, outputs[0], alpha=loaded.alpha, source=path))
        else:
            from mosaicgan.infer.lock.still import lock_image

            locked = lock_image(tensor_to_uint8(loaded.image), tensor_to_uint8(out), applied, outputs[0],
                                recipient=recipient if recipient is not None else lock.recipient(),
                                alpha=loaded.alpha, sidecar=lock.sidecar, source=path.name)
            item.outputs.append(locked.path)
            item.locked = {"sealed_bytes": locked.sealed_bytes, "sidecar": locked.sidecar}
        if save_mask:
            item.outputs.append(write_mask(applied, outputs[1]))
    return item
