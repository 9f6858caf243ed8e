"""Pictures of several frames or pages (refused in one line, never cut to the first) and GIF outputs
(their input's palette kept, so nothing outside the region moves; provenance in a comment)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from test_cli import assert_one_line_error, run_cli


def frames(n=3, size=(40, 30)):
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(n)]


@pytest.mark.parametrize("name, unit", [("a.gif", "frames"), ("a.png", "frames"), ("a.webp", "frames"),
                                        ("a.tif", "pages")])
def test_a_picture_of_several_frames_is_refused_by_every_command(capsys, tmp_path, name, unit):
    first, *rest = frames()
    path = tmp_path / name
    first.save(path, save_all=True, append_images=rest)
    for argv in (["add", path, "--box", "1,1,9,9"], ["upscale", path], ["remove", path, "--detector", "grid"]):
        out = tmp_path / f"out_{argv[0]}"
        code, _, err = run_cli(capsys, *argv, "--out", out, "--quiet")
        assert_one_line_error(code, err, name, f"of 3 {unit}", "only single pictures are read")
        assert not out.exists() or not list(out.iterdir())
    # One frame is an ordinary image.
    single = tmp_path / f"single{Path(name).suffix}"
    first.save(single)
    code, _, err = run_cli(capsys, "add", single, "--box", "1,1,9,9", "--out", tmp_path / "ok", "--quiet")
    assert code == 0, err


def mosaicked_gif(tmp_path, capsys, *, transparent=False):
    """cat.jpg with an average mosaic over (60, 60, 156, 156), as a 256-colour GIF, and its mask."""
    code, _, err = run_cli(capsys, "add", FIXTURES / "cat.jpg", "--box", "60,60,96,96", "--block", "12",
                           "--out", tmp_path / "m", "--quiet")
    assert code == 0, err
    rgb = Image.open(tmp_path / "m" / "cat.jpg").convert("RGB")
    gif = rgb.quantize(255)
    if transparent:  # index 255 (unused so far) transparent in the top-left corner
        arr = np.asarray(gif).copy()
        arr[:20, :20] = 255
        gif = Image.fromarray(arr)
        gif.putpalette(rgb.quantize(255).getpalette() + [0, 0, 0])
    path = tmp_path / "cat.gif"
    gif.save(path, **({"transparency": 255} if transparent else {}))
    mask = np.zeros((rgb.height, rgb.width), np.uint8)
    mask[60:156, 60:156] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    inside = mask > 0
    return path, tmp_path / "mask.png", inside


def as_rgba(path):
    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


def test_remove_on_a_gif_keeps_every_pixel_outside_the_region_and_says_it_was_restored(capsys, tmp_path):
    path, mask, inside = mosaicked_gif(tmp_path, capsys)
    code, out, err = run_cli(capsys, "remove", path, "--mask", mask, "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    assert "without metadata" not in err
    before, after = as_rgba(path), as_rgba(tmp_path / "out" / "cat.gif")
    assert (before[~inside] == after[~inside]).all()  # not one level moved outside the region
    assert (before[inside] != after[inside]).any(axis=1).mean() > 0.2  # and it was restored inside
    code, out, _ = run_cli(capsys, "info", tmp_path / "out" / "cat.gif")
    assert code == 0 and "restored by mosaicgan" in out and "synthesized" in out


def test_add_on_a_transparent_gif_keeps_palette_and_transparency(capsys, tmp_path):
    path, _, _ = mosaicked_gif(tmp_path, capsys, transparent=True)
    code, _, err = run_cli(capsys, "add", path, "--box", "200,100,64,64", "--out", tmp_path / "out", "--quiet")
    assert code == 0, err
    before, after = as_rgba(path), as_rgba(tmp_path / "out" / "cat.gif")
    region = np.zeros(before.shape[:2], bool)
    region[100:164, 200:264] = True
    assert (before[~region] == after[~region]).all()
    assert (after[:20, :20, 3] == 0).all() and (after[region][:, 3] == 255).all()
    assert (before[region] != after[region]).any(axis=1).mean() > 0.5
