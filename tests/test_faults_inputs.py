"""Inputs found by content: folders and globs of videos and images (mixed), stray files, and the one
rule of training data folders."""

import shutil

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan.data.file_kind import file_kind
from mosaicgan.data.images import expand_inputs
from test_cli import assert_one_line_error, run_cli
from test_video_remove import mosaicked
from video_clips import make_clip, read_frames


def test_file_kind_goes_by_content_then_by_name(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", width=32, height=32, frames=2, photo=None, audio=False).path
    disguised = tmp_path / "clip.dat"
    shutil.copy(clip, disguised)
    photo = tmp_path / "photo.mp4"  # an image whatever its name says
    Image.new("RGB", (8, 8)).save(photo, format="PNG")
    gif = tmp_path / "a.gif"
    Image.new("P", (8, 8)).save(gif)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(b"\x00" * 5)  # too short to say anything: the name decides
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    kinds = {p.name: file_kind(p) for p in (clip, disguised, photo, gif, cut, notes)}
    assert kinds == {"c.mp4": "video", "clip.dat": "video", "photo.mp4": "image", "a.gif": "image",
                     "cut.mkv": "video", "notes.txt": None}


def test_folders_and_globs_of_videos_and_mixed_folders_work_for_add(capsys, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("a.mp4", "b.mkv"):
        make_clip(clips / name, width=48, height=32, frames=4, photo=None, audio=False)
    (clips / ".hidden.tmp").write_bytes(b"junk")  # hidden: skipped
    (clips / "LICENSE").write_text("Apache-2.0")  # a license travels with its data: skipped
    code, out, err = run_cli(capsys, "add", clips, "--box", "2,2,10,10", "--out", tmp_path / "o1", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["a.mp4", "b.mkv"]
    code, out, err = run_cli(capsys, "add", f"{clips}/*.mp4", "--box", "2,2,10,10", "--out", tmp_path / "o2", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["a.mp4"]
    Image.new("RGB", (40, 30), "red").save(clips / "c.png")
    code, out, err = run_cli(capsys, "add", clips, "--box", "2,2,10,10", "--out", tmp_path / "o3", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "o3").iterdir()) == ["a.mp4", "b.mkv", "c.png"]


def test_a_mixed_folder_works_for_remove(capsys, tmp_path):
    box = (40, 24, 88, 72)
    _, clip = mosaicked(tmp_path, "m", boxes=[box], block=8, frames=6, audio=False, static=True)
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.move(clip, folder / "m.mp4")
    frames, _, _ = read_frames(folder / "m.mp4")
    Image.fromarray(frames[0]).save(folder / "still.png")
    mask = np.zeros((96, 128), np.uint8)
    mask[box[1]:box[3], box[0]:box[2]] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, out, err = run_cli(capsys, "remove", folder, "--mask", tmp_path / "mask.png", "--out", tmp_path / "out",
                             "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.mp4", "still.png"]


def test_a_stray_file_in_an_input_folder_or_glob_is_named(capsys, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (40, 30), "red").save(folder / "a.png")
    (folder / "readme.txt").write_text("notes")
    for given in (folder, f"{folder}/*"):
        code, _, err = run_cli(capsys, "add", given, "--box", "2,2,10,10", "--out", tmp_path / "out")
        assert_one_line_error(code, err, "readme.txt", "not an image or a video")
    assert not (tmp_path / "out").exists()
    code, _, err = run_cli(capsys, "add", f"{tmp_path}/*.mp4", "--box", "2,2,10,10", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "pattern matches no image or video files")


def test_commands_that_take_images_refuse_a_video_in_one_line(capsys, tmp_path, tiny_run):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (40, 30), "red").save(folder / "a.png")
    make_clip(folder / "v.mp4", width=32, height=32, frames=2, photo=None, audio=False)
    for argv in (["upscale"], ["translate", "--checkpoint", tiny_run]):
        for given in (folder, folder / "v.mp4"):
            code, _, err = run_cli(capsys, *argv, given, "--out", tmp_path / "out")
            assert_one_line_error(code, err, "v.mp4", "a video", "works on images")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_expand_inputs_finds_by_content_and_resolves_once(tmp_path):
    clip = make_clip(tmp_path / "v.mp4", width=32, height=32, frames=2, photo=None, audio=False)
    clip.path.rename(tmp_path / "v.weird")
    Image.new("RGB", (8, 8)).save(tmp_path / "p.png")
    got = expand_inputs([tmp_path, tmp_path / "p.png", f"{tmp_path}/*"])
    assert [p.name for p in got] == ["p.png", "v.weird"]


@pytest.mark.parametrize("trainer", ["srgan", "restorer", "mosaic_detector", "pix2pix"])
def test_every_trainer_refuses_a_stray_file_in_its_data_folder(capsys, tmp_path, trainer):
    data = tmp_path / "photos"
    (data / "train").mkdir(parents=True)
    for k in range(2):
        shutil.copy(FIXTURES / "cat.jpg", data / "train" / f"{k}.jpg")
    (data / "train" / "readme.txt").write_text("where these came from")
    (data / "LICENSE").write_text("Apache-2.0")  # a license is the one file allowed beside the images
    code, _, err = run_cli(capsys, "train", trainer, "--data", data,
                           "--out", tmp_path / "run", "--quiet", "--device", "cpu")
    assert_one_line_error(code, err, "readme.txt", "not an image file", "move it out of the data folder")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_license_beside_training_photos_is_skipped(tmp_path):
    from mosaicgan.data.mosaic_pairs import load_photos

    shutil.copy(FIXTURES / "cat.jpg", tmp_path / "a.jpg")
    (tmp_path / "LICENSE").write_text("Apache-2.0")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("hidden folder")
    photos, paths = load_photos([tmp_path])
    assert [p.name for p in paths] == ["a.jpg"]
