"""The per-frame core of `add`: mosaic the masked region of one frame with the user's options.

`mosaic_image(frame, mask, options=..., generator=...)` is all a file loop (add_files.py) or
a video loop calls per frame; it decides the block size (fixed, or from the region's size)
and hands the pixels to the pure op `ops.mosaic.mosaic_region`. `applied_mask` is the mask
as the mosaic applied it (grown, feathered), for --save-mask. Nothing here reads or writes
files, and the only randomness (the "random" style) comes from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mosaicgan.choices import MOSAIC_STYLES
from mosaicgan.data.sampler import derive_seed
from mosaicgan.errors import UserError
from mosaicgan.ops.masks import feather_mask, grow_mask
from mosaicgan.ops.mosaic import auto_block_size, mosaic_region


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
        if self.style not in MOSAIC_STYLES:
            raise UserError(f"unknown style {self.style!r}; choose one of {', '.join(MOSAIC_STYLES)}")
        if self.block is not None and self.block < 1:
            raise UserError(f"--block must be a positive number of pixels or 'auto', got {self.block}")
        if not self.block_fraction > 0:
            raise UserError(f"--block-fraction must be positive, got {self.block_fraction}")
        if not self.block_fraction <= 1:
            raise UserError(f"--block-fraction must lie in (0, 1], got {self.block_fraction}")
        if self.feather < 0:
            raise UserError(f"--feather must be >= 0, got {self.feather}")

    def check_frame(self, size: tuple[int, int], *, path: object = None) -> None:
        """Pixel sizes are bounded by the frame (width, height): beyond its longer side they
        change nothing (or shrink every region away) and only make the padded buffers huge."""
        longest = max(size)
        for flag, value in (("--block", self.block), ("--feather", self.feather), ("--grow", self.grow)):
            if value is not None and abs(value) > longest:
                raise UserError(f"{flag} {value} exceeds the image's longer side ({size[0]} x {size[1]}); "
                                f"give at most {longest} pixels", path=path)

    def shrinks_away(self, mask: torch.Tensor) -> bool:
        """Whether a negative `grow` leaves nothing of the region (the frame would come out unchanged)."""
        return self.grow < 0 and not bool(grow_mask(mask, radius=self.grow).any())


def block_for(mask: torch.Tensor, options: MosaicOptions) -> int:
    """The block size in pixels for a region: the fixed one, or sized from the grown region."""
    if options.block is not None:
        return options.block
    grown = grow_mask(mask, radius=options.grow)
    return int(auto_block_size(grown, fraction=options.block_fraction, min_block=4)[0])


def mosaic_generator(options: MosaicOptions, key: str) -> torch.Generator | None:
    """The generator of the "random" style for one frame, seeded from `options.seed` and `key`
    (the file name; a video would add the frame number), so reruns give the same picks. None
    for the styles that draw nothing."""
    if options.style != "random":
        return None
    return torch.Generator().manual_seed(derive_seed(options.seed, key))


def mosaic_image(image: torch.Tensor, mask: torch.Tensor, *, options: MosaicOptions,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Mosaic the region of one frame.

    image: (C, H, W) in [-1, 1], any C (grey, RGB). mask: (H, W) in [0, 1], the region before
    grow and feather. generator: required for the "random" style (see `mosaic_generator`).
    Returns a new (C, H, W) tensor; pixels outside the grown, feathered region are the input's.
    """
    if options.style == "random" and generator is None:
        raise ValueError("the random style needs an explicit torch.Generator (see mosaic_generator)")
    return mosaic_region(image, mask, block=block_for(mask, options), style=options.style,
                         grow=options.grow, feather=options.feather, generator=generator)


def applied_mask(mask: torch.Tensor, options: MosaicOptions) -> torch.Tensor:
    """The mask (H, W) in [0, 1] as `mosaic_image` applies it: grown, then feathered."""
    return feather_mask(grow_mask(mask, radius=options.grow), width=options.feather)[0, 0]
