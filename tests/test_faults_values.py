"""Values out of range: one line naming the flag or key and the allowed range, nothing written."""

import numpy as np
import pytest
from PIL import Image

from mosaicgan.config import default_config, load_toml, with_values
from mosaicgan.errors import UserError
from mosaicgan.validate import CONFIG_RANGES
from test_cli import assert_one_line_error, run_cli

TRAIN_BAD = [
    (["--batch-size", "0"], "--batch-size must be a number in [1, 65536], got 0"),
    (["--load-size", "0"], "--load-size"),
    (["--crop-size", "-5"], "--crop-size"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--workers", "-2"], "--workers"),  # -1 is auto
    (["--epochs", "-1"], "--epochs must be at least 0"),
    (["--stop-after", "-5"], "--stop-after must be at least 1"),
    (["--set", "nets.ngf=0"], "nets.ngf must be a number in [1, 1024], got 0"),
    (["--set", "run.log_every=0"], "run.log_every must be at least 1"),
    (["--set", "loss.pool_size=-1"], "loss.pool_size"),
    (["--set", "optim.beta1=1.5"], "optim.beta1 must be a number in [0, 1)"),
    (["--epochs", "0", "--epochs-decay", "0"], "must be at least 1, got 0 + 0"),
    (["--crop-size", "128", "--load-size", "64"], "data.crop_size (--crop-size 128) is larger than data.load_size"),
]


@pytest.mark.parametrize("flags,message", TRAIN_BAD, ids=[" ".join(f) for f, _ in TRAIN_BAD])
def test_training_values_out_of_range(capsys, toy_data, tmp_path, flags, message):
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", tmp_path / "run", "--quiet", *flags)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "run").exists()


def test_every_ranged_key_is_a_config_key_and_checked_in_toml(tmp_path):
    keys = set(CONFIG_RANGES)
    config = default_config("pix2pix")
    for key in keys:
        with_values(config, {key: getattr(getattr(config, key.split(".")[0]), key.split(".")[1])})  # defaults pass
    (tmp_path / "c.toml").write_text('model = "pix2pix"\n[optim]\nbatch_size = 0\n')
    with pytest.raises(UserError, match=r"c.toml: optim.batch_size must be"):
        load_toml(tmp_path / "c.toml")


def test_classifier_values_are_checked_too(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "classifier", "--data", tmp_path, "--out", tmp_path / "run",
                           "--batch-size", "0")
    assert_one_line_error(code, err, "--batch-size")


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("flags,message", [
    (["--block", "100000"], "--block 100000 exceeds the image's longer side (60 x 40); give at most 60"),
    (["--feather", "100000"], "--feather 100000 exceeds"),
    (["--grow", "-100000"], "--grow -100000 exceeds"),
    (["--block-fraction", "5"], "--block-fraction must lie in (0, 1]"),
])
def test_add_pixel_sizes_are_bounded_by_the_image(capsys, photo, tmp_path, flags, message):
    code, _, err = run_cli(capsys, "add", photo, "--box", "5,5,20,20", "--out", tmp_path / "out", *flags)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "out").exists()


def test_add_grow_that_shrinks_the_region_away_writes_nothing_and_exits_3(capsys, photo, tmp_path):
    code, out, err = run_cli(capsys, "add", photo, "--box", "5,5,20,20", "--out", tmp_path / "out", "--grow", "-30",
                             "--quiet")
    assert code == 3 and "wrote 0 images" in out and "--grow -30 shrank the region to nothing in 1 image" in err
    assert not (tmp_path / "out" / "p.png").exists()
    code, _, _ = run_cli(capsys, "add", photo, "--box", "5,5,20,20", "--out", tmp_path / "out", "--grow", "-3",
                         "--quiet")
    assert code == 0 and (tmp_path / "out" / "p.png").is_file()


def test_add_faces_with_no_face_anywhere_exits_3(capsys, photo, tmp_path):
    code, out, err = run_cli(capsys, "add", photo, "--faces", "--out", tmp_path / "out", "--quiet")
    assert code == 3 and "no face found in 1 image" in err


@pytest.mark.parametrize("flags,message", [
    (["--block-fraction", "0.5", "0.1"], "--block-fraction LOW HIGH must satisfy 0 < LOW <= HIGH <= 1, got 0.5 0.1"),
    (["--size", "100000"], "--size must lie in [16, 4096]"),
    (["--block-min", "4", "--block-max", "1000"], "--block-max 1000 exceeds the pair size"),
    (["--grow-max", "1000"], "--grow-max and --feather-max must be at most the pair size"),
])
def test_make_pairs_ranges(capsys, photo, tmp_path, flags, message):
    code, _, err = run_cli(capsys, "make-pairs", "--images", photo.parent, "--out", tmp_path / "out", *flags)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags,message", [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--device", "tpu"], "tpu"),
])
def test_demo_checks_flags_before_writing(capsys, tmp_path, flags, message):
    code, _, err = run_cli(capsys, "demo", "--out", tmp_path / "demo", *flags)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "demo").exists()


def test_make_pairs_with_no_region_in_any_photo_exits_3(capsys, photo, tmp_path):
    (tmp_path / "photos").mkdir()
    photo.rename(tmp_path / "photos" / photo.name)
    code, out, err = run_cli(capsys, "make-pairs", "--images", tmp_path / "photos", "--out", tmp_path / "out",
                             "--size", "16", "--regions", "faces", "--quiet")
    assert code == 3 and err.strip() == (f"mosaicgan: {tmp_path / 'photos'}: "
                                         "no pairs were made (no region found in any photo)")
    assert not list((tmp_path / "out").rglob("*.png"))
