"""The block grid of a mosaic: block size and where its lines fall.

One type shared by everything that makes, finds or undoes a mosaic, so that "block 8 at
offset (3, 5)" means the same thing to `ops.mosaic.pixelate` (its `block` and `offset`
arguments), to the mosaic detector that estimates a grid from pixels, and to the restorer
that reconstructs the region block by block.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grid:
    """Blocks of block_h x block_w pixels whose lines run at y = offset_y + k * block_h and
    x = offset_x + k * block_w (any integer k), as in `pixelate(..., block=(block_h, block_w),
    offset=(offset_y, offset_x))`. Offsets are kept in [0, block) so equal grids compare equal."""

    block_h: int
    block_w: int
    offset_y: int = 0
    offset_x: int = 0

    def __post_init__(self) -> None:
        if self.block_h < 1 or self.block_w < 1:
            raise ValueError(f"block sides must be >= 1, got {self.block_h}x{self.block_w}")
        # A grid shifted by whole blocks is the same grid: one canonical offset.
        object.__setattr__(self, "offset_y", self.offset_y % self.block_h)
        object.__setattr__(self, "offset_x", self.offset_x % self.block_w)

    @property
    def block(self) -> tuple[int, int]:
        """(block_h, block_w), the form `pixelate` takes."""
        return (self.block_h, self.block_w)

    @property
    def offset(self) -> tuple[int, int]:
        """(offset_y, offset_x), the form `pixelate` takes."""
        return (self.offset_y, self.offset_x)

    def to_dict(self) -> dict[str, int]:
        return {"block_h": self.block_h, "block_w": self.block_w, "offset_y": self.offset_y, "offset_x": self.offset_x}

    @classmethod
    def from_dict(cls, data: dict) -> Grid:
        return cls(int(data["block_h"]), int(data["block_w"]), int(data.get("offset_y", 0)),
                   int(data.get("offset_x", 0)))
