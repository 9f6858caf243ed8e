import pytest
import torch

from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.unmosaic import (
    block_layout,
    block_means,
    classical_restore,
    full_blocks,
    lattice_features,
    project_means,
    smooth_base,
    spread_blocks,
)

GRIDS = [Grid(4, 4, 0, 0), Grid(5, 3, 2, 1), Grid(8, 8, 3, 6), Grid(7, 9, 6, 0)]


def smooth_image(h=37, w=41, seed=0):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 5, 6, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=True)


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_spread_block_means_is_the_average_mosaic(grid):
    x = torch.rand(2, 3, 37, 41) * 2 - 1
    mosaic = pixelate(x, torch.ones(1, 37, 41), block=grid.block, offset=grid.offset)
    means = block_means(x, grid)
    lay = block_layout(grid, height=37, width=41)
    assert means.shape == (2, 3, lay.rows, lay.cols)
    torch.testing.assert_close(spread_blocks(means, grid, height=37, width=41), mosaic, atol=1e-6, rtol=0)


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_projection_is_consistent_idempotent_and_never_moves_away_from_the_truth(grid):
    g = torch.Generator().manual_seed(1)
    truth = torch.rand(4, 3, 37, 41, generator=g) * 2 - 1
    mask = torch.zeros(1, 37, 41)
    mask[:, 5:30, 4:33] = 1
    observed = pixelate(truth, mask, block=grid.block, offset=grid.offset)
    means, where = block_means(observed, grid), full_blocks(mask, grid)
    assert where.any() and not where.all()
    guess = torch.rand(4, 3, 37, 41, generator=g) * 2 - 1  # any estimate at all
    projected = project_means(guess, means, grid, where=where)
    after = block_means(projected, grid)
    torch.testing.assert_close(after[where.expand_as(after)], means[where.expand_as(means)], atol=1e-5, rtol=0)
    # Blocks not fully inside keep their pixels; the projection of a projection changes nothing.
    untouched = ~spread_blocks(where.float(), grid, height=37, width=41).bool()
    assert torch.equal(projected[untouched.expand_as(projected)], guess[untouched.expand_as(guess)])
    torch.testing.assert_close(project_means(projected, means, grid, where=where), projected, atol=1e-5, rtol=0)
    before = (guess - truth).flatten(1).norm(dim=1)
    assert ((projected - truth).flatten(1).norm(dim=1) <= before + 1e-4).all()
    assert ((projected - truth).flatten(1).norm(dim=1) < before).all()  # and here strictly closer


def test_full_blocks_need_every_real_pixel_inside():
    grid = Grid(4, 4, 2, 2)
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 2:10, 2:10] = 1
    where = full_blocks(mask, grid)
    assert where.shape == (1, 1, 4, 4)
    assert where[0, 0, 1:3, 1:3].all() and where.sum() == 4
    mask[..., 2, 2] = 0.5  # a soft pixel: the block's observed mean is no longer the true one
    assert full_blocks(mask, grid).sum() == 3


def test_smooth_base_follows_a_linear_ramp_inside():
    # Block means of a ramp are its values at the block centres, so a base that puts them
    # there follows the ramp; a misplaced one (e.g. at block corners) is off by half a block's
    # rise everywhere. torch's bicubic (a = -0.75) is not exact on linear functions, hence the bound.
    h, w, grid = 48, 56, Grid(8, 8, 3, 5)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    ramp = ((0.02 * ys - 0.015 * xs) * 0.5)[None, None]
    base = smooth_base(block_means(ramp, grid), grid, height=h, width=w)
    inner = (slice(None), slice(None), slice(3 + 2 * 8, h - 16), slice(5 + 2 * 8, w - 16))
    mosaic = spread_blocks(block_means(ramp, grid), grid, height=h, width=w)
    base_err = (base[inner] - ramp[inner]).abs()
    assert base_err.mean() < 0.2 * (mosaic[inner] - ramp[inner]).abs().mean()
    assert base_err.max() < 0.1 * 8 * 0.01  # a tenth of one block's rise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classical_restore_beats_the_mosaic_on_smooth_images(seed):
    truth = smooth_image(seed=seed)
    mask = torch.zeros(1, 37, 41)
    mask[:, 6:31, 8:35] = 1
    grid = Grid(6, 6, 1, 4)
    observed = pixelate(truth, mask, block=grid.block, offset=grid.offset)
    restored = classical_restore(observed, mask, grid)
    inside = mask.bool().expand_as(truth[0])[None]
    err_mosaic = (observed - truth)[inside].pow(2).mean()
    err_restored = (restored - truth)[inside].pow(2).mean()
    assert err_restored < 0.5 * err_mosaic


def test_lattice_features_layout():
    x = torch.rand(2, 3, 20, 30) * 2 - 1
    mask = torch.zeros(1, 20, 30)
    mask[:, :, :15] = 1
    f = lattice_features(x, mask, Grid(5, 10), scale=5)
    assert f.shape == (2, 7, 4, 3)
    torch.testing.assert_close(f[:, :3], block_means(x, Grid(5, 10)))
    assert torch.equal(f[0, 3, 0], torch.tensor([1.0, 0.5, 0.0]))
    assert torch.equal(f[0, 4, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(f[:, 5], torch.zeros(2, 4, 3)) and torch.equal(f[:, 6], torch.ones(2, 4, 3))
