
import pytest
import torch

from helpers import FIXTURES
from mosaicgan.checkpoint import save_checkpoint
from mosaicgan.data.images import pil_to_tensor, read_image
from mosaicgan.errors import UserError
from mosaicgan.infer.remove.restorer import (
    classical_restorer,
    crop_on_grid,
    load_restorer,
    shipped_restorer_path,
)
from mosaicgan.nets import get_net
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box
from mosaicgan.ops.mosaic import pixelate
from mosaicgan.ops.shapes import Ellipse, Rect, draw_shapes
from mosaicgan.ops.unmosaic import block_means, smooth_base


def region_psnr(x, truth, mask):
    q = lambda t: t.clamp(-1, 1).add(1).mul(127.5).round()  # noqa: E731  (8 bits, as saved)
    inside = mask.bool().expand_as(truth)
    mse = (q(x) - q(truth))[inside].pow(2).mean()
    return float(10 * torch.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def random_restorer(tmp_path_factory):
    torch.manual_seed(3)
    net = get_net("restorer", width=8, blocks=1, scale=4)
    torch.nn.init.normal_(net.tail.weight, std=0.05)  # not the zero start: the output must differ from the base
    path = tmp_path_factory.mktemp("ck") / "r.safetensors"
    save_checkpoint(path, kind="restorer", nets={"restorer": net}, config={"model": "restorer"})
    return load_restorer(path)


def two_regions(h, w):
    return draw_shapes([Ellipse(w * 0.3, h * 0.4, w * 0.15, h * 0.2), Rect(w - 10, h - 12, 30, 40)], height=h, width=w)


@pytest.mark.parametrize("kind", ["classical", "network"])
@pytest.mark.parametrize("size, grid", [((61, 83), Grid(6, 6, 2, 5)), ((40, 50), Grid(5, 7, 4, 1))])
def test_only_the_region_changes(kind, size, grid, random_restorer):
    restorer = classical_restorer() if kind == "classical" else random_restorer
    h, w = size
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, h, w, generator=g) * 2 - 1
    mask = two_regions(h, w)  # one region cut by the image border
    observed = pixelate(image, mask, block=grid.block, offset=grid.offset)
    out = restorer.restore(observed, mask, grid=grid)
    assert out.shape == observed.shape and out.dtype == observed.dtype
    outside = (mask == 0).expand_as(out)
    assert torch.equal(out[outside], observed[outside])
    assert not torch.equal(out[~outside], observed[~outside])
    assert out.min() >= -1 and out.max() <= 1


def test_an_empty_mask_changes_nothing(random_restorer):
    image = torch.rand(3, 32, 32) * 2 - 1
    assert torch.equal(random_restorer.restore(image, torch.zeros(1, 32, 32), grid=Grid(4, 4)), image)


def test_a_small_region_in_a_large_image_is_restored_in_a_small_crop():
    crop = crop_on_grid(Box(2000, 1500, 2040, 1530), Grid(8, 8, 3, 5), height=3000, width=4000, margin=6)
    assert crop.width <= 40 + 2 * 8 + 2 * 6 * 8 and crop.height <= 30 + 2 * 8 + 2 * 6 * 8
    assert (crop.x0 - 5) % 8 == 0 and (crop.y0 - 3) % 8 == 0  # on the grid lines
    edge = crop_on_grid(Box(0, 0, 10, 10), Grid(8, 8, 3, 5), height=100, width=100, margin=6)
    assert edge.x0 == 0 and edge.y0 == 0


def test_a_checkpoint_of_another_kind_is_refused(tmp_path):
    net = get_net("patchgan", ndf=4)
    path = save_checkpoint(tmp_path / "d.safetensors", kind="pix2pix", nets={"disc": net}, config={})
    with pytest.raises(UserError, match="d.safetensors.*restorer"):
        load_restorer(path)


def fixture_cases():
    """Several regions and block sizes (odd grid phases) on the bundled photos."""
    for name in ("bird.jpg", "cat.jpg", "grace_hopper.jpg"):
        truth = pil_to_tensor(read_image(FIXTURES / name))
        h, w = truth.shape[-2:]
        for i, block in enumerate((8, 12, 16)):
            cx, cy = w * (0.35 + 0.15 * i), h * (0.4 + 0.1 * i)
            mask = draw_shapes(Ellipse(cx, cy, w * 0.22, h * 0.2, 20.0 * i), height=h, width=w)
            yield truth, mask, Grid(block, block, 3 + i, 5 - i)


def test_shipped_restorer_beats_the_mosaic_and_bicubic_on_bundled_photos():
    if not shipped_restorer_path().is_file():
        pytest.skip("no shipped restorer weights in this installation")
    restorer = load_restorer()  # offline: the weights are inside the package
    assert restorer.kind == "network" and restorer.sha256
    gains_mosaic, gains_bicubic = [], []
    for truth, mask, grid in fixture_cases():
        observed = pixelate(truth, mask, block=grid.block, offset=grid.offset)
        h, w = truth.shape[-2:]
        bicubic = torch.where(mask > 0, smooth_base(block_means(observed[None], grid), grid, height=h, width=w)[0],
                              observed)
        restored = restorer.restore(observed, mask, grid=grid)
        score = region_psnr(restored, truth, mask)
        gains_mosaic.append(score - region_psnr(observed, truth, mask))
        gains_bicubic.append(score - region_psnr(bicubic, truth, mask))
    # Margins well below what was measured (see assets/README.md), but above noise.
    assert min(gains_mosaic) > 0.3 and sum(gains_mosaic) / len(gains_mosaic) > 0.8
    assert min(gains_bicubic) > 0.0 and sum(gains_bicubic) / len(gains_bicubic) > 0.25
