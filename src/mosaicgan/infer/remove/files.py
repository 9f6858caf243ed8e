"""`remove` over image files: check every input, then read, restore, write with provenance.

Every input is checked before the first file is written (it decodes; its mask exists, has its
size and covers something; outputs neither overwrite an input nor collide; --out is not an
input's folder), so a bad input stops the run with one line and an untouched --out.

Outputs keep the input's file name, size and format: lossless formats stay lossless (every
pixel outside the grown, feathered region is the input's, bit for bit), a JPEG is re-encoded
at the input's quality (estimated from its quantisation tables) and chroma subsampling, or
at --quality. Grey stays grey, alpha is kept; palette images come out RGB(A), except GIFs,
which keep their palette (every pixel outside the region keeps its index). Every output
says inside it that it was restored by mosaicgan, by which restorer, and that the regions
are synthesized (`provenance`); the input's own metadata (EXIF, GPS) is not copied.

An image where no mosaic is found (or, with a mask, where no grid can be read inside it) is
not written, and is listed: an untouched photo is never passed off as restored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from mosaicgan.data.images import read_image
from mosaicgan.errors import UserError
from mosaicgan.infer.encoding import matching_save_options
from mosaicgan.infer.image_io import load_image, write_image
from mosaicgan.infer.mask_io import find_mask_file, read_mask, write_mask
from mosaicgan.infer.outputs import plan_outputs, same_name, with_mask_name
from mosaicgan.infer.provenance import carries_metadata, metadata_save_options, provenance_record
from mosaicgan.infer.remove.core import remove_mosaics
from mosaicgan.infer.remove.faces_seen import shows_a_face
from mosaicgan.infer.remove.restorer import Restorer
from mosaicgan.infer.results import NOTHING_FOUND, ItemResult
from mosaicgan.localize.mosaics.finder import DetectMosaics
from mosaicgan.ops.grid import Grid


@dataclass(frozen=True)
class RemoveImageOptions:
    """mask: a mask file for every image, or a folder of NAME.png / NAME_mask.png (None: find
    the mosaics). grid: the mosaic's grid for every region (None: read from the pixels).
    grow, feather: pixels around each region the restorer may change. quality: JPEG/WebP
    output quality (None: the input's)."""

    mask: Path | None = None
    grid: Grid | None = None
    grow: int = 0
    feather: int = 0
    quality: int | None = None
    save_mask: bool = False
    overwrite: bool = False

    def check(self) -> None:
        if self.grow < 0 or self.feather < 0:
            raise UserError(f"--grow and --feather must be >= 0, got {self.grow} and {self.feather}")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise UserError(f"--quality must lie in 1..100, got {self.quality}")
        if self.mask is not None and not self.mask.exists():
            raise UserError("no such mask file or folder", path=self.mask)


def check_inputs(paths: list[Path], *, out_dir: str | Path, options: RemoveImageOptions,
                 mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """Everything that can fail on the user's input, before anything is written. Returns the
    output plan: input -> [output] or [output, mask output]. A file already in --out is
    replaced only with `options.overwrite`. `mine`: this process's share under torchrun (see
    `outputs.plan_outputs`)."""
    options.check()
    out = Path(out_dir).resolve()
    for path in paths:
        if path.resolve().parent == out:
            raise UserError("--out is the folder this input is in; choose another folder (inputs are never "
                            "overwritten)", path=out_dir)
    plan = plan_outputs(paths, out, names=with_mask_name(same_name) if options.save_mask else same_name,
                        overwrite=options.overwrite, mine=mine)
    for path in paths:
        size = read_image(path, mode="RGB").size
        if options.mask is not None:
            mask_path = find_mask_file(options.mask, path)
            mask = read_mask(mask_path, size=size, what=f"the image ({path.name})")
            if not bool((mask > 0.5).any()):
                raise UserError(f"mask of {path.name} covers nothing (white = region)", path=mask_path)
    return plan


def remove_from_image(path: Path, outputs: list[Path], *, restorer: Restorer, options: RemoveImageOptions,
                      detect: DetectMosaics | None = None) -> ItemResult:
    """Restore the mosaics of the image `path` into outputs[0] (and the pixels changed into
    outputs[1] with `options.save_mask`); outputs come from `check_inputs`. detect: how mosaics
    are found where there is no mask (`localize.mosaics.detector.mosaic_detector`; None: the
    classical finder)."""
    loaded = load_image(path)
    mask = None
    if options.mask is not None:
        mask = read_mask(find_mask_file(options.mask, path), size=(loaded.image.shape[2], loaded.image.shape[1]))
    restored = remove_mosaics(loaded.image, restorer=restorer, mask=mask, grid=options.grid,
                              grow=options.grow, feather=options.feather, detect=detect)
    item = ItemResult(input=path, kind="image", skipped_regions=len(restored.skipped),
                      size=(loaded.image.shape[2], loaded.image.shape[1]))
    if not restored.restored:
        item.status = NOTHING_FOUND
        return item
    item.regions = [r.to_dict() for r in restored.restored]
    item.mask_area = int((restored.mask > 0).sum())
    item.looks_like_face = shows_a_face(restored.frame, [r.box for r in restored.restored])
    out = outputs[0]
    fmt = Image.registered_extensions().get(out.suffix.lower(), "")
    record = provenance_record(restorer=restorer.describe(), regions=item.regions, source=path.name)
    save = {**matching_save_options(path, out, quality=options.quality), **metadata_save_options(fmt, record)}
    item.outputs.append(write_image(restored.frame, out, alpha=loaded.alpha, options=save, source=path))
    item.no_metadata = not carries_metadata(fmt)
    if options.save_mask:
        item.outputs.append(write_mask(restored.mask, outputs[1]))
    return item
