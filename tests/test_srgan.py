"""Super-resolution: SRResNet's shapes and pixel shuffle, the content loss, VGG19 files, and a
learning test against bicubic."""

import math

import pytest
import torch
import torch.nn.functional as F

from mosaicgan.config import default_config, with_values
from mosaicgan.data.images import pil_to_tensor, read_image
from mosaicgan.errors import UserError
from mosaicgan.losses.content import content_loss
from mosaicgan.metrics import psnr_y
from mosaicgan.nets import get_net
from mosaicgan.nets.vgg19 import vgg19_features
from mosaicgan.ops.sr import downscale, upscale_bicubic
from mosaicgan.train.sr_features import feature_network
from mosaicgan.train.srgan import build_generator

FIXTURE = "tests/fixtures/grace_hopper.jpg"


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("upsampler", ["subpixel", "espcn"])
def test_output_is_scale_times_larger(scale, upsampler):
    net = get_net("srresnet", scale=scale, blocks=2, width=8, upsampler=upsampler).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, 7, 10) * 2 - 1)
    assert y.shape == (2, 3, 7 * scale, 10 * scale)


def test_pixel_shuffle_places_channels_as_subpixels():
    # With a zero kernel the tail's output is its bias: channel c * s^2 + i * s + j must land on
    # sub-pixel (i, j) of every input pixel's s x s cell, in colour c.
    scale = 4
    net = get_net("srresnet", scale=scale, blocks=1, width=8, upsampler="espcn").eval()
    tail = net.upsample[0]
    torch.nn.init.zeros_(tail.weight)
    with torch.no_grad():
        tail.bias.copy_(torch.arange(3 * scale * scale, dtype=torch.float32))
        y = net(torch.rand(1, 3, 3, 2))
    i, j = torch.meshgrid(torch.arange(3 * scale), torch.arange(2 * scale), indexing="ij")
    for c in range(3):
        assert torch.equal(y[0, c], c * scale * scale + (i % scale) * scale + (j % scale).float())


def test_zero_tail_with_global_skip_is_bicubic():
    config = with_values(default_config("srgan"), {"srgan.blocks": 2, "srgan.width": 8, "srgan.global_skip": True,
                                                    "srgan.upsampler": "espcn"})
    net = build_generator(config).eval()
    x = downscale(torch.rand(1, 3, 32, 24) * 2 - 1, 4)
    with torch.no_grad():
        assert torch.allclose(net(x).clamp(-1, 1), upscale_bicubic(x, 4), atol=1e-6)


def test_bicubic_matches_the_published_set5_convention():
    # MATLAB's imresize (a = -0.5) on a natural image: downscale then upscale loses a little, and
    # PyTorch's plain bicubic (a = -0.75) scores differently, so the two are not the same function.
    hr = pil_to_tensor(read_image(FIXTURE, mode="RGB"))[None, :, :300, :256]
    small = downscale(hr, 4)
    ours = upscale_bicubic(small, 4)
    plain = F.interpolate(small, scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1)
    assert not torch.allclose(ours, plain, atol=1e-3)
    assert 20 < float(psnr_y(ours, hr, border=4)) < 40


def test_content_loss_is_zero_for_identical_images_and_grows_with_blur():
    features = feature_network("mobilenet_v2")
    x = pil_to_tensor(read_image(FIXTURE, mode="RGB"))[None, :, :128, :128]
    assert float(content_loss(features, x, x)) == 0.0
    losses = []
    for sigma in (0.7, 1.5, 3.0):
        k = torch.arange(-6, 7, dtype=torch.float32)
        g = torch.exp(-k**2 / (2 * sigma**2))
        g = (g / g.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
        blurred = F.conv2d(F.conv2d(F.pad(x, (6, 6, 6, 6), mode="reflect"), g, groups=3), g.transpose(2, 3), groups=3)
        losses.append(float(content_loss(features, blurred, x)))
    assert 0 < losses[0] < losses[1] < losses[2]


def test_content_loss_passes_gradients_to_the_prediction_only():
    features = feature_network("mobilenet_v2", layer="block3")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    pred = (x + 0.1 * torch.randn_like(x)).requires_grad_(True)
    content_loss(features, pred, x).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in features.parameters())


def _vgg_state(layer="relu2_2"):
    return {f"features.{k}": v for k, v in vgg19_features(layer=layer).state_dict().items()}


def test_vgg19_file_in_torchvision_layout_loads(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save({**_vgg_state(), "classifier.0.weight": torch.zeros(2, 2)}, path)
    features = feature_network(f"vgg19:{path}", layer="relu2_2")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    assert features(x).shape == (1, 128, 8, 8)


def test_vgg19_file_of_the_wrong_shape_is_a_one_line_error(tmp_path):
    state = _vgg_state()
    state["features.2.weight"] = torch.zeros(64, 64, 5, 5)
    path = tmp_path / "not_vgg19.pth"
    torch.save(state, path)
    with pytest.raises(UserError) as err:
        feature_network(f"vgg19:{path}", layer="relu2_2")
    text = str(err.value)
    assert len(text.splitlines()) == 1 and "features.2.weight" in text and "not_vgg19.pth" in text


def test_vgg19_file_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "code.pth"
    torch.save({"features.0.weight": torch.zeros(1), "f": math.floor}, path)  # a function: not weights_only
    with pytest.raises(UserError, match="weights_only"):
        feature_network(f"vgg19:{path}", layer="relu2_2")


def synthetic_images(n, *, size, seed):
    """Sharp-edged shapes over smooth gradients: detail that bicubic blurs and a network can learn."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    images = []
    for _ in range(n):
        img = (torch.rand(3, 1, 1, generator=g) - 0.5) * (xx + yy)
        for _ in range(12):
            cy, cx, r = (torch.rand(3, generator=g) * torch.tensor([2, 2, 0.3]) - torch.tensor([1, 1, -0.1])).tolist()
            colour = torch.rand(3, 1, 1, generator=g) * 2 - 1
            inside = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if torch.rand((), generator=g) < 0.5 else \
                ((yy - cy).abs() < r) & ((xx - cx).abs() < r)
            img = torch.where(inside, colour, img)
        images.append(img.clamp(-1, 1))
    return torch.stack(images)


def gain_over_bicubic(seed):
    """Y-PSNR of a tiny x2 SRResNet trained 200 steps, minus bicubic's, on held-out images."""
    torch.manual_seed(seed)
    train, test = synthetic_images(64, size=48, seed=seed), synthetic_images(8, size=48, seed=100 + seed)
    net = get_net("srresnet", scale=2, blocks=2, width=16, upsampler="espcn", global_skip=True)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(200):
        hr = train[torch.randint(0, len(train), (8,), generator=g)]
        loss = F.mse_loss(net(downscale(hr, 2)), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    small = downscale(test, 2)
    with torch.no_grad():
        ours = float(psnr_y(net(small).clamp(-1, 1), test, border=2).mean())
    return ours - float(psnr_y(upscale_bicubic(small, 2), test, border=2).mean())


@pytest.mark.slow
def test_srresnet_beats_bicubic_on_synthetic_images():
    # Three seeds, judged on the median (as every learning test here); seeds seen: +0.7 to +0.9 dB.
    gains = sorted(gain_over_bicubic(seed) for seed in range(3))
    assert gains[1] > 0.4 and gains[0] > 0, gains


def test_icnr_starts_each_subpixel_stage_as_nearest_upsampling():
    # With ICNR every x2 stage of the paper's tail makes 2x2 cells of equal values: no grid at init.
    from mosaicgan.nets.layers import icnr_

    conv = icnr_(torch.nn.Conv2d(6, 4 * 5, 3, padding=1), scale=2)
    y = torch.nn.functional.pixel_shuffle(conv(torch.randn(2, 6, 7, 9)), 2)
    cells = y.reshape(2, 5, 7, 2, 9, 2)
    assert torch.allclose(cells, cells[:, :, :, :1, :, :1].expand_as(cells))
    net = get_net("srresnet", scale=4, blocks=1, width=8, upsampler="subpixel").eval()
    first_stage = net.upsample[:2]  # conv + pixel shuffle
    with torch.no_grad():
        out = first_stage(torch.randn(1, 8, 5, 5)).reshape(1, 8, 5, 2, 5, 2)
    assert torch.allclose(out, out[:, :, :, :1, :, :1].expand_as(out))


def test_resize_upsampling_prints_no_grid_where_an_untrained_pixel_shuffle_does():
    # The same random weights' statistics, smooth input: pixel shuffle without ICNR gives each of
    # the 16 sub-pixels its own kernel (a grid at period 4 from the first step); resize does not.
    from mosaicgan.metrics import periodic_energy_db

    torch.manual_seed(0)
    x = F.avg_pool2d(torch.rand(2, 3, 40, 40) * 2 - 1, 9, stride=1)  # 32 x 32, smooth
    grids = {}
    for upsampler in ("resize", "espcn"):
        net = get_net("srresnet", scale=4, blocks=1, width=8, upsampler=upsampler).eval()
        if upsampler == "espcn":  # undo the ICNR start: what a plain draw gives
            torch.nn.init.kaiming_uniform_(net.upsample[0].weight, a=5 ** 0.5)
        with torch.no_grad():
            y = net(x)
        assert y.shape == (2, 3, 128, 128)
        grids[upsampler] = periodic_energy_db(y, period=4)
    assert (grids["resize"] < grids["espcn"] - 6).all(), grids


def test_periodic_energy_finds_a_grid_at_its_period():
    from mosaicgan.metrics import periodic_energy_db

    torch.manual_seed(0)
    # A smooth random image (noise blurred), and the same with a faint 4-pixel grid on it.
    base = F.avg_pool2d(torch.rand(3, 3, 128, 128) * 2 - 1, 9, stride=1)  # 120 x 120: 4 and 3 divide it
    grid = torch.zeros(1, 1, 4, 4)
    grid[..., 0, :] = grid[..., :, 0] = 0.03
    gridded = base + grid.repeat(1, 1, 30, 30)
    plain = periodic_energy_db(base, period=4)
    printed = periodic_energy_db(gridded, period=4)
    assert (plain < 1).all()  # nothing periodic: at most white noise's 0 dB
    assert (printed > plain + 10).all()
    # A grid at another period adds nothing periodic at 4 (3 and 4 share no frequency but 0).
    other = base + torch.zeros(1, 1, 3, 3).index_fill_(2, torch.tensor([0]), 0.03).repeat(1, 1, 40, 40)
    assert (periodic_energy_db(other, period=4) < plain + 0.1).all()  # (it only adds to the total energy)
