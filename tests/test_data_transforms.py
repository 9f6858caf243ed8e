import json

import pytest
import torch

from mosaicgan.data.transforms import MosaicParams, RandomMosaic, apply_mosaic
from mosaicgan.ops.masks import feather_mask, grow_mask
from mosaicgan.ops.shapes import Ellipse, draw_shapes

H, W = 24, 28


def region():
    return draw_shapes(Ellipse(14.0, 12.0, 6.0, 4.0, 25.0), height=H, width=W)  # (1, H, W)


def wide_open(**kw):
    settings = dict(
        block_range=(2, 6), aspect_range=(0.5, 2.0), grow_range=(-1, 3), feather_range=(0, 3), p=1.0
    )
    return RandomMosaic(**{**settings, **kw})


def test_reproducible_with_a_seed_and_varied_across_calls():
    img = torch.rand(3, H, W) * 2 - 1
    a, b = wide_open(seed=7), wide_open(seed=7)
    runs_a = [a(img, region()) for _ in range(6)]
    runs_b = [b(img, region()) for _ in range(6)]
    for (out_a, pa), (out_b, pb) in zip(runs_a, runs_b, strict=True):
        assert pa == pb and torch.equal(out_a, out_b)
    assert len({p for _, p in runs_a}) > 1
    # A generator passed to the call wins over the transform's own.
    out_1, p_1 = a(img, region(), generator=torch.Generator().manual_seed(3))
    out_2, p_2 = b(img, region(), generator=torch.Generator().manual_seed(3))
    assert p_1 == p_2 and torch.equal(out_1, out_2)


def test_changes_only_the_grown_feathered_region_and_can_be_redone_from_its_params():
    img = torch.rand(3, H, W) * 2 - 1
    mask = region()
    transform = wide_open(seed=0, styles=("average", "median", "random", "blur"))
    styles = set()
    for _ in range(12):
        out, params = transform(img, mask)
        styles.add(params.style)
        support = feather_mask(grow_mask(mask, radius=params.grow), width=params.feather)[0] > 0
        assert torch.equal(out[:, ~support[0]], img[:, ~support[0]])
        assert not torch.equal(out, img)
        h, w = params.block
        assert 1 <= h and 1 <= w and 0 <= params.offset[0] < h and 0 <= params.offset[1] < w
        recorded = MosaicParams.from_dict(json.loads(json.dumps(params.to_dict())))
        assert recorded == params
        assert torch.equal(apply_mosaic(img, mask, recorded), out)
    assert len(styles) >= 3


def test_probability_and_automatic_block_size():
    img = torch.rand(3, H, W)
    out, params = RandomMosaic(p=0.0, seed=1)(img, region())
    assert not params.applied and out is img
    auto = RandomMosaic(block_range=None, fraction_range=(0.5, 0.5), min_block=1, seed=1, styles=("average",))
    _, params = auto(img, region())
    area = region().sum().sqrt().item()
    assert params.block == (round(0.5 * area), round(0.5 * area))


def test_batch_gets_parameters_per_image():
    img = torch.rand(4, 3, H, W)
    masks = torch.stack([region(), region().flip(-1), region().flip(-2), region()])
    out, params = wide_open(seed=2)(img, masks)
    assert out.shape == img.shape and len(params) == 4
    for i in range(4):
        assert torch.equal(out[i], apply_mosaic(img[i], masks[i], params[i]))


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="styles"):
        RandomMosaic(styles=("swirl",))
    with pytest.raises(ValueError, match="block_range"):
        RandomMosaic(block_range=(8, 2))
    with pytest.raises(ValueError, match="p must"):
        RandomMosaic(p=1.5)
