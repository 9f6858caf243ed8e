"""The per-frame cores on tensors (no files), and the one home each for image, output and
mask files that the file loops share."""


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from helpers import FIXTURES
from mosaicgan.data.images import pil_to_tensor
from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions, applied_mask, mosaic_generator, mosaic_image
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
from mosaicgan.infer.image_io import as_frame, load_image, write_image
from mosaicgan.infer.mask_io import find_mask_file, pair_mask_path, read_mask, write_mask
from mosaicgan.infer.outputs import plan_outputs, png_names, same_name, with_mask_name

FACE = (75, 75, 110, 110)  # Grace Hopper's face (x, y, w, h), as in test_localize_faces


def noise_frame(channels=3, height=40, width=56, seed=0):
    return torch.rand(channels, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("style", ["average", "median", "random", "blur"])
@pytest.mark.parametrize("channels", [1, 3])
def test_mosaic_image_changes_only_the_region(style, channels):
    frame = noise_frame(channels)
    mask = torch.zeros(40, 56)
    mask[8:24, 10:40] = 1
    options = MosaicOptions(style=style, block=4, grow=2)
    out = mosaic_image(frame, mask, options=options, generator=mosaic_generator(options, "frame_000"))
    assert out.shape == frame.shape
    outside = applied_mask(mask, options) == 0
    assert applied_mask(mask, options).shape == (40, 56)
    assert torch.equal(out[:, outside], frame[:, outside])
    assert (out[:, 8:24, 10:40] - frame[:, 8:24, 10:40]).abs().mean() > 0.1
    again = mosaic_image(frame, mask, options=options, generator=mosaic_generator(options, "frame_000"))
    assert torch.equal(out, again)  # seeded from the options and the key: reruns match


def test_random_style_needs_a_generator_and_differs_per_key():
    frame, mask = noise_frame(), torch.ones(40, 56)
    options = MosaicOptions(style="random", block=8)
    with pytest.raises(ValueError, match="generator"):
        mosaic_image(frame, mask, options=options)
    a = mosaic_image(frame, mask, options=options, generator=mosaic_generator(options, "a"))
    b = mosaic_image(frame, mask, options=options, generator=mosaic_generator(options, "b"))
    assert not torch.equal(a, b)
    assert mosaic_generator(MosaicOptions(style="average"), "a") is None


def test_auto_block_grows_with_the_region():
    frame = noise_frame(height=128, width=128)
    small, large = torch.zeros(128, 128), torch.zeros(128, 128)
    small[10:30, 10:30] = 1
    large[0:120, 0:120] = 1
    options = MosaicOptions(block=None, block_fraction=0.1)
    # A block of the auto size makes a constant patch: count the distinct values in the region.
    patches = [mosaic_image(frame, m, options=options)[0, 10:30, 10:30].unique().numel() for m in (small, large)]
    assert patches[1] < patches[0]


def test_region_finder_takes_a_tensor_or_an_array():
    finder = RegionFinder(RegionRequest(kind="boxes", boxes=((5, 6, 10, 4), (-3, 0, 5, 5))))
    frame = noise_frame()
    region = finder.find(frame)
    expected = torch.zeros(40, 56)
    expected[6:10, 5:15] = 1
    expected[0:5, 0:2] = 1
    assert torch.equal(region.mask, expected)
    array = ((frame.permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert torch.equal(finder.find(array).mask, expected)
    assert torch.equal(finder.find(frame[:1]).mask, expected)  # grey


def test_random_shapes_are_redrawn_from_the_same_seed():
    finder = RegionFinder(RegionRequest(kind="random", shape_count=(2, 3)))
    frame = noise_frame(height=64, width=64)
    a = finder.find(frame, generator=torch.Generator().manual_seed(7))
    b = finder.find(frame, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.mask, b.mask) and not a.empty and a.mask.shape == (64, 64)
    with pytest.raises(ValueError, match="Generator"):
        finder.find(frame)


def test_faces_found_in_a_frame():
    frame = pil_to_tensor(Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB"))
    region = RegionFinder(RegionRequest(kind="faces")).find(frame)
    x, y, w, h = FACE
    assert region.mask.shape == frame.shape[1:]
    assert bool((region.mask[y + 10 : y + h - 10, x + 10 : x + w - 10] == 1).all())
    # The mask covers the head (face box grown by 0.3 of its size), which stops short of the top rows.
    assert float(region.mask[:20].max()) == 0.0


def test_translate_image_is_the_batch_core_on_one_frame(tiny_run):
    from mosaicgan.infer.translate.translator import Translator, translate_image

    translator = Translator.from_checkpoint(tiny_run)
    frame = noise_frame(height=37, width=45)
    out = translate_image(frame, translator=translator)
    assert out.shape == (3, 37, 45) and out.abs().max() <= 1
    assert torch.allclose(out, translator(frame[None])[0])
    grey = translate_image(frame[:1], translator=translator)  # a grey frame goes in repeated to RGB
    assert torch.allclose(grey, translator(frame[:1].expand(3, -1, -1)[None])[0])


def test_load_and_write_keep_grey_alpha_and_format(tmp_path):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), "RGB")
    rgb.convert("L").save(tmp_path / "grey.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)))
    rgba.save(tmp_path / "alpha.png")

    grey = load_image(tmp_path / "grey.png")
    assert grey.image.shape == (1, 30, 40) and grey.alpha is None
    assert load_image(tmp_path / "grey.png", channels=3).image.shape == (3, 30, 40)
    loaded = load_image(tmp_path / "alpha.png")
    assert loaded.image.shape == (3, 30, 40) and loaded.alpha is not None
    assert load_image(tmp_path / "alpha.png", channels=1).image.shape == (1, 30, 40)

    written = write_image(loaded.image, tmp_path / "out" / "alpha.png", alpha=loaded.alpha)
    assert np.array_equal(np.asarray(Image.open(written)), np.asarray(rgba))  # lossless, alpha back in place
    jpeg = write_image(loaded.image, tmp_path / "out" / "photo.jpg")
    assert Image.open(jpeg).format == "JPEG"
    with pytest.raises(UserError, match="nosuch.png"):
        load_image(tmp_path / "nosuch.png")


def test_exif_orientation_is_applied_on_load(tmp_path):
    img = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: turn 90 degrees to show
    img.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").image.shape == (3, 40, 20)


def test_as_frame_checks_its_input():
    assert as_frame(np.zeros((4, 5, 3), dtype=np.uint8)).shape == (3, 4, 5)
    assert as_frame(np.full((4, 5), 255, dtype=np.uint8)).eq(1).all()
    with pytest.raises(ValueError):
        as_frame(np.zeros((4, 5, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        as_frame(torch.zeros(4, 5))


def test_plan_outputs_refuses_overwriting_an_input_and_collisions(tmp_path):
    a, b = tmp_path / "x" / "photo.png", tmp_path / "y" / "photo.jpg"
    plan = plan_outputs([a, b], tmp_path / "out", names=same_name)
    assert [p.name for p in plan[b]] == ["photo.jpg"]
    assert [p.name for p in plan_outputs([a], tmp_path / "out", names=with_mask_name(same_name))[a]] == [
        "photo.png", "photo_mask.png"]
    with pytest.raises(UserError, match="would both write photo_mask.png"):
        plan_outputs([a, b], tmp_path / "out", names=with_mask_name(same_name))
    with pytest.raises(UserError, match="would both write photo.png"):
        plan_outputs([a, b], tmp_path / "out", names=png_names())
    with pytest.raises(UserError, match="overwrite an input"):
        plan_outputs([a], tmp_path / "x", names=same_name)
    assert [p.name for p in plan_outputs([a], tmp_path, names=png_names(samples=2))[a]] == ["photo_s0.png",
                                                                                           "photo_s1.png"]


def test_mask_files_round_trip_and_say_what_is_wrong(tmp_path):
    mask = torch.zeros(20, 30)
    mask[5:10, 4:12] = 1
    mask[0, 0] = 0.5
    path = write_mask(mask, tmp_path / "masks" / "photo_mask.png")
    back = read_mask(path, size=(30, 20))
    assert torch.equal(back > 0.99, mask > 0.99) and abs(float(back[0, 0]) - 0.5) < 0.01
    with pytest.raises(UserError, match="mask is 30x20 but the image is 20x30"):
        read_mask(path, size=(20, 30))
    assert find_mask_file(tmp_path / "masks", tmp_path / "photo.jpg") == path
    assert find_mask_file(path, None) == path
    with pytest.raises(UserError, match="no mask for other.jpg"):
        find_mask_file(tmp_path / "masks", tmp_path / "other.jpg")
    (tmp_path / "pairs" / "test").mkdir(parents=True)
    assert (pair_mask_path(tmp_path / "pairs", split="test", pair="a/b_01.png")
            == tmp_path / "pairs" / "test" / "b_01.png")
    assert pair_mask_path(tmp_path / "pairs", split="train", pair="b_01.png") == tmp_path / "pairs" / "b_01.png"


def test_remove_mosaics_reads_only_a_window_around_each_region():
    # The same two mosaicked regions (farther than their reach from the edges) in a small frame
    # and inside a large one, at a shift that does not match the block grid: the large frame's
    # result, cut at the small frame's place, is the small frame's result, and nothing outside
    # the regions' reach changes.
    from mosaicgan.infer.remove.core import remove_mosaics
    from mosaicgan.infer.remove.restorer import classical_restorer
    from mosaicgan.ops.mosaic import mosaic_region

    torch.manual_seed(0)
    small = F.interpolate(torch.rand(1, 3, 20, 24), size=(400, 480), mode="bicubic")[0].clamp(0, 1) * 2 - 1
    mask = torch.zeros(400, 480)
    mask[90:140, 100:170] = 1
    mask[200:260, 300:360] = 0.8  # a soft user mask keeps its level
    large = torch.rand(3, 900, 1100) * 2 - 1
    y, x = 333, 517
    large[:, y : y + 400, x : x + 480] = small
    small = mosaic_region(small, mask > 0, block=10, offset=(3, 7))
    large[:, y : y + 400, x : x + 480] = small
    big_mask = torch.zeros(900, 1100)
    big_mask[y : y + 400, x : x + 480] = mask
    restorer = classical_restorer()
    a = remove_mosaics(small, restorer=restorer, mask=mask, grow=2, feather=3)
    b = remove_mosaics(large, restorer=restorer, mask=big_mask, grow=2, feather=3)
    assert len(a.restored) == len(b.restored) == 2
    assert torch.equal(b.frame[:, y : y + 400, x : x + 480], a.frame)
    assert torch.equal(b.mask[y : y + 400, x : x + 480], a.mask)
    outside = torch.ones(900, 1100, dtype=torch.bool)
    outside[y : y + 400, x : x + 480] = False
    assert torch.equal(b.frame[:, outside], large[:, outside])
    assert not torch.equal(a.frame, small)
