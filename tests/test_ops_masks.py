import math

import pytest
import torch

from mosaicgan.errors import UserError
from mosaicgan.ops.masks import (
    Box,
    as_mask,
    boxes_to_mask,
    check_mask,
    feather_mask,
    grow_mask,
    mask_bbox,
    mask_to_boxes,
)
from mosaicgan.ops.shapes import (
    Ellipse,
    Polygon,
    Rect,
    draw_shapes,
    sample_shape,
    shape_from_dict,
    shape_to_dict,
)


def square_mask(h=20, w=20, box=(6, 6, 12, 12)):
    return boxes_to_mask([box], height=h, width=w)


def test_as_mask_accepted_shapes():
    assert as_mask(torch.ones(4, 5)).shape == (1, 1, 4, 5)
    assert as_mask(torch.ones(1, 4, 5)).shape == (1, 1, 4, 5)
    assert as_mask(torch.ones(3, 1, 4, 5) > 0).dtype == torch.float32
    with pytest.raises(ValueError, match="mask must be"):
        as_mask(torch.ones(2, 4, 5))


def test_check_mask_size_mismatch_and_empty_are_user_errors():
    img = torch.zeros(2, 3, 8, 10)
    assert check_mask(img, torch.ones(8, 10)).shape == (1, 1, 8, 10)
    with pytest.raises(UserError, match=r"^masks/a.png: mask is 8x9 \(WxH\) but the image is 10x8$"):
        check_mask(img, torch.ones(9, 8), path="masks/a.png")
    with pytest.raises(UserError, match="mask is empty: no pixel"):
        check_mask(img, torch.zeros(8, 10))
    masks = torch.ones(2, 1, 8, 10)
    masks[1] = 0
    with pytest.raises(UserError, match=r"image\(s\) 1 of the batch"):
        check_mask(img, masks)
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        check_mask(img, torch.full((8, 10), 255.0))
    with pytest.raises(UserError, match="batch size 3"):
        check_mask(img, torch.ones(3, 1, 8, 10))


def test_grow_and_shrink_square_change_the_area_at_the_edge():
    mask = square_mask()  # 6 x 6
    for r, side in ((1, 8), (3, 12), (-1, 4), (-3, 0)):
        grown = grow_mask(mask, radius=r, shape="square")
        assert grown.sum() == side * side
    assert torch.equal(grow_mask(mask, radius=0), as_mask(mask))


def test_disc_grow_of_one_pixel_is_the_disc():
    mask = torch.zeros(15, 15)
    mask[7, 7] = 1
    r = 4
    yy, xx = torch.meshgrid(torch.arange(15) - 7, torch.arange(15) - 7, indexing="ij")
    disc = ((yy**2 + xx**2) <= r * r).float()
    assert torch.equal(grow_mask(mask, radius=r)[0, 0], disc)
    # Shrinking the disc by its radius leaves the centre only; growing a disc grows its area.
    assert grow_mask(disc, radius=-r).sum() == 1
    assert grow_mask(disc, radius=1).sum() > disc.sum()


def test_shrink_does_not_eat_a_region_from_the_image_border():
    mask = torch.zeros(10, 10)
    mask[:, :4] = 1  # touches the left, top and bottom borders
    shrunk = grow_mask(mask, radius=-1)[0, 0]
    assert torch.equal(shrunk[:, :3], torch.ones(10, 3))
    assert shrunk[:, 3:].sum() == 0


def test_grow_then_shrink_keeps_a_convex_region():
    mask = draw_shapes(Ellipse(10.0, 10.0, 6.0, 4.0, 20.0), height=21, width=21)
    assert torch.equal(grow_mask(grow_mask(mask, radius=2, shape="square"), radius=-2, shape="square"), as_mask(mask))


@pytest.mark.parametrize("width", [1, 2, 3, 6])
def test_feather_ramps_across_a_straight_edge(width):
    mask = torch.zeros(5, 16)
    mask[:, :5] = 1  # edge between columns 4 and 5
    f = feather_mask(mask, width=width)[0, 0]
    row = f[2]
    assert torch.equal(row[:5], torch.ones(5))  # 1 on the region, right up to its edge
    d = torch.arange(1, width + 1, dtype=torch.float32)
    assert torch.allclose(row[4 + d.long()], (width + 1 - d) / (width + 1))
    assert (row[5 + width :] == 0).all()  # exactly 0 beyond the support
    assert (row.diff() <= 0).all()
    assert torch.equal(f, f[2:3].expand_as(f))  # rows agree: the border does not bend the ramp


def test_feather_is_one_deep_inside_and_zero_beyond_the_support_of_any_shape():
    mask = draw_shapes(
        [Ellipse(12.0, 10.0, 7.0, 4.0, 35.0), Polygon(((3.0, 3.0), (9.0, 2.0), (6.0, 8.0)))], height=24, width=26
    )
    for width in (1, 4, 5):
        f = feather_mask(mask, width=width)
        assert (f[as_mask(mask) == 1] == 1).all()
        support = grow_mask(mask, radius=width, shape="square")
        assert (f[support == 0] == 0).all()
        assert ((f > 0) & (f < 1)).any() and f.min() >= 0 and f.max() <= 1
    # Along a ray out of the ellipse the value never rises.
    f = feather_mask(mask, width=4)[0, 0]
    assert (f[10, 12:].diff() <= 1e-6).all()


def test_feather_shrunk_first_puts_the_ramp_inside():
    mask = square_mask(box=(4, 4, 16, 16))
    inner = feather_mask(grow_mask(mask, radius=-3, shape="square"), width=3)
    assert (inner[as_mask(mask) == 0] == 0).all()
    assert inner[0, 0, 10, 4] == 0.25 and inner[0, 0, 10, 7] == 1


def test_boxes_round_trip_and_connected_components():
    boxes = [Box(1, 2, 5, 4), Box(8, 8, 12, 15)]
    mask = boxes_to_mask(boxes, height=16, width=16)
    assert mask.shape == (1, 16, 16) and mask.sum() == 4 * 2 + 4 * 7
    assert mask_to_boxes(mask) == [Box(8, 8, 12, 15), Box(1, 2, 5, 4)]  # largest first
    assert mask_to_boxes(mask, min_area=10) == [Box(8, 8, 12, 15)]
    assert mask_bbox(mask) == Box(1, 2, 12, 15)
    assert mask_bbox(torch.zeros(4, 4)) is None
    assert mask_to_boxes(torch.zeros(4, 4)) == []
    # Diagonal neighbours join with 8-connectivity only.
    diag = torch.eye(4)
    assert len(mask_to_boxes(diag)) == 1 and len(mask_to_boxes(diag, connectivity=4)) == 4
    assert boxes_to_mask([], height=3, width=3).sum() == 0


def test_shapes_draw_what_their_parameters_say():
    rect = draw_shapes(Rect(5.0, 4.0, 6.0, 4.0), height=10, width=12)[0]
    assert torch.equal(rect, boxes_to_mask([(2, 2, 9, 7)], height=10, width=12)[0])  # |x-5| <= 3, |y-4| <= 2
    turned = draw_shapes(Rect(5.5, 5.5, 6.0, 2.0, angle=90.0), height=12, width=12)[0]
    assert torch.equal(turned, draw_shapes(Rect(5.5, 5.5, 2.0, 6.0), height=12, width=12)[0])
    disc = draw_shapes(Ellipse(10.0, 10.0, 5.0, 5.0), height=21, width=21)
    assert abs(disc.sum().item() - math.pi * 25) < 8
    square = draw_shapes(Polygon(((1.5, 1.5), (6.5, 1.5), (6.5, 4.5), (1.5, 4.5))), height=8, width=8)[0]
    assert torch.equal(square, boxes_to_mask([(2, 2, 7, 5)], height=8, width=8)[0])
    # A concave polygon: the notch stays outside.
    chevron = draw_shapes(Polygon(((0.5, 0.5), (8.5, 0.5), (4.5, 4.5), (8.5, 8.5), (0.5, 8.5))), height=10, width=10)
    assert chevron[0, 4, 2] == 1 and chevron[0, 4, 7] == 0


def test_sampled_shapes_are_reproducible_inside_and_recordable():
    shapes = []
    for kind in ("rect", "ellipse", "polygon"):
        for seed in range(4):
            a = sample_shape(height=40, width=50, generator=torch.Generator().manual_seed(seed), kinds=(kind,))
            b = sample_shape(height=40, width=50, generator=torch.Generator().manual_seed(seed), kinds=(kind,))
            assert a == b and a.kind == kind
            assert shape_from_dict(shape_to_dict(a)) == a
            mask = draw_shapes(a, height=40, width=50)
            assert mask.sum() > 0
            shapes.append(a)
    assert len(set(shapes)) == len(shapes)
    with pytest.raises(ValueError, match="unknown shape kind"):
        sample_shape(height=8, width=8, generator=torch.Generator(), kinds=("star",))
