"""`upscale` and `eval` on super-resolution checkpoints, and `train srgan` end to end (tiny)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli
from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.data.images import tensor_to_uint8
from mosaicgan.infer.image_io import load_image
from mosaicgan.infer.upscale.bands import default_core, plan_bands, upscale_to_uint8
from mosaicgan.infer.upscale.upscaler import Upscaler, receptive_radius
from mosaicgan.nets import get_net


def tiny_net(*, blocks=2, global_skip=False, scale=4):
    net = get_net("srresnet", scale=scale, blocks=blocks, width=8, upsampler="espcn", global_skip=global_skip)
    with torch.no_grad():  # random, non-trivial batch-norm statistics, so eval mode is not the identity
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture
def checkpoint(tmp_path):
    return save_checkpoint(tmp_path / "sr.safetensors", kind="srgan", nets={"gen": tiny_net()}, config={})


def test_tiled_equals_whole_image_with_enough_overlap():
    net = tiny_net()
    radius = receptive_radius(net)
    x = torch.rand(3, 70, 90) * 2 - 1
    whole = Upscaler(net, scale=4, tile=1000)(x)
    tiled = Upscaler(net, scale=4, tile=4 * radius + 16, overlap=4 * radius)(x)
    assert tiled.shape == whole.shape == (3, 280, 360)
    assert torch.allclose(tiled, whole, atol=1e-4)


def test_small_overlap_differs_only_near_the_seams():
    # 16 rows fit one tile; columns are cut into tiles [0, 40) and [24, 64). Outside the overlap
    # each output pixel comes from one tile, at least receptive_radius (10) from its cut edge.
    net = tiny_net()
    assert receptive_radius(net) == 10
    x = torch.rand(3, 16, 64) * 2 - 1
    whole = Upscaler(net, scale=4, tile=1000)(x)
    tiled = Upscaler(net, scale=4, tile=40, overlap=16)(x)
    diff = (tiled - whole).abs()
    assert diff[..., : 24 * 4].max() < 1e-4 and diff[..., 40 * 4 :].max() < 1e-4
    assert diff[..., 24 * 4 : 40 * 4].max() > 1e-3  # an overlap under 4 x the radius: the seam region differs


def assert_same_8bit(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to float rounding: a value at a rounding boundary may land one level apart."""
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_band_plan_keeps_every_row_once():
    for height, core, margin in [(70, 7, 10), (71, 7, 10), (27, 7, 10), (5, 1, 0), (1000, 468, 22)]:
        bands = plan_bands(height, core=core, margin=margin)
        kept = [r for _, _, k0, k1 in bands for r in range(k0, k1)]
        assert kept == list(range(height))
        for start, stop, k0, k1 in bands:  # a margin on every side that is not the image's border
            assert start == 0 or k0 - start >= margin
            assert stop == height or stop - k1 >= margin
    assert plan_bands(27, core=7, margin=10) == [(0, 27, 0, 27)]  # fits one band: not cut


@pytest.mark.parametrize("channels", [3, 1])
def test_banded_equals_whole_image(channels):
    # Bands of 7 kept rows (27 run) over 70 rows: 10 bands, each cut where the network pads.
    net = tiny_net()
    radius = receptive_radius(net)
    x = torch.rand(channels, 70, 33, generator=torch.Generator().manual_seed(channels)) * 2 - 1
    upscaler = Upscaler(net, scale=4, tile=1000)
    whole = tensor_to_uint8(upscaler(x))
    heights = []
    hook = net.register_forward_hook(lambda m, inputs, out: heights.append(inputs[0].shape[-2]))
    banded = upscale_to_uint8(upscaler, x, core=7)
    hook.remove()
    assert len(heights) == 10 and max(heights) == 7 + 2 * radius
    assert banded.shape == (280, 132, channels)
    assert_same_8bit(banded, whole)
    # The margin is what makes the cut invisible: without it the band edges show.
    thin = upscale_to_uint8(upscaler, x, core=7, margin=2)
    assert np.abs(thin.astype(int) - whole.astype(int)).max() > 1


def test_banded_and_tiled_equals_whole_image():
    # Tiles of 56 (overlap 4 x the radius: exact) across 90 columns inside bands of 36 + 2 x 10 rows.
    net = tiny_net()
    radius = receptive_radius(net)
    x = torch.rand(3, 100, 90, generator=torch.Generator().manual_seed(0)) * 2 - 1
    whole = tensor_to_uint8(Upscaler(net, scale=4, tile=1000)(x))
    tiled = Upscaler(net, scale=4, tile=4 * radius + 16, overlap=4 * radius)
    assert default_core(tiled, margin=radius) == 36 and len(plan_bands(100, core=36, margin=radius)) == 3
    assert_same_8bit(upscale_to_uint8(tiled, x), whole)


def test_upscale_cli_writes_banded_images_as_whole_ones(tmp_path, capsys, checkpoint):
    # 100 rows with --tile 56: three bands; the alpha band is enlarged beside them, whole.
    rng = np.random.default_rng(1)
    src = tmp_path / "tall.png"
    Image.fromarray(rng.integers(0, 255, (100, 70, 4), dtype=np.uint8), mode="RGBA").save(src)
    code, _, err = run_cli(capsys, "upscale", src, "--out", tmp_path / "out", "--checkpoint", checkpoint,
                           "--tile", 56, "--tile-overlap", 40, "--quiet")
    assert code == 0, err
    item = load_image(src)
    net = load_checkpoint(checkpoint, kind="srgan", only=["gen"]).nets["gen"]
    whole = tensor_to_uint8(Upscaler(net, scale=4, tile=1000)(item.image))
    with Image.open(tmp_path / "out" / "tall.png") as img:
        assert img.mode == "RGBA" and img.size == (280, 400)
        written = np.asarray(img)
    assert_same_8bit(written[..., :3].copy(), whole)
    assert np.array_equal(written[..., 3], np.asarray(item.alpha.resize((280, 400), Image.BICUBIC)))


def test_upscale_cli_end_to_end(tmp_path, capsys, checkpoint):
    rgb = tmp_path / "in" / "photo.jpg"
    rgb.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (13, 17, 3), dtype=np.uint8)).save(rgb)
    rgba = tmp_path / "in" / "logo.png"
    Image.new("RGBA", (10, 6), (200, 30, 40, 128)).save(rgba)
    before = rgb.read_bytes()
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "upscale", rgb, rgba, "--out", out, "--checkpoint", checkpoint,
                                "--tile", 16, "--tile-overlap", 4, "--quiet")
    assert code == 0, err
    assert "2 images" in stdout
    with Image.open(out / "photo.png") as img:
        assert img.size == (68, 52) and img.mode == "RGB"
    with Image.open(out / "logo.png") as img:
        assert img.size == (40, 24) and img.mode == "RGBA"
        assert np.asarray(img)[..., 3].min() >= 120
    assert rgb.read_bytes() == before
    # Again: the outputs exist, nothing is written without --overwrite.
    code, _, err = run_cli(capsys, "upscale", rgb, "--out", out, "--checkpoint", checkpoint)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    # An output may never replace an input.
    code, _, err = run_cli(capsys, "upscale", tmp_path / "in" / "logo.png", "--out", tmp_path / "in",
                           "--checkpoint", checkpoint, "--overwrite")
    assert code == 2 and "overwrite an input" in err


def test_upscale_refuses_a_checkpoint_of_another_kind(tmp_path, capsys):
    other = save_checkpoint(tmp_path / "p.safetensors", kind="pix2pix", nets={"gen": tiny_net()}, config={})
    img = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(img)
    code, _, err = run_cli(capsys, "upscale", img, "--out", tmp_path / "o", "--checkpoint", other)
    assert code == 2 and "srgan" in err and not (tmp_path / "o" / "a.png").exists()


def test_eval_of_an_untrained_global_skip_net_is_bicubic(tmp_path, capsys):
    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (42, 50, 3), dtype=np.uint8)).save(hr / f"{i}.png")
    ckpt = save_checkpoint(tmp_path / "skip.safetensors", kind="srgan",
                           nets={"gen": tiny_net(global_skip=True)}, config={})
    code, stdout, err = run_cli(capsys, "eval", "--checkpoint", ckpt, "--data", hr, "--json", tmp_path / "e.json")
    assert code == 0, err
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["images"] == 2 and result["scale"] == 4
    assert result["model"]["psnr"] == pytest.approx(result["bicubic"]["psnr"], abs=1e-3)
    assert "bicubic" in stdout


def test_train_srgan_both_stages_and_resume(tmp_path, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(data / f"{i}.png")
    tiny = ["--set", "srgan.blocks=1", "--set", "srgan.width=8", "--set", "srgan.upsampler=espcn",
            "--set", "srgan.patch=32", "--set", "srgan.samples_per_epoch=8", "--set", "run.log_every=1",
            "--batch-size", 4, "--quiet"]
    run1 = tmp_path / "mse"
    code, _, err = run_cli(capsys, "train", "srgan", "--data", data, "--scale", 2, "--out", run1,
                           "--epochs", 1, "--epochs-decay", 1, "--stop-after", 2, *tiny)
    assert code == 0, err
    code, stdout, err = run_cli(capsys, "train", "srgan", "--resume", run1)
    assert code == 0 and "finished at iteration 4" in stdout, err
    log = [json.loads(line) for line in (run1 / "log.jsonl").read_text().splitlines()]
    assert {"loss_mse", "psnr", "psnr_bicubic"} <= set(log[-1])
    # Stage-2 keys in stage 1 would change nothing: refused.
    code, _, err = run_cli(capsys, "train", "srgan", "--data", data, "--out", tmp_path / "w",
                           "--set", "srgan.features=vgg19:/nowhere.pth", *tiny)
    assert code == 2 and "srgan.features applies to srgan.stage=gan only" in err
    # Stage 2 needs the stage-1 checkpoint, and its architecture.
    code, _, err = run_cli(capsys, "train", "srgan", "--data", data, "--scale", 2, "--out", tmp_path / "x",
                           "--set", "srgan.stage=gan", *tiny)
    assert code == 2 and "--init-from" in err
    code, _, err = run_cli(capsys, "train", "srgan", "--data", data, "--scale", 4, "--out", tmp_path / "y",
                           "--set", "srgan.stage=gan", "--init-from", run1, *tiny)
    assert code == 2 and "srgan.scale" in err
    run2 = tmp_path / "gan"
    code, _, err = run_cli(capsys, "train", "srgan", "--data", data, "--scale", 2, "--out", run2,
                           "--set", "srgan.stage=gan", "--set", "srgan.ndf=8", "--init-from", run1,
                           "--epochs", 1, "--epochs-decay", 0, *tiny)
    assert code == 0, err
    log = [json.loads(line) for line in (run2 / "log.jsonl").read_text().splitlines()]
    assert {"loss_content", "loss_adv", "loss_d_real", "loss_d_fake"} <= set(log[-1])
    out = tmp_path / "up"
    img = tmp_path / "small.png"
    Image.fromarray(rng.integers(0, 255, (9, 11, 3), dtype=np.uint8)).save(img)
    code, _, err = run_cli(capsys, "upscale", img, "--out", out, "--checkpoint", run2)
    assert code == 0, err
    with Image.open(out / "small.png") as up:
        assert up.size == (22, 18)


def test_shipped_model_is_the_default_and_sharpens(tmp_path, capsys):
    # grace_hopper is a coral_test_data photo (in the training data): this checks that the shipped
    # file loads as the default and runs as trained, not how well it generalises (see the benchmark).
    from mosaicgan.data.images import pil_to_tensor, read_image
    from mosaicgan.metrics import psnr_y
    from mosaicgan.ops.sr import crop_to_multiple, downscale, upscale_bicubic

    upscaler = Upscaler.from_checkpoint(None)
    assert upscaler.scale == 4
    hr = crop_to_multiple(pil_to_tensor(read_image("tests/fixtures/grace_hopper.jpg", mode="RGB"))[None], 4)
    small = downscale(hr, 4)
    ours = float(psnr_y(upscaler(small[0])[None], hr, border=4))
    assert ours > float(psnr_y(upscale_bicubic(small, 4), hr, border=4)) + 0.5
    img = tmp_path / "small.png"
    Image.new("L", (7, 5), 128).save(img)
    code, stdout, err = run_cli(capsys, "upscale", img, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    with Image.open(tmp_path / "out" / "small.png") as up:
        assert up.size == (28, 20) and up.mode == "L"
