import numpy as np
import pytest
import torch
from PIL import Image

from mosaicgan.cli import main
from mosaicgan.infer.translate.tile_plan import (
    IMAGE_BYTES_PER_PIXEL,
    activation_bytes_per_pixel,
    default_overlap,
    plan_run,
)
from mosaicgan.infer.translate.translator import Translator
from mosaicgan.nets.registry import get_net


def short_sighted_unet() -> torch.nn.Module:
    """A 3-level U-Net: each output pixel depends on inputs within 15 pixels (measured by
    perturbing one pixel), and batch norm in eval mode is a fixed per-channel affine map, so
    nothing in it is global."""
    net = get_net("unet", num_downs=3, ngf=8, norm="batch")
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # running statistics that are not the identity
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_tiled_equals_whole_image_for_a_network_that_sees_less_than_a_quarter_overlap():
    net = short_sighted_unet()
    x = torch.rand(2, 3, 203, 298) * 2 - 1  # not multiples of 8: padded first, then tiled on the grid
    whole = Translator.from_net(net, tile=0)(x)
    translator = Translator.from_net(net, tile=128, overlap=64)
    assert translator.plan((2, 3, 208, 304)).tile == 128
    tiled = translator(x)
    assert tiled.shape == whole.shape == x.shape
    assert (tiled - whole).abs().max() < 1e-5


def test_a_small_overlap_shows_near_the_seams_only():
    net = short_sighted_unet()
    x = torch.rand(1, 3, 128, 240) * 2 - 1
    whole = Translator.from_net(net, tile=0)(x)
    diff = (Translator.from_net(net, tile=128, overlap=16)(x) - whole).abs().amax(dim=(0, 1, 2))
    # Tiles span columns 0..128 and 112..240; each is disturbed within 15 pixels of its cut (128,
    # resp. 112), so only columns 113..127 can differ from the whole image.
    assert diff[113:128].max() > 1e-3
    assert diff[:113].max() < 1e-5 and diff[128:].max() < 1e-5


def test_batches_too_large_for_the_budget_run_in_parts_with_the_same_output():
    net = short_sighted_unet()
    x = torch.rand(5, 3, 64, 64) * 2 - 1
    rate = activation_bytes_per_pixel(net, in_channels=3, multiple=8, device=torch.device("cpu"))
    budget = int(2.5 * 64 * 64 * (rate + IMAGE_BYTES_PER_PIXEL))  # two images at a time
    small = Translator.from_net(net, memory_budget=budget, precision="fp32")  # the rate above is float32's
    plan = small.plan(x.shape)
    assert (plan.batch, plan.tile) == (2, 0)
    assert torch.allclose(small(x), Translator.from_net(net, tile=0, precision="fp32")(x), atol=1e-6)


def test_an_image_too_large_for_the_budget_runs_in_tiles_that_fit():
    net = short_sighted_unet()
    rate = activation_bytes_per_pixel(net, in_channels=3, multiple=8, device=torch.device("cpu"))
    budget = int(200 * 200 * IMAGE_BYTES_PER_PIXEL + (136 * 136 + 100) * rate)
    translator = Translator.from_net(net, memory_budget=budget, precision="fp32")  # the rate above is float32's
    plan = translator.plan((1, 3, 200, 200))
    assert plan.tile == 136 and plan.overlap == 40  # a quarter, rounded up onto the grid of 8
    assert plan.tile**2 * rate + 200 * 200 * IMAGE_BYTES_PER_PIXEL <= budget
    assert translator(torch.rand(1, 3, 200, 200)).shape == (1, 3, 200, 200)


@pytest.mark.parametrize("megapixels", [0.07, 1, 12, 45])
def test_the_plan_keeps_the_working_memory_within_the_budget_at_any_size(megapixels):
    # unet_256's rate: the whole image does not fit 4 GB beyond ~6 MP; tiles must.
    budget, rate, multiple = 4 << 30, 550.0, 256
    side = int((megapixels * 1e6) ** 0.5) // multiple * multiple + multiple
    plan = plan_run(batch=4, height=side, width=side, multiple=multiple, bytes_per_pixel=rate, budget=budget)
    images = side * side * IMAGE_BYTES_PER_PIXEL
    if plan.tile == 0:
        assert plan.batch * side * side * (rate + IMAGE_BYTES_PER_PIXEL) <= budget
    else:
        assert plan.batch == 1 and plan.tile % multiple == 0 and plan.overlap % multiple == 0
        assert plan.tile * plan.tile * rate + images <= budget
        assert plan.tile >= 2 * multiple and plan.overlap < plan.tile
    assert (plan.tile == 0) == (megapixels <= 1)


def test_where_even_the_image_buffers_exceed_the_budget_the_smallest_tiles_run():
    # 200 MP: its input and output planes alone take 13 GB; the network still gets 512-pixel tiles.
    plan = plan_run(batch=1, height=14336, width=14336, multiple=256, bytes_per_pixel=550.0, budget=4 << 30)
    assert (plan.batch, plan.tile, plan.overlap) == (1, 512, 256)


def test_default_overlap_is_a_quarter_on_the_grid():
    assert default_overlap(1024, 256) == 256 and default_overlap(2048, 256) == 512
    assert default_overlap(128, 8) == 32 and default_overlap(256, 256) == 0


def test_the_probe_counts_activations_in_proportion_to_the_width():
    # Every activation of a U-Net scales with ngf, but for its 3-channel output (deconv, tanh: 24 bytes).
    cpu = torch.device("cpu")
    narrow, wide = (activation_bytes_per_pixel(get_net("unet", num_downs=4, ngf=ngf).eval(), in_channels=3,
                                               multiple=16, device=cpu) for ngf in (8, 16))
    assert narrow > 8 * 4 and 1.6 < wide / narrow < 2.0 and 1.9 < (wide - 24) / (narrow - 24) < 2.1


def write_photo(path, size):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_translate_tile_flags(capsys, tiny_run, tmp_path):
    # tiny_run's generator is a 5-level U-Net: multiples of 32.
    write_photo(tmp_path / "a.png", (150, 100))
    code = main(["translate", str(tmp_path / "a.png"), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "bad"),
                 "--tile", "48", "--quiet"])
    assert code == 2 and "--tile 48" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    code = main(["translate", str(tmp_path / "a.png"), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "bad"),
                 "--tile", "64", "--tile-overlap", "64", "--quiet"])
    assert code == 2 and "--tile-overlap 64" in capsys.readouterr().err
    outs = {}
    for tile in ("0", "64", "auto"):
        code = main(["translate", str(tmp_path / "a.png"), "--checkpoint", str(tiny_run),
                     "--out", str(tmp_path / tile), "--tile", tile, "--quiet"])
        assert code == 0
        outs[tile] = np.asarray(Image.open(tmp_path / tile / "a.png"), dtype=np.int16)
        assert outs[tile].shape == (100, 150, 3)
    assert np.array_equal(outs["auto"], outs["0"])  # a small image fits: whole, as before
    assert not np.array_equal(outs["64"], outs["0"])  # tiles of 64 on 5 levels: each sees its own context


def test_translate_precision_flags(capsys, tiny_run, tmp_path):
    write_photo(tmp_path / "a.png", (64, 64))
    code = main(["translate", str(tmp_path / "a.png"), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "h"),
                 "--precision", "fp16", "--device", "cpu", "--quiet"])
    assert code == 2 and "fp16 needs a CUDA device" in capsys.readouterr().err
    for precision in ("fp32", "bf16"):
        assert main(["translate", str(tmp_path / "a.png"), "--checkpoint", str(tiny_run),
                     "--out", str(tmp_path / precision), "--precision", precision, "--quiet"]) == 0
    a = np.asarray(Image.open(tmp_path / "fp32" / "a.png"), dtype=np.int16)
    b = np.asarray(Image.open(tmp_path / "bf16" / "a.png"), dtype=np.int16)
    # bf16 keeps 8 bits of mantissa: a few 8-bit levels at most on this small net.
    assert np.abs(a - b).max() <= 6 and np.abs(a - b).mean() < 1.0


def test_eval_takes_the_same_flags(capsys, tiny_run, toy_data, tmp_path):
    out = tmp_path / "e.json"
    code = main(["eval", "--checkpoint", str(tiny_run), "--data", str(toy_data), "--json", str(out), "--tile", "48"])
    assert code == 2 and "--tile 48" in capsys.readouterr().err and not out.exists()
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(toy_data), "--json", str(out),
                 "--tile", "32", "--precision", "bf16"]) == 0
    assert out.exists()
