"""Mosaic a region of image files: read, find the region, pixelate it, write beside nothing.

Every input is checked before the first file is written (it decodes; a mask file has the
image's size and covers something; boxes meet the image; outputs neither overwrite an input
nor collide), so a bad input stops the run with one line and an untouched --out.

Outputs keep the input's file name and format: PNG, BMP, TIFF stay lossless, WebP is written
lossless, JPEG at quality 95 with full-resolution colour (4:4:4), so block edges stay sharp.
Grey images stay grey and an alpha channel is kept. Metadata (EXIF, GPS) is not copied: a
privacy mosaic should not leave where and when the photo was taken in the file.

Faces and CAM may find nothing in an image. Such an image is left out of --out (and listed),
not copied unchanged, so that an untouched photo is never passed off as processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from mosaicgan.data.images import pil_to_tensor, read_image, save_image, tensor_to_pil
from mosaicgan.data.sampler import derive_seed
from mosaicgan.errors import UserError
from mosaicgan.infer.image import has_alpha
from mosaicgan.infer.regions import RegionFinder
from mosaicgan.ops.masks import feather_mask, grow_mask
from mosaicgan.ops.mosaic import STYLES, auto_block_size, mosaic_region

SAVE_OPTIONS = {".jpg": {"quality": 95, "subsampling": 0}, ".jpeg": {"quality": 95, "subsampling": 0},
                ".webp": {"lossless": True}}


@dataclass(frozen=True)
class MosaicOptions:
    """block: pixels, or None to size blocks from the region: `block_fraction` x the square
    root of its (grown) area, at least 4 px. grow, feather: pixels (see `ops.mosaic.mosaic_region`).
    seed: the "random" style's picks (per image, from the seed and the file name)."""

    style: str = "average"
    block: int | None = None
    block_fraction: float = 0.1
    grow: int = 0
    feather: int = 0
    seed: int = 0

    def check(self) -> None:
        if self.style not in STYLES:
            raise UserError(f"unknown style {self.style!r}; choose one of {', '.join(STYLES)}")
        if self.block is not None and self.block < 1:
            raise UserError(f"--block must be a positive number of pixels or 'auto', got {self.block}")
        if not self.block_fraction > 0:
            raise UserError(f"--block-fraction must be positive, got {self.block_fraction}")
        if not self.block_fraction <= 1:
            raise UserError(f"--block-fraction must lie in (0, 1], got {self.block_fraction}")
        if self.feather < 0:
            raise UserError(f"--feather must be >= 0, got {self.feather}")

    def check_image(self, path: Path, size: tuple[int, int]) -> None:
        """Pixel sizes are bounded by the image: beyond its longer side they change nothing
        (or shrink every region away) and only make the padded buffers huge."""
        longest = max(size)
        for flag, value in (("--block", self.block), ("--feather", self.feather), ("--grow", self.grow)):
            if value is not None and abs(value) > longest:
                raise UserError(f"{flag} {value} exceeds the image's longer side ({size[0]} x {size[1]}); "
                                f"give at most {longest} pixels", path=path)


@dataclass
class AddResult:
    written: list[Path] = field(default_factory=list)
    masks: list[Path] = field(default_factory=list)
    no_region: list[Path] = field(default_factory=list)
    shrunk_away: list[Path] = field(default_factory=list)  # a negative --grow left no region


def plan_outputs(paths: list[Path], out_dir: Path, *, save_mask: bool,
                 overwrite: bool = False) -> dict[Path, tuple[Path, Path | None]]:
    """(output, mask output or None) per input: the input's name in out_dir, NAME_mask.png
    beside it. An output that is an input, or two inputs sharing a name, is an error; so is
    one that exists already, unless `overwrite`."""
    inputs = {p.resolve() for p in paths}
    taken: dict[Path, Path] = {}
    plan = {}
    for path in paths:
        outs = [(out_dir / path.name).resolve()]
        if save_mask:
            outs.append((out_dir / f"{path.stem}_mask.png").resolve())
        for out in outs:
            if out in inputs:
                raise UserError("output would overwrite an input; choose another --out", path=out)
            if out in taken:
                raise UserError(f"two inputs would both write {out.name} ({taken[out]} and {path})", path=path)
            if not overwrite and out.exists():
                raise UserError("already exists; give --overwrite to replace it, or choose another --out", path=out)
            taken[out] = path
        plan[path] = (outs[0], outs[1] if save_mask else None)
    return plan


def load_image(path: Path) -> tuple[torch.Tensor, Image.Image, Image.Image | None]:
    """(tensor (C, H, W) in [-1, 1], C = 1 for grey files else 3; the RGB image the region
    finders look at; the alpha band or None)."""
    alpha = None
    if has_alpha(path):
        rgba = read_image(path, mode="RGBA")
        alpha, rgb = rgba.getchannel("A"), rgba.convert("RGB")
        grey = False
    else:
        with Image.open(path) as probe:
            grey = probe.mode in ("1", "L", "I", "I;16", "F")
        rgb = read_image(path, mode="RGB")
    tensor = pil_to_tensor(rgb.convert("L") if grey else rgb)
    return tensor, rgb, alpha


def block_for(mask: torch.Tensor, options: MosaicOptions) -> int:
    if options.block is not None:
        return options.block
    grown = grow_mask(mask, radius=options.grow)
    return int(auto_block_size(grown, fraction=options.block_fraction, min_block=4)[0])


def check_inputs(paths: list[Path], *, finder: RegionFinder, out_dir: str | Path, options: MosaicOptions,
                 save_mask: bool = False, overwrite: bool = False) -> dict[Path, tuple[Path, Path | None]]:
    """Everything that can fail on the user's input, before anything is written: the options,
    the output names, every image decodes, explicit regions fit. Returns `plan_outputs`."""
    options.check()
    plan = plan_outputs(paths, Path(out_dir), save_mask=save_mask, overwrite=overwrite)
    for path in paths:
        size = read_image(path, mode="RGB").size
        options.check_image(path, size)
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
    plan: dict[Path, tuple[Path, Path | None]] | None = None,
) -> AddResult:
    """Mosaic the region `finder` gives in every image of `paths`, into `out_dir`.

    `plan` is what `check_inputs` returned, when the caller checked first (to show a progress
    bar only once the inputs are known good); otherwise the check runs here.
    """
    if plan is None:
        plan = check_inputs(paths, finder=finder, out_dir=out_dir, options=options, save_mask=save_mask)
    result = AddResult()
    for path in paths:
        image, rgb, alpha = load_image(path)
        region = finder.find(rgb, path=path)
        if region.empty:  # only detectors get here: explicit regions were checked above
            result.no_region.append(path)
        elif options.grow < 0 and not grow_mask(region.mask, radius=options.grow).any():
            result.shrunk_away.append(path)
        else:
            mask = region.mask
            generator = None
            if options.style == "random":
                generator = torch.Generator().manual_seed(derive_seed(options.seed, path.name))
            out = mosaic_region(image, mask, block=block_for(mask, options), style=options.style,
                                grow=options.grow, feather=options.feather, generator=generator)
            img = tensor_to_pil(out)
            if alpha is not None:
                img.putalpha(alpha)
            out_path, mask_path = plan[path]
            result.written.append(save_image(img, out_path, **SAVE_OPTIONS.get(out_path.suffix.lower(), {})))
            if mask_path is not None:
                applied = feather_mask(grow_mask(mask, radius=options.grow), width=options.feather)[0]
                result.masks.append(save_image(tensor_to_pil(applied * 2 - 1), mask_path))
        if progress is not None:
            progress.update(1)
    return result
