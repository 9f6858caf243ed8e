"""`mosaicgan remove` and `mosaicgan info` as a user runs them."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import main
from mosaicgan.infer.encoding import estimate_jpeg_quality
from mosaicgan.infer.provenance import read_provenance
from mosaicgan.localize.cam.classifier import shipped_classifier_path


def pixels(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img).astype(np.int16)


def mosaicked(tmp_path, *, name="photo.png", mode="RGB", boxes=("61,37,131,117",), block=9, source="grace_hopper.jpg"):
    """A photo saved as `name` in `mode`, mosaicked by `add` (one --box and --block per region,
    applied one after the other); returns (mosaic file, mask of all regions (H, W) bool, original)."""
    original = tmp_path / "original" / name
    original.parent.mkdir()
    Image.open(FIXTURES / source).convert(mode).save(original, **({"quality": 90} if name.endswith(".jpg") else {}))
    current, regions = original, []
    for k, box in enumerate(boxes):
        out = tmp_path / f"step{k}"
        assert main(["add", str(current), "--box", box, "--block", str(block + 4 * k), "--out", str(out),
                     "--save-mask", "--quiet"]) == 0
        current = out / name
        regions.append(pixels(out / f"{Path(name).stem}_mask.png") > 127)
    return current, np.any(regions, axis=0), original


def test_remove_with_a_mask_changes_only_the_region(tmp_path, capsys):
    src, region, _ = mosaicked(tmp_path)
    mask = tmp_path / "step0" / "photo_mask.png"
    out = tmp_path / "out"
    assert main(["remove", str(src), "--mask", str(mask), "--out", str(out), "--quiet"]) == 0
    result = out / "photo.png"
    with Image.open(result) as img, Image.open(src) as before:
        assert (img.size, img.mode, img.format) == (before.size, before.mode, before.format)
    a, b = pixels(src), pixels(result)
    assert np.array_equal(a[~region], b[~region])  # bit for bit outside
    assert np.abs(a[region] - b[region]).mean() > 1.0  # and restored inside
    record = read_provenance(result)
    assert record["synthesized"] is True and record["regions"][0]["found_by"] == "mask"
    assert record["regions"][0]["grid"] == "9x9 offset 0,0"
    capsys.readouterr()
    assert main(["info", str(result)]) == 0
    said = capsys.readouterr().out
    assert "Regions of this image were restored" in said and "synthesized, not recovered" in said


@pytest.mark.parametrize("detector", ["net", "grid"])
def test_remove_finds_several_mosaics_itself(tmp_path, detector):
    src, region, _ = mosaicked(tmp_path, boxes=("20,20,90,80", "150,180,90,100"))
    out = tmp_path / "out"
    assert main(["remove", str(src), "--out", str(out), "--save-mask", "--detector", detector, "--quiet"]) == 0
    record = read_provenance(out / "photo.png")
    assert sorted(r["grid"] for r in record["regions"]) == ["13x13 offset 0,0", "9x9 offset 0,0"]
    assert all(r["found_by"] == "detector" for r in record["regions"])
    changed = pixels(out / "photo_mask.png") > 0
    assert (changed & region).sum() / (changed | region).sum() > 0.85
    assert np.array_equal(pixels(src)[~changed], pixels(out / "photo.png")[~changed])


def test_jpeg_in_jpeg_out_at_the_input_quality(tmp_path):
    src, _, _ = mosaicked(tmp_path, name="photo.jpg")  # add writes JPEG at quality 95
    out = tmp_path / "out"
    assert main(["remove", str(src), "--out", str(out), "--quiet"]) == 0
    assert estimate_jpeg_quality(out / "photo.jpg") == estimate_jpeg_quality(src) == 95
    assert read_provenance(out / "photo.jpg")["software"].startswith("mosaicgan")
    assert main(["remove", str(src), "--out", str(tmp_path / "q60"), "--quality", "60", "--quiet"]) == 0
    assert estimate_jpeg_quality(tmp_path / "q60" / "photo.jpg") == 60


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grey_stays_grey_and_alpha_is_kept(tmp_path, mode):
    src, region, _ = mosaicked(tmp_path, mode=mode)
    if mode == "RGBA":  # a real alpha channel: a gradient
        img = Image.open(src)
        img.putalpha(Image.linear_gradient("L").resize(img.size))
        img.save(src)
    out = tmp_path / "out"
    assert main(["remove", str(src), "--mask", str(tmp_path / "step0" / "photo_mask.png"), "--out", str(out),
                 "--quiet"]) == 0
    a, b = pixels(src), pixels(out / "photo.png")
    with Image.open(out / "photo.png") as img:
        assert img.mode == mode
    assert np.array_equal(a[~region], b[~region])
    if mode == "RGBA":
        assert np.array_equal(a[..., 3], b[..., 3])


def test_a_clean_photo_is_not_written(tmp_path, capsys):
    clean = tmp_path / "in" / "clean.png"
    clean.parent.mkdir()
    Image.open(FIXTURES / "bird.jpg").save(clean)
    out = tmp_path / "out"
    assert main(["remove", str(clean), "--out", str(out), "--quiet"]) == 3  # nothing to do
    assert not (out / "clean.png").exists()
    assert "no mosaic found in 1 image, not written: clean.png" in capsys.readouterr().err


def test_a_restored_face_prints_the_warning(tmp_path, capsys):
    src, _, _ = mosaicked(tmp_path, boxes=("60,40,140,140",), block=10)
    assert main(["remove", str(src), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("It is not the person's face") == 1


def bad(tmp_path, capsys, argv) -> str:
    out = tmp_path / "never"
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mosaicgan: error:")
    return err


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    src, _, _ = mosaicked(tmp_path)
    small = tmp_path / "small_mask.png"
    Image.new("L", (20, 20), 255).save(small)
    assert "mask is 20x20" in bad(tmp_path, capsys, ["remove", str(src), "--mask", str(small)])
    assert "classifier checkpoint" in bad(tmp_path, capsys, ["remove", str(src), "--checkpoint",
                                                             str(shipped_classifier_path())])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert "broken.png" in bad(tmp_path, capsys, ["remove", str(src), str(broken)])
    err = bad(tmp_path, capsys, ["remove", str(src), "--mask", str(tmp_path / "missing.png")])
    assert "missing.png" in err


def test_out_equal_to_the_input_folder_is_refused(tmp_path, capsys):
    src, _, _ = mosaicked(tmp_path)
    before = sorted(p.name for p in src.parent.iterdir())
    assert main(["remove", str(src), "--out", str(src.parent), "--quiet"]) == 2
    assert "inputs are never overwritten" in capsys.readouterr().err
    assert sorted(p.name for p in src.parent.iterdir()) == before


def test_existing_outputs_are_replaced_only_with_overwrite(tmp_path, capsys):
    src, _, _ = mosaicked(tmp_path)
    out = tmp_path / "out"
    assert main(["remove", str(src), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["remove", str(src), "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["remove", str(src), "--out", str(out), "--quiet", "--overwrite"]) == 0


def test_info_says_when_a_file_has_no_provenance(capsys):
    assert main(["info", str(FIXTURES / "cat.jpg")]) == 1
    assert "no mosaicgan provenance" in capsys.readouterr().out
