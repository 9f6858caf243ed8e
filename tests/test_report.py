"""The detection report: written by add and remove, valid against the packaged JSON Schema, with
faces' scores, landmarks and areas, kept and added areas; the contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan import jobs
from mosaicgan.errors import UserError
from mosaicgan.infer.add.chosen import Also
from mosaicgan.infer.report.record import load_schema

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (the dev extra) checks reports")


def validate(report: dict) -> None:
    jsonschema.validate(report, load_schema(), format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    Image.open(FIXTURES / "face.jpg").save(folder / "group.png")
    Image.new("RGB", (64, 48), (120, 160, 200)).save(folder / "sky.png")
    return folder


def test_add_report_of_faces_validates_and_says_what_was_found(tmp_path, photos):
    report_path = tmp_path / "r" / "report.json"
    region = jobs.RegionRequest(kind="faces", keep=((0, 100, 60, 200),), also=(Also((10, 10, 40, 60), 0, 0),))
    result = jobs.add([photos], out=tmp_path / "out",
                      options=jobs.AddOptions(region=region, device="cpu", report=report_path))
    report = json.loads(report_path.read_text())
    validate(report)
    assert report["format"] == "mosaicgan-report" and report["version"] == 1 and report["command"] == "add"
    assert report["models"]["face_detector"]["file"] == "centerface.safetensors"
    assert report["options"]["region"]["kind"] == "faces" and report["lock"] is None
    by_name = {Path(item["input"]).name: item for item in report["items"]}
    group, sky = by_name["group.png"], by_name["sky.png"]
    assert sky["status"] == "written" and [r["kind"] for r in sky["regions"]] == ["also"]
    assert sky["regions"][0]["frames"] == [0, 0] and sky["regions"][0]["box"] == [10, 10, 50, 48]
    faces = [r for r in group["regions"] if r["kind"] == "face"]
    assert len(faces) >= 3 and all(len(f["landmarks"]) == 5 and 0 < f["score"] <= 1 for f in faces)
    assert [f["applied"] for f in faces].count(False) == 1  # the face inside the kept area
    assert [r["kind"] for r in group["regions"]].count("also") == 1
    assert group["keep"] == [[0, 100, 60, 300]] and group["width"] == 512 and group["height"] == 355
    assert 0 < group["mask_area"] < 512 * 355
    assert report["summary"] == {"inputs": 2, "written": 2, "faces": len(faces),
                                 "regions": len(faces) - 1 + 2}
    assert result.items[0].written


def test_nothing_found_is_reported(tmp_path, photos):
    jobs.add([photos / "sky.png"], out=tmp_path / "out",
             options=jobs.AddOptions(region=jobs.RegionRequest(kind="faces"), device="cpu", report=tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    validate(report)
    assert report["items"][0]["status"] == "nothing_found" and report["items"][0]["regions"] == []
    assert report["items"][0]["outputs"] == [] and report["summary"]["written"] == 0


def test_remove_report_validates(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    img = np.asarray(Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB")).copy()
    img[64:160, 80:176] = img[64:160, 80:176].reshape(12, 8, 12, 8, 3).mean(axis=(1, 3), keepdims=True).astype(
        np.uint8).repeat(8, 1).repeat(8, 3).reshape(96, 96, 3)
    Image.fromarray(img).save(src / "m.png")
    jobs.remove([src / "m.png"], out=tmp_path / "out",
                options=jobs.RemoveOptions(device="cpu", report=tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    validate(report)
    item = report["items"][0]
    assert report["command"] == "remove" and item["status"] == "written"
    assert item["regions"] and all(r["kind"] == "mosaic" and r["applied"] for r in item["regions"])


def test_lock_and_unlock_reports_validate(tmp_path, photos):
    pytest.importorskip("cryptography")
    from mosaicgan.infer.lock.options import LockOptions, UnlockOptions
    from mosaicgan.lock.keys import generate_key_pair, show_fingerprint

    pair = generate_key_pair(tmp_path / "keys")
    region = jobs.RegionRequest(kind="boxes", boxes=((10, 10, 50, 40),))
    jobs.add([photos / "sky.png"], out=tmp_path / "locked",
             options=jobs.AddOptions(region=region, lock=LockOptions(pair.public), report=tmp_path / "a.json"))
    report = json.loads((tmp_path / "a.json").read_text())
    validate(report)
    assert report["lock"] == {"key": show_fingerprint(pair.fingerprint), "operation": "lock", "sidecar": False}
    assert report["items"][0]["sealed_bytes"] > 0 and report["items"][0]["sidecar"] is None
    jobs.remove([tmp_path / "locked" / "sky.png"], out=tmp_path / "unlocked",
                options=jobs.RemoveOptions(unlock=UnlockOptions(pair.private), report=tmp_path / "u.json"))
    report = json.loads((tmp_path / "u.json").read_text())
    validate(report)
    assert report["lock"]["operation"] == "unlock"
    assert report["items"][0]["regions"] == [{"kind": "locked", "box": [10, 10, 60, 48], "applied": True}]


def test_report_path_is_checked_before_anything_is_written(tmp_path, photos):
    region = jobs.RegionRequest(kind="boxes", boxes=((1, 1, 5, 5),))
    with pytest.raises(UserError, match="ending in .json"):
        jobs.add([photos], out=tmp_path / "out", options=jobs.AddOptions(region=region, report=tmp_path / "r.txt"))
    assert not (tmp_path / "out").exists()


def test_the_schema_refuses_what_it_does_not_describe(tmp_path, photos):
    region = jobs.RegionRequest(kind="boxes", boxes=((1, 1, 5, 5),))
    jobs.add([photos / "sky.png"], out=tmp_path / "out",
             options=jobs.AddOptions(region=region, report=tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    validate(report)
    for broken in ({**report, "version": 2}, {**report, "extra": 1},
                   {**report, "items": [{**report["items"][0], "regions": [{"kind": "face"}]}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_contact_sheet(tmp_path, photos, suffix):
    sheet = tmp_path / f"sheet{suffix}"
    jobs.add([photos / "group.png"], out=tmp_path / "out",
             options=jobs.AddOptions(region=jobs.RegionRequest(kind="faces"), device="cpu", report_sheet=sheet))
    if suffix == ".png":
        with Image.open(sheet) as img:
            assert img.width >= 4 * 96 and img.height > 96
    else:
        text = sheet.read_text()
        assert "SENSITIVE" in text and text.count("data:image/png;base64") >= 3


def test_contact_sheet_is_refused_beside_a_lock_unless_asked(tmp_path, photos):
    pytest.importorskip("cryptography")
    from mosaicgan.infer.lock.options import LockOptions
    from mosaicgan.lock.keys import generate_key_pair

    pair = generate_key_pair(tmp_path / "keys")
    options = jobs.AddOptions(region=jobs.RegionRequest(kind="faces"), device="cpu", lock=LockOptions(pair.public),
                              report_sheet=tmp_path / "sheet.png")
    with pytest.raises(UserError, match="--sheet-with-lock"):
        jobs.add([photos / "group.png"], out=tmp_path / "out", options=options)
    assert not (tmp_path / "out").exists() and not (tmp_path / "sheet.png").exists()
