import pytest
import torch

from mosaicgan.ops.blend import composite, crop_box, expand_box, paste_box, region_box
from mosaicgan.ops.masks import Box


def test_composite_is_exact_where_the_mask_is_0_or_1():
    bg = torch.rand(2, 3, 6, 7) * 2 - 1
    fg = torch.rand(2, 3, 6, 7) * 2 - 1
    mask = torch.zeros(6, 7)
    mask[1:4, 2:5] = 1
    mask[4, 2:5] = 0.3
    out = composite(bg, fg, mask)
    m = mask.bool().expand_as(bg)
    hard = (mask == 1).expand_as(bg)
    assert torch.equal(out[~m], bg[~m])
    assert torch.equal(out[hard], fg[hard])
    assert torch.allclose(out[..., 4, 2:5], 0.7 * bg[..., 4, 2:5] + 0.3 * fg[..., 4, 2:5])
    # (C, H, W) in, (C, H, W) out.
    assert torch.equal(composite(bg[0], fg[0], mask), out[0])


def test_expand_box_margin_multiple_square_and_clipping():
    # Margin 2 around a 6 x 4 box, sides up to multiples of 4, centred.
    assert expand_box(Box(10, 10, 16, 14), height=40, width=40, margin=2, multiple=4) == Box(7, 8, 19, 16)
    assert expand_box(Box(10, 10, 16, 14), height=40, width=40, square=True) == Box(10, 9, 16, 15)
    # Near a corner the box slides inside the image rather than shrinking.
    assert expand_box(Box(0, 0, 4, 4), height=40, width=40, margin=4, multiple=8) == Box(0, 0, 16, 16)
    assert expand_box(Box(30, 30, 40, 40), height=40, width=40, scale=2.0) == Box(20, 20, 40, 40)
    # Wider than the image: cut to the largest multiple that fits.
    assert expand_box(Box(0, 0, 30, 10), height=20, width=30, margin=5, multiple=8) == Box(3, 0, 27, 16)
    with pytest.raises(ValueError, match="smaller than the size multiple"):
        expand_box(Box(0, 0, 2, 2), height=6, width=6, multiple=8)


def test_region_box_and_paste_back_round_trip():
    img = torch.rand(3, 32, 32)
    mask = torch.zeros(1, 32, 32)
    mask[0, 12:17, 20:23] = 1
    box = region_box(mask, margin=3, multiple=4)
    assert (box.width, box.height) == (12, 12)
    assert box.x0 <= 20 and box.x1 >= 23 and box.y0 <= 12 and box.y1 >= 17
    crop = crop_box(img, box)
    assert crop.shape == (3, 12, 12)
    assert torch.equal(paste_box(img, crop, box), img)

    patch = torch.zeros(3, 12, 12)
    out = paste_box(img, patch, box, mask=mask)  # a full-size mask is cut to the box
    inside = mask.bool().expand_as(img)
    assert torch.equal(out[~inside], img[~inside])
    assert (out[inside] == 0).all()
    assert torch.equal(paste_box(img, patch, box, mask=crop_box(mask, box)), out)
    assert not torch.equal(img[inside], out[inside])  # the input was not modified in place
    with pytest.raises(ValueError, match="empty"):
        region_box(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="patch is"):
        paste_box(img, torch.zeros(3, 5, 5), box)
