"""--keep, --also (and their parsing) on images: chosen areas never covered, missed ones added."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan import jobs
from mosaicgan.errors import UserError
from mosaicgan.infer.add.chosen import Also, inside_share, parse_also, parse_track, parse_xywh
from mosaicgan.infer.add.core import MosaicOptions
from mosaicgan.infer.add.files import check_inputs
from mosaicgan.infer.add.regions import RegionFinder, RegionRequest


def test_parse_also_and_track():
    assert parse_also("1,2,3,4") == Also((1, 2, 3, 4), 0, None)
    assert parse_also("1,2,3,4@10-20") == Also((1, 2, 3, 4), 10, 20)
    assert parse_also("1,2,3,4@7-") == Also((1, 2, 3, 4), 7, None)
    for bad, why in (("1,2,3", "x,y,w,h"), ("1,2,3,0", "positive"), ("1,2,3,4@x", "START-END"),
                     ("1,2,3,4@9-3", "before it starts")):
        with pytest.raises(UserError, match=why):
            parse_also(bad)
    with pytest.raises(UserError, match="--keep"):
        parse_xywh("a,b", flag="--keep")
    assert parse_track("3") == 3
    with pytest.raises(UserError, match="start at 1"):
        parse_track("0")
    assert Also((0, 0, 1, 1), 5, 9).covers(5) and Also((0, 0, 1, 1), 5, 9).covers(9)
    assert not Also((0, 0, 1, 1), 5, 9).covers(10) and not Also((0, 0, 1, 1), 5, 9).covers(4)


def test_inside_share():
    assert inside_share((0, 0, 10, 10), ((0, 0, 5, 10),)) == pytest.approx(0.5)
    assert inside_share((0, 0, 10, 10), ((20, 20, 5, 5),)) == 0


def _textured(path: Path, size=(64, 48)) -> np.ndarray:
    arr = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def _run(tmp_path, request, **options):
    tmp_path.mkdir(exist_ok=True)
    src = tmp_path / "in.png"
    original = _textured(src)
    out = tmp_path / "out"
    result = jobs.add([src], out=out, options=jobs.AddOptions(region=request, mosaic=MosaicOptions(block=4, **options),
                                                              device="cpu"))
    written = np.asarray(Image.open(out / "in.png")) if result.written else None
    return original, written, result


def test_keep_wins_over_boxes_grow_and_feather(tmp_path):
    request = RegionRequest(kind="boxes", boxes=((10, 10, 30, 20),), keep=((30, 5, 20, 30),))
    original, out, result = _run(tmp_path, request, grow=4, feather=3)
    assert np.array_equal(out[5:35, 30:50], original[5:35, 30:50])
    assert not np.array_equal(out[10:30, 10:30], original[10:30, 10:30])
    assert result.items[0].regions[0]["keep"] == [[30, 5, 50, 35]]


def test_also_adds_a_box_to_an_image_and_its_range_counts_it_as_frame_0(tmp_path):
    request = RegionRequest(kind="boxes", boxes=((0, 0, 8, 8),), also=(Also((40, 20, 10, 10)),))
    original, out, _ = _run(tmp_path, request)
    assert not np.array_equal(out[20:30, 40:50], original[20:30, 40:50])
    later = RegionRequest(kind="boxes", boxes=((0, 0, 8, 8),), also=(Also((40, 20, 10, 10), 5, None),))
    original, out, _ = _run(tmp_path / "later", later)
    assert np.array_equal(out[20:30, 40:50], original[20:30, 40:50])


def test_an_also_box_off_the_image_is_an_error_a_keep_area_is_not(tmp_path):
    src = tmp_path / "in.png"
    _textured(src)
    request = RegionRequest(kind="boxes", boxes=((0, 0, 5, 5),), also=(Also((0, 90, 5, 5)),))
    with pytest.raises(UserError, match="--also 0,90,5,5 lies outside"):
        check_inputs([src], finder=RegionFinder(request), out_dir=tmp_path / "o", options=MosaicOptions())
    request = RegionRequest(kind="boxes", boxes=((0, 0, 5, 5),), keep=((100, 0, 5, 5),))
    check_inputs([src], finder=RegionFinder(request), out_dir=tmp_path / "o", options=MosaicOptions())


def test_keep_track_goes_with_detected_regions():
    with pytest.raises(UserError, match="--keep-track"):
        RegionFinder(RegionRequest(kind="boxes", boxes=((0, 0, 5, 5),), keep_tracks=(1,)))


@pytest.fixture(scope="module")
def faces_found():
    finder = RegionFinder(RegionRequest(kind="faces"))
    from mosaicgan.infer.image_io import load_image

    region = finder.find(load_image(FIXTURES / "face.jpg").image)
    return region.info["faces"]


def test_faces_carry_score_landmarks_area(faces_found):
    assert len(faces_found) >= 3
    for face in faces_found:
        x0, y0, x1, y1 = face["box"]
        assert 0 < face["score"] <= 1 and len(face["landmarks"]) == 5 and face["applied"]
        assert face["area"] > (x1 - x0) * (y1 - y0)  # the grown head, not the detector box


def test_a_kept_face_is_left_whole_and_a_missed_one_added(tmp_path, faces_found):
    """Keep the first face by its box: it is not mosaicked at all (no rim), the others are."""
    chosen = faces_found[0]
    x0, y0, x1, y1 = chosen["box"]
    src = tmp_path / "in" / "face.jpg"
    src.parent.mkdir()
    Image.open(FIXTURES / "face.jpg").save(src.with_suffix(".png"))
    src = src.with_suffix(".png")
    original = np.asarray(Image.open(src))
    request = RegionRequest(kind="faces", keep=((x0, y0, x1 - x0, y1 - y0),), also=(Also((0, 0, 30, 30)),))
    result = jobs.add([src], out=tmp_path / "out", options=jobs.AddOptions(region=request, device="cpu"))
    out = np.asarray(Image.open(tmp_path / "out" / "face.png"))
    info = result.items[0].regions[0]
    assert [f["applied"] for f in info["faces"]].count(False) == 1
    assert len(info["boxes"]) == len(faces_found) - 1
    # Nothing of the kept face's grown region (its rim of hair beyond the box) is changed, except
    # where another face's own region reaches into it.
    from mosaicgan.localize.faces.detect import detect_faces, face_extent, face_mask

    faces = detect_faces(Image.open(src).convert("RGB"))
    kept = max(faces, key=lambda f: inside_share((f.x0, f.y0, f.x1, f.y1), ((x0, y0, x1 - x0, y1 - y0),)))
    h, w = original.shape[:2]
    rim = face_mask([kept], height=h, width=w).numpy()
    others_mask = face_mask([f for f in faces if f is not kept], height=h, width=w).numpy()
    free = rim & ~others_mask
    assert free.sum() > 0.5 * rim.sum() and face_extent(kept)[0] < x0
    assert np.array_equal(out[free], original[free])
    others = [f["box"] for f in info["faces"] if f["applied"]]
    for b in others:
        assert not np.array_equal(out[b[1]:b[3], b[0]:b[2]], original[b[1]:b[3], b[0]:b[2]])
    assert not np.array_equal(out[:30, :30], original[:30, :30])
