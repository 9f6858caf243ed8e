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

This module only adapts files to the per-frame cores: `image_io.load_image`,
`RegionFinder.find`, `mosaic_core.mosaic_image`, `image_io.write_image`, `mask_io.write_mask`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from mosaicgan.data.images import read_image, tensor_to_uint8
from mosaicgan.infer.add.core import (
    MosaicOptions,
    applied_mask,
    for_faces,
    mosaic_generator,
    mosaic_image,
)
from mosaicgan.infer.add.regions import RegionFinder
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.lock.options import LockOptions, with_sidecar_names
from mosaicgan.infer.mask_io import write_mask
from mosaicgan.infer.outputs import plan_outputs, same_name, with_mask_name


@dataclass
class AddResult:
    written: list[Path] = field(default_factory=list)
    masks: list[Path] = field(default_factory=list)
    no_region: list[Path] = field(default_factory=list)
    shrunk_away: list[Path] = field(default_factory=list)  # a negative --grow left no region
    # Per input: what was found ("region": the finder's info), the image's "size" (width, height)
    # and the pixels the cover changed ("mask_area"); for the detection report.
    details: dict[Path, dict] = field(default_factory=dict)
    locked: list = field(default_factory=list)  # infer.lock.still.Locked, one per output with --lock-to


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


def add_mosaic_files(
    paths: list[Path],
    *,
    finder: RegionFinder,
    out_dir: str | Path,
    options: MosaicOptions,
    save_mask: bool = False,
    progress=None,
    plan: dict[Path, list[Path]] | None = None,
    lock: LockOptions | None = None,
) -> AddResult:
    """Mosaic the region `finder` gives in every image of `paths`, into `out_dir`.

    `plan` is what `check_inputs` returned, when the caller checked first (to show a progress
    bar only once the inputs are known good); otherwise the check runs here. lock: seal the
    original pixels of the regions into each output (`infer/lock/still.py`).
    """
    if plan is None:
        plan = check_inputs(paths, finder=finder, out_dir=out_dir, options=options, save_mask=save_mask, lock=lock)
    if finder.request.kind == "faces":
        options = for_faces(options, face_grow=finder.request.face_grow)
    recipient = lock.recipient() if lock is not None else None
    result = AddResult()
    for path in paths:
        loaded = load_image(path)
        region = finder.compose(finder.find(loaded.image, path=path))
        height, width = loaded.image.shape[-2:]
        detail = {"region": region.info, "size": (width, height), "mask_area": 0}
        result.details[path] = detail
        if region.empty:  # only detectors get here: explicit regions were checked above
            result.no_region.append(path)
        elif options.shrinks_away(region.mask):
            result.shrunk_away.append(path)
        else:
            out = mosaic_image(loaded.image, region.mask, options=options,
                               generator=mosaic_generator(options, path.name), keep=region.keep)
            applied = applied_mask(region.mask, options, keep=region.keep)
            detail["mask_area"] = int((applied > 0).sum())
            if recipient is None:
                result.written.append(write_image(out, plan[path][0], alpha=loaded.alpha))
            else:
                from mosaicgan.infer.lock.still import lock_image

                locked = lock_image(tensor_to_uint8(loaded.image), tensor_to_uint8(out), applied, plan[path][0],
                                    recipient=recipient, alpha=loaded.alpha, sidecar=lock.sidecar, source=path.name)
                result.written.append(locked.path)
                result.locked.append(locked)
            if save_mask:
                result.masks.append(write_mask(applied, plan[path][1]))
        if progress is not None:
            progress.update(1)
    return result
