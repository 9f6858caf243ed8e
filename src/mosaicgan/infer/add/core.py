"""The per-frame core of `add`: mosaic the masked region of one frame with the user's options.

`mosaic_image(frame, mask, options=..., generator=...)` is all a file loop (add_files.py) or
a video loop calls per frame; it decides the block size (fixed, or from the region's size)
and hands the pixels to the pure op `ops.mosaic.mosaic_region`. `applied_mask` is the mask
as the mosaic applied it (grown, feathered), for --save-mask. Nothing here reads or writes
files, and the only randomness (the "random" and "noise" styles) comes from the generator passed in.

How coarse the automatic block is: `block_fraction` x the square root of the region's area,
and, where `max_blocks_across` is set, at least the longer side of the largest connected part
of the region / max_blocks_across. `for_faces` sets that floor so that no face is more than
FACE_BLOCKS_ACROSS blocks across (its detector box's longer side): recognition by eye fails
well before that, though recognition models do not (docs/privacy.md; use a cover style there).
A `keep` mask (H, W), where given, is left untouched whatever grow and feather reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from mosaicgan.choices import COVER_STYLES, DRAWN_STYLES
from mosaicgan.data.sampler import derive_seed
from mosaicgan.errors import UserError
from mosaicgan.localize.boxes import merge_boxes
from mosaicgan.ops.masks import Box, feather_mask, grow_mask, mask_to_boxes
from mosaicgan.ops.mosaic import block_from_length, mosaic_region

# The face rule of the automatic block: at most this many blocks across a face (see `for_faces`).
FACE_BLOCKS_ACROSS = 8


@dataclass(frozen=True)
class MosaicOptions:
    """block: pixels, or None to size blocks from the region: `block_fraction` x the square
    root of its (grown) area, at least 4 px, and with `max_blocks_across` at least the longer
    side of the region's largest connected part / max_blocks_across. grow, feather: pixels (see
    `ops.mosaic.mosaic_region`). seed: the "random" and "noise" styles' draws (per image, from
    the seed and the file name)."""

    style: str = "average"
    block: int | None = None
    block_fraction: float = 0.1
    grow: int = 0
    feather: int = 0
    seed: int = 0
    max_blocks_across: float | None = None

    def check(self) -> None:
        if self.style not in COVER_STYLES:
            raise UserError(f"unknown style {self.style!r}; choose one of {', '.join(COVER_STYLES)}")
        if self.block is not None and self.block < 1:
            raise UserError(f"--block must be a positive number of pixels or 'auto', got {self.block}")
        if not self.block_fraction > 0:
            raise UserError(f"--block-fraction must be positive, got {self.block_fraction}")
        if not self.block_fraction <= 1:
            raise UserError(f"--block-fraction must lie in (0, 1], got {self.block_fraction}")
        if self.feather < 0:
            raise UserError(f"--feather must be >= 0, got {self.feather}")
        if self.max_blocks_across is not None and not self.max_blocks_across >= 1:
            raise UserError(f"the most blocks across a region must be >= 1, got {self.max_blocks_across}")

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


def for_faces(options: MosaicOptions, *, face_grow: float) -> MosaicOptions:
    """The options with the face rule: automatic blocks no finer than FACE_BLOCKS_ACROSS across
    a face. A face's region is its box grown by `face_grow` x its size on every side, so
    (1 + 2 face_grow) x FACE_BLOCKS_ACROSS blocks across the region. A fixed --block is the user's."""
    if options.block is not None or options.max_blocks_across is not None:
        return options
    return replace(options, max_blocks_across=FACE_BLOCKS_ACROSS * (1 + 2 * face_grow))


def for_face_sides(options: MosaicOptions, mask: torch.Tensor, sides: list[int]) -> MosaicOptions:
    """The options for one image whose faces' detector boxes have these longer sides: the
    automatic block fixed at no finer than FACE_BLOCKS_ACROSS across the largest. Measured on
    the boxes themselves, so it holds for a face whose grown region the image's border cuts
    (which `max_blocks_across` alone, measuring the region, would under-count)."""
    if options.block is not None or not sides:
        return options
    return replace(options, block=max(block_for(mask, options), math.ceil(max(sides) / FACE_BLOCKS_ACROSS)))


def block_for(mask: torch.Tensor, options: MosaicOptions, *, parts: list[Box] | None = None) -> int:
    """The block size in pixels for a region: the fixed one, or sized from the grown region.
    parts: boxes that hold every pixel of the mask (a video's faces): the same size, measured
    on their crops only (a crowd's faces lie across the frame, their union's box is most of it)."""
    if options.block is not None:
        return options.block
    if parts and options.grow >= 0:
        grown = [grow_mask(mask[..., c.y0:c.y1, c.x0:c.x1], radius=options.grow)
                 for c in _part_crops(parts, grow=options.grow, height=mask.shape[-2], width=mask.shape[-1])]
    else:
        grown = [grow_mask(mask, radius=options.grow)]
    area = sum(g.float().sum() for g in grown)
    block = int(block_from_length(area.sqrt(), fraction=options.block_fraction, min_block=4))
    if options.max_blocks_across is not None:
        longest = max((max(b.x1 - b.x0, b.y1 - b.y0) for g in grown for b in mask_to_boxes(g)), default=0)
        block = max(block, math.ceil(longest / options.max_blocks_across))
    return block


def _part_crops(parts: list[Box], *, grow: int, height: int, width: int) -> list[Box]:
    """The parts grown by `grow`, joined where they touch: a grown part lies whole in one crop
    and no pixel is in two."""
    return merge_boxes([Box(max(0, b.x0 - grow), max(0, b.y0 - grow), min(width, b.x1 + grow), min(height, b.y1 + grow))
                        for b in parts], iou=0.0)


def mosaic_generator(options: MosaicOptions, key: str) -> torch.Generator | None:
    """The generator of the "random" and "noise" styles for one frame, seeded from
    `options.seed` and `key` (the file name; a video adds the frame number), so reruns give the
    same draws. None for the styles that draw nothing."""
    if options.style not in DRAWN_STYLES:
        return None
    return torch.Generator().manual_seed(derive_seed(options.seed, key))


def mosaic_image(image: torch.Tensor, mask: torch.Tensor, *, options: MosaicOptions,
                 generator: torch.Generator | None = None, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Mosaic the region of one frame.

    image: (C, H, W) in [-1, 1], any C (grey, RGB). mask: (H, W) in [0, 1], the region before
    grow and feather. generator: required for the "random" and "noise" styles (see
    `mosaic_generator`). keep: (H, W) bool, pixels never changed (--keep), or None.
    Returns a new (C, H, W) tensor; pixels outside the grown, feathered region are the input's.
    """
    if options.style in DRAWN_STYLES and generator is None:
        raise ValueError(f"the {options.style} style needs an explicit torch.Generator (see mosaic_generator)")
    block = block_for(mask, options)
    if keep is not None and bool(keep.any()):
        # Grown and feathered first, then cut, so neither reaches into a kept area.
        return mosaic_region(image, applied_mask(mask, options, keep=keep), block=block, style=options.style,
                             generator=generator)
    return mosaic_region(image, mask, block=block, style=options.style, grow=options.grow, feather=options.feather,
                         generator=generator)


def applied_mask(mask: torch.Tensor, options: MosaicOptions, *, keep: torch.Tensor | None = None) -> torch.Tensor:
    """The mask (H, W) in [0, 1] as `mosaic_image` applies it: grown, feathered, then zero in `keep`."""
    m = feather_mask(grow_mask(mask, radius=options.grow), width=options.feather)[0, 0]
    return m if keep is None else m.masked_fill(keep, 0.0)
