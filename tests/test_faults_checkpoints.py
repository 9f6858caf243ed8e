"""Checkpoints edited by hand or unreadable, and messages that name the real problem."""

import json
import os

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from helpers import FIXTURES as HELPER_FIXTURES
from mosaicgan import checkpoint
from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.errors import UserError
from test_cli import assert_one_line_error, run_cli

FIXTURES = str(HELPER_FIXTURES)


def edited(tiny_run, tmp_path, change):
    """A copy of the tiny run's checkpoint with its metadata changed by `change(meta)`."""
    src = tiny_run / "checkpoints" / "latest.safetensors"
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    change(meta)
    out = tmp_path / "edited.safetensors"
    save_file(load_file(str(src)), str(out), metadata=meta)
    return out


def set_ngf(meta, value, key="ngf"):
    nets = json.loads(meta["nets"])
    nets["gen"]["kwargs"][key] = value
    meta["nets"] = json.dumps(nets)


EDITS = [
    (lambda m: m.update(nets="{not json"), "damaged checkpoint metadata ('nets' is not valid JSON)"),
    (lambda m: m.update(config="[1, 2]"), "damaged checkpoint metadata ('config' is not a JSON object)"),
    (lambda m: m.pop("kind"), "damaged checkpoint metadata (no 'kind' entry)"),
    (lambda m: m.update(format_version="abc"), "format_version 'abc' is not a number"),
    (lambda m: m.update(nets=json.dumps({"gen": {"kwargs": {}}})), "network 'gen' has no valid spec"),
    (lambda m: set_ngf(m, 512), "weights of 'gen' do not fit its stored spec"),
    (lambda m: set_ngf(m, "wide"), "network 'gen' cannot be built from its stored spec"),
    # Range-checked as training configs are, before anything is built (10**9 levels was a hang).
    (lambda m: set_ngf(m, 10**6), "network 'gen': ngf must be a number in [1, 1024], got 1000000"),
    (lambda m: set_ngf(m, -3), "network 'gen': ngf must be a number in [1, 1024], got -3"),
    (lambda m: set_ngf(m, 10**9, key="num_downs"), "network 'gen': num_downs must be a number in [1, 14]"),
    (lambda m: set_ngf(m, float("nan"), key="in_channels"), "in_channels must be a number in [1, 64], got nan"),
    (lambda m: m.update(kind="restorer"), "says it is a restorer checkpoint but its networks are not a restorer's"),
]


@pytest.mark.parametrize("change,message", EDITS, ids=[m for _, m in EDITS])
def test_hand_edited_metadata_is_one_line(capsys, tiny_run, tmp_path, change, message):
    ckpt = edited(tiny_run, tmp_path, change)
    code, _, err = run_cli(capsys, "translate", tiny_run / "samples", "--checkpoint", ckpt, "--out", tmp_path / "o")
    assert_one_line_error(code, err, message, "edited.safetensors")
    assert not (tmp_path / "o").exists()


def test_wide_spec_is_refused_without_allocating(tiny_run, tmp_path, monkeypatch):
    ckpt = edited(tiny_run, tmp_path, lambda m: set_ngf(m, 512))
    devices = []
    real_build = checkpoint.build_from_spec

    def recording(spec):
        # Where a new tensor goes: the `with torch.device(...)` in force (torch.get_default_device is torch >= 2.3).
        devices.append((spec["kwargs"].get("ngf"), torch.empty(0).device.type))
        return real_build(spec)

    monkeypatch.setattr(checkpoint, "build_from_spec", recording)
    with pytest.raises(UserError, match="do not fit"):
        load_checkpoint(ckpt)
    # Its weights were never allocated: it was only ever built on the meta device.
    assert devices == [(512, "meta")]
    load_checkpoint(tiny_run)  # an intact checkpoint: checked on meta, then built for real
    assert [device for _, device in devices[1:]] == ["meta", "cpu", "meta", "cpu"]  # gen, disc


def test_unreadable_checkpoint_is_not_called_a_foreign_file(capsys, tiny_run, tmp_path, monkeypatch):
    ckpt = tmp_path / "c.safetensors"
    ckpt.write_bytes((tiny_run / "checkpoints" / "latest.safetensors").read_bytes())
    if os.geteuid() == 0:  # root reads any file whatever its mode: simulate the refusal
        import builtins

        real_open = builtins.open

        def guarded(file, *args, **kwargs):
            if str(file) == str(ckpt):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
    else:
        ckpt.chmod(0)
    code, _, err = run_cli(capsys, "eval", "--checkpoint", ckpt, "--data", tmp_path)
    assert_one_line_error(code, err, "cannot read checkpoint (Permission denied)", ckpt)


def test_eval_on_a_missing_split_names_the_split(capsys, tiny_run, toy_data):
    code, _, err = run_cli(capsys, "eval", "--checkpoint", tiny_run, "--data", toy_data, "--split", "nosuch")
    assert_one_line_error(code, err, "no 'nosuch' split here", "test, train")


def test_classifier_stopped_before_its_first_log_line(capsys, tmp_path):
    from PIL import Image

    for cls, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (40, 40), colour).save(tmp_path / "data" / cls / f"{k}.png")
    code, out, err = run_cli(capsys, "train", "classifier", "--data", tmp_path / "data", "--out", tmp_path / "run",
                             "--stop-after", "1", "--quiet", "--device", "cpu", "--batch-size", "2",
                             "--set", "nets.pretrained=false", "--load-size", "40", "--crop-size", "32")
    assert code == 0, err
    assert "stopped" in out and not (tmp_path / "run" / "log.jsonl").exists()


def relabelled(asset, kind, tmp_path):
    """A shipped checkpoint whose metadata says it is a `kind` checkpoint."""
    with safe_open(str(asset), framework="pt") as f:
        meta = dict(f.metadata())
    meta["kind"] = kind
    out = tmp_path / f"{kind}_in_name_only.safetensors"
    save_file(load_file(str(asset)), str(out), metadata=meta)
    return out


def test_a_kind_whose_networks_are_another_models_is_one_line_in_every_command(capsys, tmp_path, toy_data):
    from mosaicgan.infer.remove.restorer import shipped_restorer_path
    from mosaicgan.infer.upscale.upscaler import shipped_upscaler_path

    photo = os.path.join(FIXTURES, "cat.jpg")
    fake_restorer = relabelled(shipped_upscaler_path(), "restorer", tmp_path)
    fake_srgan = relabelled(shipped_restorer_path(), "srgan", tmp_path)
    fake_pix2pix = relabelled(shipped_restorer_path(), "pix2pix", tmp_path)
    cases = [(["remove", photo, "--checkpoint", fake_restorer, "--out", tmp_path / "o"], fake_restorer, "'restorer'"),
             (["upscale", photo, "--checkpoint", fake_srgan, "--out", tmp_path / "o"], fake_srgan, "an upscaler"),
             (["eval", "--checkpoint", fake_srgan, "--data", tmp_path], fake_srgan, "an upscaler"),
             (["translate", photo, "--checkpoint", fake_pix2pix, "--out", tmp_path / "o"], fake_pix2pix, "a generator"),
             (["eval", "--checkpoint", fake_pix2pix, "--data", toy_data], fake_pix2pix, "a generator"),
             (["export", fake_restorer, "--out", tmp_path / "x.onnx"], fake_restorer, "'restorer'")]
    for argv, ckpt, needs in cases:
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, ckpt.name, "but its networks are not a", needs, "it holds:")
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.onnx").exists()
