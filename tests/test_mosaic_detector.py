"""The mosaic detector network: its shapes, its training samples and trainer, and the shipped
weights finding mosaics at odd grid offsets (clean and after JPEG) while leaving clean photos alone."""

import shutil

import pytest
import torch

from helpers import FIXTURES
from mosaicgan.cli import main
from mosaicgan.data.mosaic_masks import MosaicMasks
from mosaicgan.infer.image_io import load_image
from mosaicgan.localize.mosaics.detector import load_mosaic_detector, shipped_mosaic_detector_path
from mosaicgan.nets import get_net
from mosaicgan.nets.mosaic_detector import step_channels
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.shapes import Ellipse, draw_shapes
from mosaicgan.train.mosaic_detector import cell_target
from test_localize_mosaics import iou, jpeg


def photo(name: str) -> torch.Tensor:
    return load_image(FIXTURES / name, channels=3).image


@pytest.mark.parametrize("size", [(64, 64), (100, 130), (37, 211)])
def test_net_gives_one_logit_per_4x4_cell_at_any_size(size):
    net = get_net("mosaic_detector", width=8).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size) * 2 - 1)
    assert out.shape == (2, 1, -(-size[0] // 4), -(-size[1] // 4))
    assert torch.isfinite(out).all()


def test_step_channels_mark_steps_only_where_the_luma_steps():
    x = torch.full((1, 3, 8, 10), -0.5)
    x[..., 6:] = 0.5  # a vertical edge between columns 5 and 6
    steps = step_channels(x)
    assert steps[0, 1].abs().sum() == 0  # nothing steps downwards
    assert (steps[0, 0, :, 5] > 0).all() and steps[0, 0, :, :5].sum() == 0 and steps[0, 0, :, 6:].sum() == 0


def test_cell_target_is_the_mask_share_of_each_cell_cut_cells_included():
    mask = torch.zeros(1, 1, 10, 10)
    mask[..., :, :6] = 1  # columns 0-5: cells 0 (all), 1 (half), 2 (none)
    target = cell_target(mask, stride=4, size=(3, 3))
    assert torch.allclose(target[0, 0, 0], torch.tensor([1.0, 0.5, 0.0]))
    assert torch.allclose(target[0, 0, 2], target[0, 0, 0])  # the cut bottom row: its 2 real rows


def _samples(**kwargs) -> MosaicMasks:
    photos = [(photo(n).add(1).mul(127.5).round().to(torch.uint8)) for n in ("cat.jpg", "bird.jpg")]
    return MosaicMasks(roots=[], photos=photos, length=40, crop=96, block_min=4, block_max=16, **kwargs)


def test_samples_are_reproducible_by_seed_and_mosaicked_where_the_mask_says():
    data = _samples(clean_prob=0.3, jpeg_prob=0.0)
    a, b = data[(3, 1234)], data[(3, 1234)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    shares = [data[(i, 100 + i)]["mask"].mean().item() for i in range(24)]
    assert any(s == 0 for s in shares) and any(s > 0.05 for s in shares)  # clean and mosaicked both drawn
    for i in range(24):
        s = data[(i, 100 + i)]
        assert s["image"].shape == (3, 96, 96) and s["mask"].shape == (1, 96, 96)
        assert s["image"].min() >= -1 and s["image"].max() <= 1
        levels = s["image"].add(1).mul(127.5)
        assert torch.allclose(levels, levels.round(), atol=1e-4)  # 8-bit levels, as a saved file has


def test_clean_only_samples_have_empty_masks():
    data = _samples(clean_prob=0.999)
    assert all(data[(i, 7 + i)]["mask"].sum() == 0 for i in range(10))


@pytest.mark.slow
def test_train_subcommand_runs_and_its_checkpoint_loads_as_a_detector(tmp_path):
    run, data = tmp_path / "run", tmp_path / "photos"
    data.mkdir()
    for name in ("cat.jpg", "bird.jpg", "face.jpg"):  # a training folder holds images only
        shutil.copy(FIXTURES / name, data / name)
    assert main(["train", "mosaic_detector", "--data", str(data), "--out", str(run), "--stop-after", "3",
                 "--batch-size", "2", "--set", "data.crop_size=64", "--set", "nets.ngf=8", "--quiet"]) == 0
    detector = load_mosaic_detector(run)
    prob = detector.probability(photo("bird.jpg"))
    assert prob.shape == photo("bird.jpg").shape[1:] and 0 <= prob.min() and prob.max() <= 1


# The shipped weights, on the fixture photos (none of them in its training data).
SHIPPED = pytest.mark.skipif(not shipped_mosaic_detector_path().is_file(), reason="no shipped detector")
CASES = [("cat.jpg", Grid(8, 8, 3, 5)), ("bird.jpg", Grid(11, 7, 2, 6)), ("grace_hopper.jpg", Grid(13, 13, 9, 1)),
         ("cat.jpg", Grid(20, 20, 7, 11))]


def _region(image: torch.Tensor) -> torch.Tensor:
    h, w = image.shape[1:]
    return draw_shapes([Ellipse(w / 2 + 7, h / 2 - 3, min(h, w) * 0.32, min(h, w) * 0.24, 20)], height=h, width=w)


@SHIPPED
@pytest.mark.parametrize("name,grid", CASES, ids=lambda v: str(v))
def test_shipped_detector_finds_a_mosaic_at_an_odd_offset_clean_and_after_jpeg(name, grid):
    detector = load_mosaic_detector()
    image = photo(name)
    mask = _region(image)
    mosaic = pixelate(image, mask, block=grid.block, offset=grid.offset)
    for seen, bar in ((mosaic, 0.8), (jpeg(mosaic, 75), 0.7)):
        found, regions = detector.find(seen)
        assert iou(found, mask) > bar
        best = max(regions, key=lambda r: (r.mask & (mask[0] > 0.5)).sum().item())
        assert best.grid == grid


@SHIPPED
@pytest.mark.parametrize("name", ["cat.jpg", "bird.jpg", "grace_hopper.jpg", "face.jpg"])
def test_shipped_detector_touches_nothing_on_clean_photos(name):
    found, regions = load_mosaic_detector().find(photo(name))
    assert regions == [] and found.sum() == 0
