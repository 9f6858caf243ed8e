import pytest
import torch
from torch import nn

from mosaicgan.ops.tiles import plan_tiles, run_tiled, tile_starts


def test_tiles_cover_the_image_with_at_least_the_overlap():
    for length, tile, overlap in [(100, 32, 8), (33, 32, 8), (64, 32, 0), (1000, 256, 64), (7, 32, 8)]:
        starts = tile_starts(length, tile=tile, overlap=overlap)
        assert starts[0] == 0 and min(length, starts[-1] + tile) == length
        for a, b in zip(starts, starts[1:], strict=False):
            assert a + tile - b >= overlap  # consecutive tiles overlap enough
            assert b > a
    assert plan_tiles(20, 50, tile=32, overlap=8) == [(0, 0, 20, 32), (0, 18, 20, 32)]


def test_bad_tile_settings_are_refused():
    with pytest.raises(ValueError, match="overlap < tile"):
        tile_starts(100, tile=16, overlap=16)
    with pytest.raises(ValueError, match="tile >= 1"):
        tile_starts(100, tile=0, overlap=0)


def test_a_pointwise_function_is_unchanged_by_tiling():
    x = torch.rand(2, 3, 70, 95)
    fn = lambda t: t * 2 - 1  # noqa: E731
    assert torch.allclose(run_tiled(fn, x, tile=32, overlap=8), fn(x), atol=1e-6)


def test_small_images_go_through_whole():
    calls = []
    x = torch.rand(1, 3, 20, 30)
    run_tiled(lambda t: calls.append(t.shape) or t, x, tile=32, overlap=8)
    assert calls == [x.shape]


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_convolutions_within_a_quarter_overlap_match_the_whole_image(scale):
    # Three 3x3 convolutions see 3 pixels around; overlap 12 keeps every cut 3 pixels away from
    # the pixels a tile contributes, so the tiled result equals the whole-image one everywhere.
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
              nn.Conv2d(8, 3 * scale * scale, 3, padding=1)]
    net = nn.Sequential(*layers, nn.PixelShuffle(scale)).eval()
    x = torch.rand(1, 3, 77, 101)
    with torch.no_grad():
        whole = net(x)
        tiled = run_tiled(net, x, tile=32, overlap=12, scale=scale)
    assert tiled.shape == whole.shape == (1, 3, 77 * scale, 101 * scale)
    assert (tiled - whole).abs().max() < 1e-5


def test_a_too_small_overlap_shows_at_the_seams_only():
    torch.manual_seed(0)
    net = nn.Sequential(*[nn.Conv2d(3, 3, 5, padding=2) for _ in range(3)]).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        diff = (run_tiled(net, x, tile=40, overlap=4) - net(x)).abs().amax(dim=(0, 1))
    # Tiles start at 0 and 24 on both axes: the cuts at 24 and 40 disturb the band between them only.
    assert diff.max() > 1e-4
    assert diff[:10, :10].max() < 1e-5 and diff[54:, 54:].max() < 1e-5


def test_fn_with_the_wrong_output_size_is_reported():
    with pytest.raises(ValueError, match="at scale 2"):
        run_tiled(lambda t: t, torch.rand(1, 3, 64, 64), tile=32, overlap=8, scale=2)
