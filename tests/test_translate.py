import json

import numpy as np
import pytest
import torch
from PIL import Image

from mosaicgan.cli import main
from mosaicgan.infer.translate.translator import Translator, pad_to_multiple


@pytest.mark.parametrize("h, w, multiple", [(32, 32, 32), (33, 50, 32), (5, 7, 16), (100, 64, 4)])
def test_pad_to_multiple_and_back(h, w, multiple):
    x = torch.randn(2, 3, h, w)
    padded, (top, left, hh, ww) = pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert torch.equal(padded[..., top : top + hh, left : left + ww], x)


def make_inputs(folder):
    folder.mkdir()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (37, 53, 3), dtype=np.uint8), "RGB")
    rgb.save(folder / "rgb.jpg")
    rgb.convert("L").save(folder / "grey.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.fromarray(rng.integers(0, 255, (37, 53), dtype=np.uint8)))
    rgba.save(folder / "alpha.png")
    rgb.convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    Image.new("RGB", (64, 32), "red").save(folder / "big.png")
    Image.new("RGB", (64, 32), "blue").save(folder / "big2.bmp")
    return {"rgb.jpg": ((53, 37), "RGB"), "grey.png": ((53, 37), "RGB"), "alpha.png": ((53, 37), "RGBA"),
            "palette.png": ((53, 37), "RGB"), "big.png": ((64, 32), "RGB"), "big2.bmp": ((64, 32), "RGB")}


def test_translate_any_size_and_mode(capsys, tiny_run, tmp_path):
    expected = make_inputs(tmp_path / "in")
    before = {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()}
    code = main(["translate", str(tmp_path / "in"), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "out"),
                 "--batch-size", "2", "--quiet"])
    assert code == 0
    for name, (size, mode) in expected.items():
        out = Image.open(tmp_path / "out" / (name.rsplit(".", 1)[0] + ".png"))
        assert out.size == size and out.mode == mode
    alpha_in = np.asarray(Image.open(tmp_path / "in" / "alpha.png").getchannel("A"))
    alpha_out = np.asarray(Image.open(tmp_path / "out" / "alpha.png").getchannel("A"))
    assert np.array_equal(alpha_in, alpha_out)
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before  # inputs untouched


def test_batched_equals_one_by_one(tiny_run):
    translator = Translator.from_checkpoint(tiny_run)
    x = torch.rand(3, 3, 40, 24) * 2 - 1
    batched = translator(x)
    single = torch.cat([translator(x[i : i + 1]) for i in range(3)])
    assert batched.shape == x.shape
    assert torch.allclose(batched, single, atol=1e-5)


def test_glob_input_and_refusing_to_overwrite_inputs(capsys, tiny_run, tmp_path):
    make_inputs(tmp_path / "in")
    code = main(["translate", str(tmp_path / "in" / "*.png"), "--checkpoint", str(tiny_run),
                 "--out", str(tmp_path / "g"), "--quiet"])
    assert code == 0 and len(list((tmp_path / "g").iterdir())) == 4
    code = main(["translate", str(tmp_path / "in" / "big.png"), "--checkpoint", str(tiny_run),
                 "--out", str(tmp_path / "in"), "--quiet"])
    assert code == 2 and "overwrite an input" in capsys.readouterr().err


def test_eval_writes_json_with_baseline(capsys, tiny_run, toy_data, tmp_path):
    out = tmp_path / "e.json"
    code = main(["eval", "--checkpoint", str(tiny_run), "--data", str(toy_data), "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["images"] == 4
    for name in ("model", "identity"):
        assert 0 < result[name]["psnr"] < 100 and -1 <= result[name]["ssim"] <= 1
    printed = capsys.readouterr().out
    assert "identity" in printed and f"{result['model']['psnr']:.2f}" in printed


def test_exif_rotated_photo_is_read_upright(capsys, tiny_run, tmp_path):
    from mosaicgan.data.images import probe_image, read_image

    stored = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": displayed 20 wide, 40 high
    folder = tmp_path / "in"
    folder.mkdir()
    stored.save(folder / "phone.jpg", exif=exif)
    Image.new("RGB", (20, 40), "blue").save(folder / "plain.png")  # same displayed size: one batch
    assert probe_image(folder / "phone.jpg") == (20, 40)
    assert read_image(folder / "phone.jpg").size == (20, 40)
    code = main(["translate", str(folder), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0
    assert Image.open(tmp_path / "out" / "phone.png").size == (20, 40)
