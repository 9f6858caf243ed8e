import torch

from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate


def test_offsets_are_canonical_and_round_trip():
    g = Grid(8, 6, offset_y=11, offset_x=-1)
    assert g.offset == (3, 5) and g.block == (8, 6)
    assert Grid(8, 6, 3, 5) == g
    assert Grid.from_dict(g.to_dict()) == g


def test_grid_means_what_pixelate_means():
    img = torch.rand(3, 40, 40) * 2 - 1
    mask = torch.ones(1, 40, 40)
    g = Grid(8, 8, offset_y=3, offset_x=13)
    a = pixelate(img, mask, block=g.block, offset=g.offset)
    b = pixelate(img, mask, block=8, offset=(3 + 8, 13 - 16))  # the same grid, shifted by whole blocks
    assert torch.equal(a, b)
    # Pixels inside one block of this grid share a value; across a grid line they differ.
    assert torch.equal(a[:, 3, 5], a[:, 10, 12])
    assert not torch.equal(a[:, 10, 12], a[:, 11, 12])
