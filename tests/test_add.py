"""`mosaicgan add`: regions from boxes, a mask, faces, a CAM class; only the region changes;
bad input gives one line and writes nothing."""

import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers import FIXTURES, assert_one_line_error, run_cli

FACE = (75, 75, 110, 110)  # Grace Hopper's face in grace_hopper.jpg (x, y, w, h), as in test_localize_faces


def pixels(path):
    return np.asarray(Image.open(path)).astype(int)


@pytest.fixture
def photos(tmp_path):
    """grace_hopper and cat as PNG (lossless, so unchanged pixels compare exactly), plus grey and RGBA."""
    folder = tmp_path / "in"
    folder.mkdir()
    hopper = Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB")
    hopper.save(folder / "hopper.png")
    hopper.convert("L").save(folder / "grey.png")
    rgba = hopper.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(hopper.size))
    rgba.save(folder / "alpha.png")
    return folder


def test_boxes_change_only_the_grown_feathered_region(capsys, photos, tmp_path):
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    out = tmp_path / "out"
    code, stdout, _ = run_cli(capsys, "add", photos, "--out", out, "--box", "20,30,40,50", "--box", "150,200,60,40",
                              "--grow", "2", "--feather", "3", "--block", "8", "--save-mask", "--quiet")
    assert code == 0 and "wrote 3 images and 3 masks" in stdout
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # inputs untouched
    for name, mode in (("hopper", "RGB"), ("grey", "L"), ("alpha", "RGBA")):
        result, source = Image.open(out / f"{name}.png"), Image.open(photos / f"{name}.png")
        assert result.mode == mode and result.size == source.size
        mask = pixels(out / f"{name}_mask.png")
        assert mask.shape == (300, 256)
        assert (mask[30:80, 20:60] == 255).all() and (mask[200:240, 150:210] == 255).all()  # the boxes
        reach = np.zeros_like(mask, dtype=bool)  # boxes grown by grow + feather = 5 px
        reach[25:85, 15:65] = True
        reach[195:245, 145:215] = True
        assert not mask[~reach].any()
        changed = (pixels(out / f"{name}.png") != pixels(photos / f"{name}.png"))
        changed = changed.any(axis=-1) if changed.ndim == 3 else changed
        assert changed.any() and not changed[mask == 0].any()
    alpha_in = np.asarray(Image.open(photos / "alpha.png").getchannel("A"))
    assert np.array_equal(np.asarray(Image.open(out / "alpha.png").getchannel("A")), alpha_in)


def test_a_box_partly_off_the_left_edge_needs_no_equals_sign(capsys, photos, tmp_path):
    for name in ("grey.png", "alpha.png"):
        (photos / name).unlink()
    code, stdout, err = run_cli(capsys, "add", photos, "--out", tmp_path / "out", "--box", "-10,-5,30,25",
                                "--save-mask", "--quiet")
    assert code == 0, err
    mask = pixels(tmp_path / "out" / "hopper_mask.png")
    assert (mask[:20, :20] == 255).all() and not mask[20:, :].any() and not mask[:, 20:].any()


def test_mask_file_and_mask_folder(capsys, photos, tmp_path):
    mask = Image.new("L", (256, 300), 0)
    ImageDraw.Draw(mask).ellipse((100, 100, 180, 200), fill=255)
    mask.save(tmp_path / "disc.png")
    code, _, _ = run_cli(capsys, "add", photos / "hopper.png", "--out", tmp_path / "a", "--mask", tmp_path / "disc.png",
                         "--style", "median", "--quiet")
    assert code == 0
    changed = (pixels(tmp_path / "a" / "hopper.png") != pixels(photos / "hopper.png")).any(axis=-1)
    inside = np.asarray(mask) > 0
    assert changed[inside].mean() > 0.5 and not changed[~inside].any()
    # A folder of masks named after the images (what --save-mask writes).
    masks = tmp_path / "masks"
    masks.mkdir()
    mask.save(masks / "hopper_mask.png")
    code, _, _ = run_cli(capsys, "add", photos / "hopper.png", "--out", tmp_path / "b", "--mask", masks,
                         "--style", "median", "--quiet")
    assert code == 0
    assert (tmp_path / "b" / "hopper.png").read_bytes() == (tmp_path / "a" / "hopper.png").read_bytes()


def test_faces_mosaics_the_face_and_leaves_out_images_without_one(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FIXTURES / "grace_hopper.jpg", folder)
    shutil.copy(FIXTURES / "cat.jpg", folder)
    code, stdout, err = run_cli(capsys, "add", folder, "--out", tmp_path / "out", "--faces", "--save-mask", "--quiet")
    assert code == 0 and "wrote 1 image and 1 mask to" in stdout
    assert "no face found in 1 image, not written: cat.jpg" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grace_hopper.jpg", "grace_hopper_mask.png"]
    mask = pixels(tmp_path / "out" / "grace_hopper_mask.png")
    x, y, w, h = FACE
    # The mask covers the head (face box grown by 0.3 of its size), which stops short of the top rows.
    assert (mask[y + 10 : y + h - 10, x + 10 : x + w - 10] == 255).all() and mask[:20].max() == 0
    result = pixels(tmp_path / "out" / "grace_hopper.jpg")
    source = np.asarray(Image.open(FIXTURES / "grace_hopper.jpg")).astype(int)
    face = (slice(y + 10, y + h - 10), slice(x + 10, x + w - 10))
    assert np.abs(result[face] - source[face]).mean() > 10  # the face is pixelated ...
    assert np.abs(result[:20] - source[:20]).mean() < 3  # ... the rest only re-encoded (JPEG, quality 95)


def test_cam_region_of_a_class(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(FIXTURES / "grace_hopper.jpg", folder)
    shutil.copy(FIXTURES / "cat.jpg", folder)
    code, _, err = run_cli(capsys, "add", folder, "--out", tmp_path / "out", "--cam", "tabby cat",
                           "--min-prob", "0.05", "--save-mask", "--quiet")
    assert code == 0
    assert "not written: grace_hopper.jpg" in err  # no cat there: the map's peak alone is no region
    mask = pixels(tmp_path / "out" / "cat_mask.png") > 0
    head_x, head_y, head_w, head_h = 130, 25, 130, 135  # the cat's head (test_mobilenet.CAT_HEAD)
    assert mask[head_y : head_y + head_h, head_x : head_x + head_w].mean() > 0.3 and mask.mean() < 0.6


def bad_runs(tmp_path, photos):
    small = tmp_path / "small.png"
    Image.new("L", (40, 30), 255).save(small)
    empty = tmp_path / "empty.png"
    Image.new("L", (256, 300), 0).save(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(photos / "hopper.png", broken / "good.png")
    data = (photos / "grey.png").read_bytes()
    (broken / "truncated.png").write_bytes(data[: len(data) // 2])
    return [
        ([photos, "--mask", small], ["small.png", "mask is 40x30", "256x300"]),
        ([photos, "--mask", empty], ["empty.png", "mask is empty"]),
        ([broken, "--box", "0,0,10,10"], ["truncated.png"]),
        ([photos, "--box", "500,500,10,10"], ["outside the 256x300 image"]),
        ([photos, "--cam", "tabby kat"], ["unknown class 'tabby kat'", "close matches", "'tabby cat' (282)"]),
        ([photos, "--cam", "bikini"], ["does not target clothing", "'bikini'"]),
        ([photos, "--cam", "446"], ["does not target clothing"]),
        ([photos, "--box", "1,2,3"], ["--box expects x,y,w,h"]),
    ]


def test_bad_input_is_one_line_and_writes_nothing(capsys, photos, tmp_path):
    for argv, fragments in bad_runs(tmp_path, photos):
        out = tmp_path / "out"
        code, _, err = run_cli(capsys, "add", *argv, "--out", out)
        assert_one_line_error(code, err, *fragments)
        assert not out.exists(), argv
    code, _, err = run_cli(capsys, "add", photos, "--out", photos, "--box", "0,0,10,10")
    assert_one_line_error(code, err, "overwrite an input")
