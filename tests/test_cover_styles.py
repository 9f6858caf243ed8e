"""The covers that keep nothing of a region (solid, noise), the face rule of the automatic block,
and --keep at the level of the mosaic core."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mosaicgan.choices import COVER_STYLES, DRAWN_STYLES, MOSAIC_STYLES
from mosaicgan.infer.add.core import (
    FACE_BLOCKS_ACROSS,
    MosaicOptions,
    applied_mask,
    block_for,
    for_faces,
    mosaic_generator,
    mosaic_image,
)
from mosaicgan.ops.mosaic import STYLES, pixelate
from mosaicgan.ops.shapes import Ellipse, draw_shapes


def _gen(style, seed=1):
    return torch.Generator().manual_seed(seed) if style in DRAWN_STYLES else None


def test_training_styles_stay_the_restorable_ones():
    assert STYLES == MOSAIC_STYLES and set(COVER_STYLES) - set(MOSAIC_STYLES) == {"solid", "noise"}


@pytest.mark.parametrize("style", COVER_STYLES)
def test_every_cover_changes_only_the_masked_pixels(style):
    img = torch.rand(2, 3, 13, 17) * 2 - 1
    mask = torch.zeros(13, 17)
    mask[3:9, 4:12] = 1
    out = pixelate(img, mask, block=3, style=style, generator=_gen(style))
    assert torch.equal(out[..., mask == 0], img[..., mask == 0])
    assert not torch.equal(out[..., mask == 1], img[..., mask == 1])


@pytest.mark.parametrize("style", ["solid", "noise"])
def test_solid_and_noise_hold_nothing_of_the_region(style):
    """Two images that differ only inside the region come out the same: the cover reads nothing
    of what it covers (a mosaic does, which is why recognition models can undo it)."""
    torch.manual_seed(3)
    a = torch.rand(3, 32, 40) * 2 - 1
    b = a.clone()
    mask = torch.zeros(32, 40)
    mask[5:25, 8:30] = 1
    b[:, mask > 0] = torch.rand(3, int(mask.sum())) * 2 - 1
    out_a = pixelate(a, mask, block=4, style=style, generator=_gen(style, 7))
    out_b = pixelate(b, mask, block=4, style=style, generator=_gen(style, 7))
    assert torch.equal(out_a, out_b)
    mosaic_a, mosaic_b = (pixelate(x, mask, block=4, style="average") for x in (a, b))
    assert not torch.equal(mosaic_a, mosaic_b)


def test_noise_is_one_drawn_colour_per_block_and_needs_a_generator():
    img = torch.zeros(3, 16, 16)
    out = pixelate(img, torch.ones(16, 16), block=4, style="noise", generator=torch.Generator().manual_seed(0))
    blocks = out.view(3, 4, 4, 4, 4)
    assert torch.equal(blocks, blocks[:, :, :1, :, :1].expand_as(blocks))  # constant inside a block
    assert blocks[:, :, 0, :, 0].unique().numel() > 20  # and drawn, not one colour
    assert out.min() >= -1 and out.max() <= 1
    again = pixelate(img, torch.ones(16, 16), block=4, style="noise", generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match="Generator"):
        pixelate(img, torch.ones(16, 16), block=4, style="noise")


def test_solid_is_opaque_black():
    out = pixelate(torch.rand(1, 8, 8), torch.ones(8, 8), block=3, style="solid")
    assert torch.equal(out, torch.full((1, 8, 8), -1.0))


def test_the_core_draws_noise_from_the_seed_and_file_name():
    options = MosaicOptions(style="noise", seed=4)
    assert mosaic_generator(options, "a.png") is not None and mosaic_generator(MosaicOptions(), "a.png") is None
    img = torch.zeros(3, 16, 16)
    mask = torch.ones(16, 16)
    a = mosaic_image(img, mask, options=options, generator=mosaic_generator(options, "a.png"))
    b = mosaic_image(img, mask, options=options, generator=mosaic_generator(options, "b.png"))
    assert not torch.equal(a, b)


def _face_region(width, height, *, grow=0.3, image=(600, 800), centres=((400, 300),)):
    """The mask `--faces` draws for faces of width x height centred at (x, y): ellipses inscribed in
    boxes grown by `grow`. image: (height, width)."""
    shapes = [Ellipse(cx=cx, cy=cy, rx=width * (1 + 2 * grow) / 2, ry=height * (1 + 2 * grow) / 2)
              for cx, cy in centres]
    return draw_shapes(shapes, height=image[0], width=image[1])[0]


@pytest.mark.parametrize("face", [10, 24, 60, 150])
def test_face_rule_at_most_eight_blocks_across_a_face(face):
    base = MosaicOptions()
    rule = for_faces(base, face_grow=0.3)
    # One face; then that face beside a smaller one, whose area would otherwise set a finer block.
    for centres in (((400, 300),), ((200, 300), (600, 300))):
        mask = _face_region(face, round(face * 1.25), centres=centres)
        block = block_for(mask, rule)
        assert face * 1.25 / block <= FACE_BLOCKS_ACROSS + 0.1
        assert block >= block_for(mask, base)


def test_face_rule_binds_where_the_area_rule_is_too_fine():
    """A long thin region: by area it would get fine blocks; the rule measures its longer side."""
    mask = torch.zeros(200, 400)
    mask[90:110, 20:380] = 1
    base = MosaicOptions()
    rule = MosaicOptions(max_blocks_across=8)
    assert block_for(mask, base) < 360 / 8 <= block_for(mask, rule)


def test_face_rule_leaves_a_fixed_block_alone():
    options = MosaicOptions(block=5)
    assert for_faces(options, face_grow=0.3) == options
    assert for_faces(MosaicOptions(), face_grow=0.3).max_blocks_across == pytest.approx(8 * 1.6)


@pytest.mark.parametrize("style", COVER_STYLES)
def test_keep_is_never_touched_whatever_grow_and_feather_reach(style):
    img = torch.rand(3, 40, 40) * 2 - 1
    mask = torch.zeros(40, 40)
    mask[10:30, 10:30] = 1
    keep = torch.zeros(40, 40, dtype=torch.bool)
    keep[12:20, 28:40] = True  # partly inside the region, partly in its grown, feathered edge
    options = MosaicOptions(style=style, block=4, grow=3, feather=2)
    out = mosaic_image(img, mask, options=options, generator=_gen(style), keep=keep)
    assert torch.equal(out[:, keep], img[:, keep])
    plain = mosaic_image(img, mask, options=options, generator=_gen(style))
    changed = applied_mask(mask, options, keep=keep) > 0
    assert torch.allclose(out[:, changed], plain[:, changed])  # elsewhere the same cover
    nothing_kept = mosaic_image(img, mask, options=options, generator=_gen(style), keep=torch.zeros_like(keep))
    assert torch.equal(nothing_kept, plain)


def test_applied_mask_grows_then_cuts_the_keep():
    mask = torch.zeros(20, 20)
    mask[5:15, 5:15] = 1
    keep = torch.zeros(20, 20, dtype=torch.bool)
    keep[:, :8] = True
    m = applied_mask(mask, MosaicOptions(grow=2), keep=keep)
    assert m[:, :8].max() == 0 and m[10, 16] == 1 and math.isclose(float(m[10, 9]), 1.0)


def test_face_rule_holds_for_a_face_the_border_cuts():
    """A big face near the border: its grown region is cut, so the region alone under-counts; the
    face's own box sets the block (`for_face_sides`)."""
    from mosaicgan.infer.add.core import for_face_sides

    mask = torch.zeros(200, 200)
    mask[:, 20:200] = 1  # what is left of a head region 1.6 x a 180-pixel face, cut on three sides
    rule = for_faces(MosaicOptions(), face_grow=0.3)
    assert 180 / block_for(mask, rule) > FACE_BLOCKS_ACROSS  # the region rule alone misses it
    block = for_face_sides(rule, mask, [180]).block
    assert 180 / block <= FACE_BLOCKS_ACROSS
    assert for_face_sides(MosaicOptions(block=6), mask, [180]).block == 6  # a fixed block is the user's


def test_block_measured_on_the_parts_is_the_whole_regions_block():
    """A video's faces: the automatic block measured on the crops of their boxes is the block
    of the whole mask (area summed, largest part), whatever the grow, and with the face rule."""
    from mosaicgan.infer.add.video_stage import regions_mask
    from mosaicgan.ops.masks import Box

    rng = np.random.default_rng(0)
    for case in range(60):
        height, width = int(rng.integers(90, 400)), int(rng.integers(90, 400))
        boxes = []
        for _ in range(int(rng.integers(1, 9))):
            w, h = int(rng.integers(3, 70)), int(rng.integers(3, 70))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            boxes.append(Box(x, y, x + w, y + h))
        mask = regions_mask(boxes, height=height, width=width, shape="ellipse" if case % 2 else "box")
        options = MosaicOptions(grow=int(rng.choice([0, 2, 9])), block_fraction=float(rng.uniform(0.05, 0.3)),
                                max_blocks_across=None if case % 3 == 0 else 8.0)
        assert block_for(mask, options, parts=boxes) == block_for(mask, options), (case, boxes, options)
