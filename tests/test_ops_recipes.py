"""The mosaic recipes of ops/recipes.py against the tools they model, and their measurement operators."""

from __future__ import annotations

import fractions

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from mosaicgan.choices import MOSAIC_RECIPES
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.recipes import LINEAR, block_values, measurement, mosaic_recipe, project
from mosaicgan.ops.unmosaic import block_means, spread_blocks


def _pil(a: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    """Pillow's resize per channel in float ("F"), so that no 8-bit rounding enters."""
    return np.stack([np.asarray(Image.fromarray(a[..., c].astype(np.float32), mode="F").resize(size, resample))
                     for c in range(a.shape[2])], axis=-1)


TOOLS = {
    "nearest": lambda a, s: cv2.resize(a, s, interpolation=cv2.INTER_NEAREST),
    "nearest-centre": lambda a, s: _pil(a, s, Image.Resampling.NEAREST),
    "bilinear": lambda a, s: cv2.resize(a, s, interpolation=cv2.INTER_LINEAR),
    "bicubic": lambda a, s: cv2.resize(a, s, interpolation=cv2.INTER_CUBIC),
    "pil-bilinear": lambda a, s: _pil(a, s, Image.Resampling.BILINEAR),
    "pil-bicubic": lambda a, s: _pil(a, s, Image.Resampling.BICUBIC),
    "mean": lambda a, s: cv2.resize(a, s, interpolation=cv2.INTER_AREA),
}


@pytest.mark.parametrize("recipe", sorted(TOOLS))
@pytest.mark.parametrize("block", [(4, 4), (5, 5), (8, 6), (7, 12)])
def test_block_values_are_what_the_tool_computes(recipe, block):
    bh, bw = block
    rows, cols = 5, 4
    a = np.random.default_rng(bh * 100 + bw).integers(0, 256, (rows * bh, cols * bw, 3)).astype(np.float32)
    expected = TOOLS[recipe](a, (cols, rows)).astype(np.float64)
    img = torch.from_numpy(a).permute(2, 0, 1)[None].double()
    got = block_values(img, Grid(bh, bw), recipe=recipe)[0].permute(1, 2, 0).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.parametrize("recipe,mode", [("mean", "avg"), ("min", "min"), ("max", "max")])
def test_min_max_mean_are_ffmpegs_pixelize(recipe, mode):
    av = pytest.importorskip("av")
    from av.filter import Graph

    h, w = 22, 30  # partial blocks at the right and bottom, as FFmpeg leaves them
    a = np.random.default_rng(3).integers(0, 256, (h, w, 3)).astype(np.uint8)
    graph = Graph()
    src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=fractions.Fraction(1, 25))
    try:
        filt = graph.add("pixelize", f"width=8:height=6:mode={mode}")
    except Exception:  # an FFmpeg older than 6.0 has no pixelize
        pytest.skip("this FFmpeg build has no pixelize filter")
    sink = graph.add("buffersink")
    src.link_to(filt)
    filt.link_to(sink)
    graph.configure()
    frame = av.VideoFrame.from_ndarray(a, format="rgb24")
    frame.pts = 0
    graph.push(frame)
    expected = graph.pull().to_ndarray().astype(np.float64)
    img = torch.from_numpy(a).permute(2, 0, 1)[None].double()
    grid = Grid(6, 8)
    got = spread_blocks(block_values(img, grid, recipe=recipe), grid, height=h, width=w)[0].permute(1, 2, 0).numpy()
    # FFmpeg rounds its average to whole levels; min and max are exact.
    assert np.abs(got - expected).max() <= (1.0 if recipe == "mean" else 0.0)


@pytest.mark.parametrize("recipe", MOSAIC_RECIPES)
def test_mosaic_recipe_changes_only_the_region_and_is_flat_per_block(recipe):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 60, 70, generator=g) * 2 - 1
    mask = torch.zeros(1, 60, 70)
    mask[:, 13:44, 9:50] = 1
    grid = Grid(6, 8, 2, 5)
    out = mosaic_recipe(img, mask, recipe=recipe, grid=grid, generator=torch.Generator().manual_seed(1))
    assert torch.equal(out[:, mask[0] == 0], img[:, mask[0] == 0])
    assert not torch.equal(out, img)
    # Whole blocks inside the region hold one value each: the block means of the output are its pixels.
    inner = out[:, 20:38, 13:45]  # rows 20..37 and columns 13..44 are whole blocks of this grid, inside
    local = Grid(6, 8, 2 - 20, 5 - 13)
    flat = spread_blocks(block_means(inner[None], local), local, height=18, width=32)[0]
    torch.testing.assert_close(flat, inner, atol=1e-5, rtol=0)


@pytest.mark.parametrize("recipe", [r for r in MOSAIC_RECIPES if r != "random-pixel"])
def test_a_small_region_gets_the_whole_image_values(recipe):
    g = torch.Generator().manual_seed(5)
    img = torch.rand(2, 3, 90, 80, generator=g) * 2 - 1
    mask = torch.zeros(1, 90, 80)
    mask[:, 40:52, 30:41] = 1
    grid = Grid(7, 5, 3, 1)
    small = mosaic_recipe(img, mask, recipe=recipe, grid=grid)
    everywhere = mosaic_recipe(img, torch.ones(1, 90, 80), recipe=recipe, grid=grid)
    torch.testing.assert_close(small[..., 40:52, 30:41], everywhere[..., 40:52, 30:41], atol=1e-5, rtol=0)


def test_the_pixelate_recipes_are_pixelate():
    img = torch.rand(3, 40, 40) * 2 - 1
    mask = torch.zeros(1, 40, 40)
    mask[:, 5:30, 8:33] = 1
    for recipe, style in (("mean", "average"), ("median", "median")):
        assert torch.equal(mosaic_recipe(img, mask, recipe=recipe, grid=Grid(6, 6, 1, 2)),
                           pixelate(img, mask, block=6, offset=(1, 2), style=style))
    with pytest.raises(ValueError, match="recipe"):
        mosaic_recipe(img, mask, recipe="blur", grid=Grid(6, 6))


def test_measurement_says_where_the_value_sits():
    assert measurement("nearest", block_h=8, block_w=6).centroid == (0.0, 0.0)
    assert measurement("nearest-centre", block_h=8, block_w=7).centroid == (4.0, 3.0)
    for recipe in ("mean", "bilinear", "bicubic", "pil-bilinear", "pil-bicubic", "median", "min"):
        m = measurement(recipe, block_h=8, block_w=9)
        assert m.centroid == pytest.approx((3.5, 4.0)), recipe
        assert m.offset_from_centre == pytest.approx((0.0, 0.0))
    assert measurement("nearest", block_h=8, block_w=8).offset_from_centre == pytest.approx((-3.5 / 8, -3.5 / 8))
    assert measurement("bicubic", block_h=8, block_w=8).disjoint
    assert not measurement("bicubic", block_h=3, block_w=3).disjoint  # 4 taps do not fit in 3 pixels
    assert not measurement("pil-bilinear", block_h=8, block_w=8).disjoint
    assert measurement("min", block_h=4, block_w=4).bound == "lower"
    assert not measurement("median", block_h=4, block_w=4).linear


DISJOINT = [r for r in LINEAR if measurement(r, block_h=6, block_w=5).disjoint]


@pytest.mark.parametrize("recipe", DISJOINT + ["min", "max"])
def test_project_meets_the_values_and_never_moves_away_from_the_truth(recipe):
    g = torch.Generator().manual_seed(2)
    grid = Grid(6, 5, 4, 2)
    truth = torch.rand(3, 3, 40, 33, generator=g) * 2 - 1
    values = block_values(truth, grid, recipe=recipe)
    guess = torch.rand(3, 3, 40, 33, generator=g) * 2 - 1
    where = torch.ones(1, 1, *values.shape[-2:], dtype=torch.bool)
    where[..., 0, :] = False  # a row of blocks left alone
    moved = project(guess, values, grid, recipe=recipe, where=where)
    assert (moved - truth).norm() < (guess - truth).norm()
    fixed = spread_blocks(where.float(), grid, height=40, width=33) > 0
    assert torch.equal(moved[..., ~fixed[0, 0]], guess[..., ~fixed[0, 0]])
    again = block_values(moved, grid, recipe=recipe)
    sel = where.expand_as(values)
    if recipe == "min":  # the convex set is "every pixel >= the value", which the minimum then is at least
        assert (again[sel] >= values[sel]).all()
    elif recipe == "max":
        assert (again[sel] <= values[sel]).all()
    else:
        torch.testing.assert_close(again[sel], values[sel], atol=1e-5, rtol=0)


def test_project_leaves_unconstrained_recipes_alone():
    x = torch.rand(1, 3, 16, 16)
    values = torch.rand(1, 3, 2, 2)
    where = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    for recipe in ("median", "random-pixel", "pil-bicubic"):
        assert torch.equal(project(x, values, Grid(8, 8), recipe=recipe, where=where), x)
