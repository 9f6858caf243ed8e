"""`mosaicgan add --faces`: the face flags, what they change in the mask, and the listing of
images where no face was found."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES, run_cli
from mosaicgan.cli import add_cmd
from mosaicgan.infer.add.regions import RegionRequest


@pytest.fixture
def group(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(FIXTURES / "face.jpg").convert("RGB").save(folder / "group.png")
    return folder


def mask_of(capsys, folder, out, *flags):
    code, _, err = run_cli(capsys, "add", folder, "--out", out, "--faces", "--save-mask", "--quiet", *flags)
    assert code == 0, err
    return np.asarray(Image.open(out / "group_mask.png")) > 127


def test_cli_defaults_are_the_packages():
    request = RegionRequest(kind="faces")
    assert (add_cmd.FACE_THRESHOLD, add_cmd.FACE_MIN, add_cmd.FACE_GROW) == (
        request.face_threshold, request.min_face, request.face_grow)


def test_face_flags_shape_the_mask(capsys, group, tmp_path):
    ellipse = mask_of(capsys, group, tmp_path / "a")
    box = mask_of(capsys, group, tmp_path / "b", "--face-shape", "box")
    tight = mask_of(capsys, group, tmp_path / "c", "--grow", "0")
    big_only = mask_of(capsys, group, tmp_path / "d", "--min-face", "100")
    assert tight.sum() < ellipse.sum() < box.sum()
    assert not (ellipse & ~box).any() and not (tight & ~box).any()
    assert 0 < big_only.sum() < ellipse.sum()  # the two small faces at the sides are left out
    assert not big_only[:, :70].any() and ellipse[:, :70].any()


def test_face_flags_without_faces_and_bad_values_are_one_line_errors(capsys, group, tmp_path):
    for flags, fragment in [
        (["--box", "1,1,5,5", "--face-threshold", "0.3"], "--face-threshold goes with --faces"),
        (["--box", "1,1,5,5", "--face-shape", "box"], "--face-shape goes with --faces"),
        (["--box", "1,1,5,5", "--grow", "0.5"], "--grow takes whole pixels"),
        (["--faces", "--face-threshold", "1.5"], "--face-threshold"),
        (["--faces", "--min-face", "2"], "--min-face"),
        (["--faces", "--grow", "-0.2"], "--grow"),
    ]:
        code, _, err = run_cli(capsys, "add", group, "--out", tmp_path / "out", *flags)
        assert code == 2 and err.strip().count("\n") == 0 and fragment in err, (flags, err)
        assert not (tmp_path / "out").exists()


def test_long_list_of_images_without_faces_goes_to_a_file(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(12):
        shutil.copy(FIXTURES / "cat.jpg", folder / f"cat{i:02d}.jpg")
    shutil.copy(FIXTURES / "grace_hopper.jpg", folder)
    code, out, err = run_cli(capsys, "add", folder, "--out", tmp_path / "out", "--faces", "--quiet")
    assert code == 0 and "wrote 1 image" in out
    listing = tmp_path / "out" / "no_face_found.txt"
    assert "no face found in 12 images" in err and "and 2 more" in err and str(listing) in err
    assert sorted(Path(line).name for line in listing.read_text().splitlines()) == [
        f"cat{i:02d}.jpg" for i in range(12)]
