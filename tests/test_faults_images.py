"""Images no command may mishandle: high bit depth, float, and images too large to decode."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mosaicgan.data.images import MAX_PIXELS, probe_image, read_image
from mosaicgan.errors import UserError
from test_cli import assert_one_line_error, run_cli


def gradient16(h=48, w=64):
    """A 16-bit grey gradient over the full range (its top byte is what 8 bits should show)."""
    return (np.linspace(0, 65535, h * w).reshape(h, w)).astype(np.uint16)


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    a = gradient16()
    Image.fromarray(a).save(tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").mode == "I;16"
    got = np.asarray(read_image(tmp_path / "g.png", mode="L")).astype(int)
    assert np.abs(got - a / 257.0).max() <= 0.5 + 1e-9
    rgb = np.asarray(read_image(tmp_path / "g.png", mode="RGB")).astype(int)
    assert (rgb[..., 0] == got).all() and (rgb == 255).mean() < 0.01


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_float_tiff_in_0_1_or_0_255_is_read(tmp_path, scale):
    a = gradient16() / 65535.0
    Image.fromarray((a * scale).astype(np.float32)).save(tmp_path / "f.tif")
    got = np.asarray(read_image(tmp_path / "f.tif", mode="L")).astype(float)
    assert np.abs(got - a * 255).max() <= 0.51


def test_32bit_int_image_by_its_range(tmp_path):
    a = gradient16().astype(np.int32)
    Image.fromarray(a).save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    assert np.abs(np.asarray(read_image(tmp_path / "i.tif", mode="L")) - a / 257.0).max() <= 0.5 + 1e-9
    Image.fromarray(a * 4).save(tmp_path / "wide.tif")
    with pytest.raises(UserError, match="wide.tif: 32-bit integer image with values 0..262140"):
        read_image(tmp_path / "wide.tif")


@pytest.mark.parametrize("values", [np.float32(-1), np.float32(1000), np.float32("nan")])
def test_float_image_out_of_range_is_refused(tmp_path, values):
    a = np.zeros((8, 8), np.float32)
    a[3, 3] = values
    Image.fromarray(a).save(tmp_path / "f.tif")
    with pytest.raises(UserError, match="f.tif: float image"):
        read_image(tmp_path / "f.tif")


def test_add_on_16bit_png_keeps_pixels_outside_the_box(capsys, tmp_path):
    a = gradient16()
    Image.fromarray(a).save(tmp_path / "g.png")
    code, _, err = run_cli(capsys, "add", tmp_path / "g.png", "--box", "8,8,24,24", "--out", tmp_path / "out",
                           "--quiet")
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "out" / "g.png")).astype(int)
    outside = np.ones(a.shape, bool)
    outside[8:32, 8:32] = False  # --box X,Y,W,H
    assert np.abs(out - np.rint(a / 257.0))[outside].max() == 0
    assert not np.array_equal(out[8:32, 8:32], np.rint(a / 257.0)[8:32, 8:32])  # the box was mosaicked


def huge_png(path, width=30000, height=30000):
    """A PNG whose header says width x height; the data is a stub, so only a header check passes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_huge_image_is_one_line_in_every_command(capsys, tmp_path, tiny_run):
    assert 30000 * 30000 > MAX_PIXELS
    folder = tmp_path / "in"
    folder.mkdir()
    big = huge_png(folder / "big.png")
    with pytest.raises(UserError, match=r"image too large \(30000 x 30000; limit 89.5 megapixels\)"):
        probe_image(big)
    data = tmp_path / "data"
    for sub in ("A", "B"):  # a paired training set with the huge image in it
        (data / "train" / sub).mkdir(parents=True)
        huge_png(data / "train" / sub / "big.png")
    for argv in (["add", big, "--box", "1,1,5,5", "--out", tmp_path / "o1", "--quiet"],
                 ["translate", big, "--checkpoint", tiny_run, "--out", tmp_path / "o2", "--quiet"],
                 ["make-pairs", "--images", folder, "--out", tmp_path / "o3", "--quiet"],
                 ["train", "pix2pix", "--data", data, "--out", tmp_path / "o4", "--quiet"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, "big.png", "image too large (30000 x 30000")
        assert not any((tmp_path / f"o{k}").exists() for k in range(1, 5))
