"""The CLI as users run it: exit codes, one-line errors naming the file, no tracebacks."""

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from helpers import assert_one_line_error, run_cli
from mosaicgan.cli import main


def test_nets_lists_reference_counts(capsys):
    code, out, _ = run_cli(capsys, "nets")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert "54,413,955" in rows["unet_256"]
    assert "11,378,179" in rows["resnet_9blocks"]
    assert "2,764,737" in rows["patchgan_70"] and "2,768,705" in rows["patchgan_70"]


def test_every_command_has_help(capsys):
    for argv in (["--help"], ["train", "--help"], ["train", "pix2pix", "--help"], ["translate", "--help"],
                 ["eval", "--help"], ["nets", "--help"], ["demo", "--help"], ["add", "--help"],
                 ["make-pairs", "--help"], ["train", "classifier", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "usage" in capsys.readouterr().out


def test_corrupt_image_in_training_data(capsys, tmp_path):
    train_dir = tmp_path / "data" / "train"
    train_dir.mkdir(parents=True)
    Image.new("RGB", (64, 32)).save(train_dir / "good.png")
    good = (train_dir / "good.png").read_bytes()
    (train_dir / "broken.png").write_bytes(good[: len(good) // 2])  # truncated: header fine, pixels missing
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", tmp_path / "data", "--out", tmp_path / "run",
                           "--preprocess", "none", "--workers", "0", "--epochs", "1", "--epochs-decay", "0",
                           "--set", "nets.net_g=unet", "--set", "nets.num_downs=5", "--quiet")
    assert_one_line_error(code, err, "broken.png")


def test_non_image_file_and_empty_folder(capsys, tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", tmp_path / "data", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "holds no images", "train")
    (data / "readme.md").write_text("x")
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", tmp_path / "data", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "readme.md")
    assert not (tmp_path / "r").exists()


def test_missing_and_foreign_checkpoints(capsys, tmp_path):
    img = tmp_path / "in.png"
    Image.new("RGB", (20, 20)).save(img)
    code, _, err = run_cli(capsys, "translate", img, "--checkpoint", tmp_path / "nope.safetensors",
                           "--out", tmp_path / "o")
    assert_one_line_error(code, err, "nope.safetensors", "no such checkpoint")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    code, _, err = run_cli(capsys, "translate", img, "--checkpoint", junk, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "junk.safetensors", "not a mosaicgan checkpoint")
    import torch
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    code, _, err = run_cli(capsys, "eval", "--checkpoint", other, "--data", tmp_path)
    assert_one_line_error(code, err, "other.safetensors", "not a mosaicgan checkpoint")
    assert not (tmp_path / "o").exists()


def test_unknown_set_key_lists_valid_keys(capsys, toy_data, tmp_path):
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", tmp_path / "r",
                           "--set", "optim.learning_rate=1")
    assert_one_line_error(code, err, "optim.learning_rate", "valid keys", "optim.lr", "loss.lambda_l1")


def test_existing_run_is_not_overwritten(capsys, tiny_run, toy_data):
    before = (tiny_run / "checkpoints" / "resume.pt").read_bytes()
    code, _, err = run_cli(capsys, "train", "pix2pix", "--data", toy_data, "--out", tiny_run)
    assert_one_line_error(code, err, "--resume")
    assert (tiny_run / "checkpoints" / "resume.pt").read_bytes() == before


def test_entry_point_exit_status(tmp_path):
    # The real console path: a separate process, the status code, and stderr.
    proc = subprocess.run([sys.executable, "-m", "mosaicgan", "eval", "--checkpoint", str(tmp_path / "x"),
                           "--data", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"mosaicgan: error: {Path(tmp_path / 'x')}: no such checkpoint"]


def test_written_files_have_ordinary_permissions(tiny_run):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    mode = stat.S_IMODE((tiny_run / "checkpoints" / "latest.safetensors").stat().st_mode)
    assert mode == 0o666 & ~mask


@pytest.mark.slow
def test_demo_runs_end_to_end(capsys, tmp_path):
    from mosaicgan.infer.provenance import read_provenance

    code = main(["demo", "--out", str(tmp_path / "demo"), "--pix2pix", "--epochs", "1", "--device", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    # The main path: add --faces, then remove finds and restores that mosaic.
    assert (tmp_path / "demo" / "mosaicked" / "grace_hopper.jpg").is_file()
    assert (tmp_path / "demo" / "mosaicked" / "grace_hopper_mask.png").is_file()
    restored = tmp_path / "demo" / "restored" / "grace_hopper.jpg"
    assert read_provenance(restored)["synthesized"] is True
    assert f"restored image: {restored}" in out and "PSNR inside the mosaicked region" in out
    # --pix2pix: the toy paired task.
    assert "identity (input)" in out
    assert len(list((tmp_path / "demo" / "translated").glob("*.png"))) == 40
    assert (tmp_path / "demo" / "run" / "checkpoints" / "eval_test.json").is_file()
