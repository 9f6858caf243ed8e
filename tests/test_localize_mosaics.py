"""The mosaic grid estimator and detector: mosaics at grid offsets that do not match the
image's, clean and re-encoded, found; clean photos left alone."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import main
from mosaicgan.data.images import pil_to_tensor, tensor_to_pil
from mosaicgan.infer.image_io import load_image
from mosaicgan.infer.mask_io import read_mask
from mosaicgan.localize.mosaics.blocks import block_mean
from mosaicgan.localize.mosaics.finder import _block_fit, find_mosaics
from mosaicgan.localize.mosaics.grid import estimate_grid, fit_axis, luma
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import gaussian_blur, pixelate
from mosaicgan.ops.shapes import Ellipse, draw_shapes

PHOTOS = ("cat.jpg", "bird.jpg", "grace_hopper.jpg")
GRIDS = (Grid(8, 8, 3, 5), Grid(11, 7, 2, 6), Grid(16, 16, 9, 1), Grid(6, 6, 1, 4))


def photo(name: str) -> torch.Tensor:
    return load_image(FIXTURES / name, channels=3).image


def region(image: torch.Tensor) -> torch.Tensor:
    """A tilted ellipse a bit off the centre, about 60% of the short side across."""
    h, w = image.shape[1:]
    return draw_shapes([Ellipse(w / 2 + 7, h / 2 - 3, min(h, w) * 0.3, min(h, w) * 0.22, 20)], height=h, width=w)


def iou(found: torch.Tensor, truth: torch.Tensor) -> float:
    a, b = found > 0.5, truth > 0.5
    return ((a & b).sum() / (a | b).sum()).item()


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    buf = io.BytesIO()
    tensor_to_pil(image).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as img:
        return pil_to_tensor(img.convert("RGB"))


def test_fit_axis_prefers_the_block_over_its_multiples_and_divisors():
    profile = torch.zeros(200)
    profile[7::12] = 30.0  # lines every 12 px from 7
    profile[[3, 50, 101]] += 4.0  # a little noise
    fit = fit_axis(profile.numpy())
    assert (fit.block, fit.offset) == (12, 7)
    assert fit.share > 0.9


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("name", PHOTOS)
def test_estimate_grid_is_exact_inside_the_mask(name, grid):
    image = photo(name)
    mask = region(image)
    mosaic = pixelate(image, mask, block=grid.block, offset=grid.offset)
    assert estimate_grid(mosaic, mask) == grid
    assert estimate_grid(jpeg(mosaic, 75), mask) == grid  # what `remove --mask` sees in a JPEG


def test_estimate_grid_finds_none_where_there_is_no_grid():
    image = photo("bird.jpg")
    mask = region(image)
    assert estimate_grid(image, mask) is None  # the photo itself
    blurred = image.clone()
    blurred[:, mask[0] > 0] = gaussian_blur(image[None], sigma=6.0)[0][:, mask[0] > 0]
    assert estimate_grid(blurred, mask) is None  # a blur has no blocks


@pytest.mark.parametrize("grid", GRIDS, ids=str)
@pytest.mark.parametrize("name", PHOTOS)
def test_find_mosaics_outlines_a_clean_mosaic_and_reads_its_grid(name, grid):
    image = photo(name)
    mask = region(image)
    found_mask, found = find_mosaics(pixelate(image, mask, block=grid.block, offset=grid.offset))
    assert iou(found_mask, mask) > 0.8
    assert [f.grid for f in found] == [grid]


def test_find_mosaics_after_jpeg_finds_the_region_on_its_grid():
    image = photo("cat.jpg")
    mask = region(image)
    grid = Grid(16, 16, 9, 1)
    found_mask, found = find_mosaics(jpeg(pixelate(image, mask, block=grid.block, offset=grid.offset), 75))
    assert iou(found_mask, mask) > 0.6
    assert grid in [f.grid for f in found]


@pytest.mark.parametrize("name", PHOTOS)
def test_find_mosaics_touches_nothing_on_clean_photos(name):
    mask, found = find_mosaics(photo(name))
    assert found == [] and mask.sum() == 0


def test_finds_a_mosaic_made_by_add_off_the_image_grid(tmp_path):
    # `add` puts grid lines at multiples of the block from the image's corner; a box that
    # starts at odd coordinates and a 9 px block leave lines at no multiple of 8 (JPEG's grid).
    src = tmp_path / "photo.png"
    Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB").save(src)
    out = tmp_path / "out"
    assert main(["add", str(src), "--box", "61,37,131,117", "--block", "9", "--out", str(out), "--save-mask",
                 "--quiet"]) == 0
    truth = read_mask(out / "photo_mask.png")
    found_mask, found = find_mosaics(load_image(out / "photo.png").image)
    assert iou(found_mask[0], truth) > 0.85
    assert [f.grid for f in found] == [Grid(9, 9, 0, 0)]


@pytest.mark.parametrize("name", PHOTOS)
def test_find_mosaics_leaves_a_heavily_compressed_photo_alone(name):
    # At quality 20-30, smooth areas keep one value per 8x8 block: blocks on JPEG's own grid,
    # which are no mosaic.
    for quality in (20, 30):
        mask, found = find_mosaics(jpeg(photo(name), quality))
        assert found == [] and mask.sum() == 0, quality


@pytest.mark.parametrize("name", PHOTOS)
def test_find_mosaics_finds_a_jpegd_mosaic_on_jpegs_own_grid(name):
    # `add --block 8` on a box at the corner puts the mosaic's lines on JPEG's: still a mosaic.
    image = photo(name)
    mask = region(image)
    found_mask, found = find_mosaics(jpeg(pixelate(image, mask, block=8, offset=(0, 0)), 75))
    assert iou(found_mask, mask) > 0.75
    assert Grid(8, 8, 0, 0) in [f.grid for f in found]


@pytest.mark.parametrize("name", PHOTOS)
def test_block_fit_tells_a_jpegd_mosaic_from_the_photo_around_it(name):
    # After JPEG q75 a mosaic's blocks are not flat, but each stays close to its mean, far
    # closer than on the grid moved by half a block; the photo around it fits both alike.
    image = photo(name)
    mask = region(image)
    grid = Grid(13, 13, 5, 2)
    seen = jpeg(pixelate(image, mask, block=grid.block, offset=grid.offset), 75)
    own, shifted = _block_fit(luma(seen), grid)
    cover = block_mean(mask[0].numpy(), grid)
    ratio = own / np.maximum(shifted, 1e-6)
    textured = shifted > 4.0
    assert np.median(ratio[cover > 0.99]) < 0.3
    assert np.median(ratio[(cover < 0.01) & textured]) > 0.5


@pytest.mark.parametrize("name", PHOTOS)
def test_find_mosaics_after_jpeg_at_an_odd_offset(name):
    image = photo(name)
    mask = region(image)
    grid = Grid(13, 13, 5, 2)
    found_mask, found = find_mosaics(jpeg(pixelate(image, mask, block=grid.block, offset=grid.offset), 75))
    assert iou(found_mask, mask) > 0.55
    assert grid in [f.grid for f in found]
