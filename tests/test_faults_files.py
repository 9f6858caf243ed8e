"""Files and folders: full disks, unwritable or wrong --out, truncated data, outputs that exist."""

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan import atomic
from mosaicgan.atomic import atomic_path
from mosaicgan.errors import UserError
from test_cli import assert_one_line_error, run_cli


def test_full_disk_in_an_atomic_write_is_one_line_and_leaves_nothing(tmp_path):
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(UserError, match=f"no space left on device writing {target}"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_writers_that_hide_the_errno_are_recognised(tmp_path, monkeypatch):
    # torch.save on a full disk: "RuntimeError: ... unexpected pos N vs M", no errno.
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 100, 0))
    with pytest.raises(UserError, match="no space left on device writing"):
        with atomic_path(tmp_path / "state.pt"):
            raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 1472 vs 1366")
    # Not a write failure: passes through unchanged.
    with pytest.raises(ValueError, match="a bug"):
        with atomic_path(tmp_path / "state.pt"):
            raise ValueError("a bug")


def test_full_disk_during_add_and_training_is_one_line(capsys, toy_data, tmp_path, monkeypatch):
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), "red").save(photo)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(Image.Image, "save", full)
        code, _, err = run_cli(capsys, "add", photo, "--box", "1,1,9,9", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "no space left on device writing", "p.png")
    assert not list((tmp_path / "out").glob("*"))

    def torch_full(obj, f, *args, **kwargs):  # what torch.save raises on a full disk
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 1472 vs 1366")

    monkeypatch.setattr(torch, "save", torch_full)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100, 100, 0))
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", tmp_path / "run", "--quiet",
                           "--stop-after", "1", "--set", "data.preprocess=none", "--set", "nets.net_g=unet",
                           "--set", "nets.num_downs=5", "--set", "nets.ngf=8", "--set", "nets.ndf=8",
                           "--device", "cpu", "--workers", "0")
    assert_one_line_error(code, err, "no space left on device writing", "resume.pt")
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("not a folder")
    return path


def test_out_that_is_a_file_or_under_a_file(capsys, tiny_run, toy_data, afile, tmp_path):
    photo = FIXTURES / "cat.jpg"
    commands = [["add", photo, "--box", "1,1,9,9", "--out"],
                ["translate", photo, "--checkpoint", tiny_run, "--out"],
                ["make-pairs", "--images", FIXTURES, "--out"],
                ["train", "pix2pix", "--data", toy_data, "--out"],
                ["demo", "--out"],
                ["examples", "inverse-cdf", "--out"]]
    for argv in commands:
        code, _, err = run_cli(capsys, *argv, afile)
        assert_one_line_error(code, err, "--out is an existing file, not a folder", afile)
        code, _, err = run_cli(capsys, *argv, afile / "sub")
        assert_one_line_error(code, err, f"cannot write to {afile / 'sub'} (a parent is a file")
    assert afile.read_text() == "not a folder"


def test_unwritable_out_folder(capsys, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into any folder: simulate the refusal the mode gives others
        real_access = os.access
        monkeypatch.setattr(atomic.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    for argv in (["add", FIXTURES / "cat.jpg", "--box", "1,1,9,9"], ["make-pairs", "--images", FIXTURES]):
        code, _, err = run_cli(capsys, *argv, "--out", locked / "out")
        assert_one_line_error(code, err, f"cannot write to {locked / 'out'} (permission denied)")
    assert not list(locked.iterdir())


def test_eval_checks_where_it_writes_before_evaluating(capsys, tiny_run, toy_data, tmp_path, monkeypatch):
    code, out, err = run_cli(capsys, "eval", "--checkpoint", tiny_run, "--data", toy_data, "--json", tmp_path)
    assert_one_line_error(code, err, "--json is a folder")
    assert out == ""
    ckpt_dir = tiny_run / "checkpoints"
    real_access = os.access
    # A read-only checkpoint folder (simulated: the suite may run as root, which bypasses modes).
    monkeypatch.setattr(atomic.os, "access", lambda p, mode: False if Path(p) == ckpt_dir else real_access(p, mode))
    code, out, err = run_cli(capsys, "eval", "--checkpoint", tiny_run, "--data", toy_data)
    assert_one_line_error(code, err, "cannot write to", "eval_test.json", "permission denied")
    assert out == ""  # nothing was printed that would then be lost


def test_truncated_jpeg_in_training_data_is_caught_before_training(capsys, tmp_path):
    data = tmp_path / "data"
    for sub in ("A", "B"):
        (data / "train" / sub).mkdir(parents=True)
        for name in ("a.jpg", "b.jpg", "c.jpg"):
            shutil.copy(FIXTURES / "cat.jpg", data / "train" / sub / name)
    whole = (data / "train" / "B" / "c.jpg").read_bytes()
    (data / "train" / "B" / "c.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", data, "--out", tmp_path / "run", "--quiet")
    assert_one_line_error(code, err, "c.jpg", "truncated")
    assert not (tmp_path / "run").exists()
    # The same holds for unpaired (CycleGAN) data.
    for sub in ("trainA", "trainB"):
        shutil.copytree(data / "train" / ("A" if sub == "trainA" else "B"), data / "u" / sub)
    code, _, err = run_cli(capsys, "train", "cyclegan", "--data", data / "u", "--out", tmp_path / "run", "--quiet")
    assert_one_line_error(code, err, "c.jpg", "truncated")


def test_translate_and_add_refuse_to_replace_outputs_without_overwrite(capsys, tiny_run, tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(photo)
    for argv, name in ((["add", photo, "--box", "1,1,9,9"], "p.png"),
                       (["translate", photo, "--checkpoint", tiny_run], "p.png")):
        out = tmp_path / argv[0]
        out.mkdir()
        (out / name).write_bytes(b"precious")
        code, _, err = run_cli(capsys, *argv, "--out", out, "--quiet")
        assert_one_line_error(code, err, "already exists", "--overwrite", out / name)
        assert (out / name).read_bytes() == b"precious"
        code, _, err = run_cli(capsys, *argv, "--out", out, "--quiet", "--overwrite")
        assert code == 0, err
        assert Image.open(out / name).size == (32, 32)
