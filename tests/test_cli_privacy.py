"""The privacy commands through the CLI: keygen, add --lock-to / --report / --keep / --also,
info, remove --unlock; one-line errors."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES, run_cli

pytest.importorskip("cryptography", reason="the privacy extra (cryptography) is not installed")


def test_the_keyed_round_trip_of_the_readme(capsys, tmp_path):
    """The three lines of the README's command table, as written there."""
    (tmp_path / "photos").mkdir()
    Image.open(FIXTURES / "face.jpg").save(tmp_path / "photos" / "group.png")
    code, out, err = run_cli(capsys, "keygen", "--out", tmp_path / "keys")
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "keys" / "mosaicgan.key").stat().st_mode) == 0o600
    key = out.split("key SHA256:")[1].split()[0]
    code, out, err = run_cli(capsys, "add", tmp_path / "photos", "--faces", "--lock-to",
                             tmp_path / "keys" / "mosaicgan.pub", "--out", tmp_path / "public", "--quiet")
    assert code == 0, err
    assert f"to key SHA256:{key}, inside each file" in out
    code, out, err = run_cli(capsys, "info", tmp_path / "public" / "group.png")
    assert code == 0 and "locked: the original pixels" in out and f"SHA256:{key}" in out
    code, out, err = run_cli(capsys, "remove", tmp_path / "public", "--unlock", tmp_path / "keys" / "mosaicgan.key",
                             "--out", tmp_path / "restored", "--quiet")
    assert code == 0, err
    assert "original pixels restored with a key, not synthesized" in out
    original = np.asarray(Image.open(tmp_path / "photos" / "group.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "restored" / "group.png")), original)
    code, out, _ = run_cli(capsys, "info", tmp_path / "restored" / "group.png")
    assert code == 0 and "original pixels restored with a key" in out and "synthesized" in out


def test_keygen_refuses_to_overwrite_a_key(capsys, tmp_path):
    assert run_cli(capsys, "keygen", "--out", tmp_path)[0] == 0
    before = (tmp_path / "mosaicgan.key").read_bytes()
    code, _, err = run_cli(capsys, "keygen", "--out", tmp_path)
    assert code == 2 and "never overwritten" in err and err.count("\n") == 1
    assert (tmp_path / "mosaicgan.key").read_bytes() == before


def test_unlock_refusals_are_one_line_and_write_nothing(capsys, tmp_path):
    for name in ("a", "b"):
        run_cli(capsys, "keygen", "--out", tmp_path / "keys", "--name", name)
    (tmp_path / "in").mkdir()
    Image.open(FIXTURES / "cat.jpg").save(tmp_path / "in" / "cat.png")
    code, _, err = run_cli(capsys, "add", tmp_path / "in", "--box", "10,10,40,40", "--lock-to",
                           tmp_path / "keys" / "a.pub", "--out", tmp_path / "locked", "--quiet")
    assert code == 0, err
    for key, why in (("b.key", "locked to another key"), ("a.pub", "public key cannot unlock")):
        code, out, err = run_cli(capsys, "remove", tmp_path / "locked", "--unlock", tmp_path / "keys" / key,
                                 "--out", tmp_path / "u", "--quiet")
        assert code == 2 and why in err and err.count("\n") == 1, err
        assert not (tmp_path / "u").exists()
    code, _, err = run_cli(capsys, "add", tmp_path / "in", "--box", "10,10,40,40", "--lock-to",
                           tmp_path / "keys" / "a.key", "--out", tmp_path / "x", "--quiet")
    assert code == 2 and "this is a private key" in err and not (tmp_path / "x").exists()


def test_add_flags_for_keep_also_report_and_styles(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    Image.open(FIXTURES / "cat.jpg").convert("RGB").save(tmp_path / "in" / "cat.png")
    code, out, err = run_cli(capsys, "add", tmp_path / "in", "--box", "10,10,60,60", "--keep", "10,10,20,20",
                             "--also", "100,10,30,30@0-0", "--style", "noise", "--report", tmp_path / "r.json",
                             "--out", tmp_path / "out", "--quiet")
    assert code == 0, err and "wrote the report" in out
    report = json.loads((tmp_path / "r.json").read_text())
    item = report["items"][0]
    assert [r["kind"] for r in item["regions"]] == ["box", "also"] and item["keep"] == [[10, 10, 30, 30]]
    original = np.asarray(Image.open(tmp_path / "in" / "cat.png"))
    out_img = np.asarray(Image.open(tmp_path / "out" / "cat.png"))
    assert np.array_equal(out_img[10:30, 10:30], original[10:30, 10:30])
    assert not np.array_equal(out_img[10:40, 100:130], original[10:40, 100:130])
    code, _, err = run_cli(capsys, "add", tmp_path / "in", "--box", "1,1,5,5", "--also", "1,1,5,5@9-3",
                           "--out", tmp_path / "o2")
    assert code == 2 and "before it starts" in err
    code, _, err = run_cli(capsys, "add", tmp_path / "in", "--box", "1,1,5,5", "--keep-track", "2", "--out",
                           tmp_path / "o3")
    assert code == 2 and "--keep-track goes with --faces" in err


def test_missing_cryptography_names_the_extra(capsys, tmp_path, monkeypatch):
    import sys

    run_cli(capsys, "keygen", "--out", tmp_path / "keys")
    monkeypatch.setitem(sys.modules, "cryptography", None)
    (tmp_path / "in").mkdir()
    Image.new("RGB", (32, 32)).save(tmp_path / "in" / "a.png")
    code, _, err = run_cli(capsys, "add", tmp_path / "in", "--box", "1,1,5,5", "--lock-to",
                           tmp_path / "keys" / "mosaicgan.pub", "--out", tmp_path / "o")
    assert code == 2 and "pip install 'mosaicgan[privacy]'" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
