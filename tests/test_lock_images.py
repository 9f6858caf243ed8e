"""Locked images end to end through the Python API: add with a key, remove --unlock, and every
way an unlock must refuse (wrong key, another file's payload, truncated, altered, not locked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cryptography", reason="the privacy extra (cryptography) is not installed")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mosaicgan import jobs  # noqa: E402
from mosaicgan.errors import UserError  # noqa: E402
from mosaicgan.infer.lock.options import LockOptions, UnlockOptions, sidecar_path  # noqa: E402
from mosaicgan.infer.lock.still import lock_status  # noqa: E402
from mosaicgan.infer.provenance import format_record, read_provenance  # noqa: E402
from mosaicgan.lock import containers  # noqa: E402
from mosaicgan.lock.keys import generate_key_pair, show_fingerprint  # noqa: E402

BOX = (6, 5, 24, 18)  # x, y, w, h


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return generate_key_pair(folder), generate_key_pair(folder, name="other")


def photo(path: Path, mode: str = "RGB", size=(48, 36), seed=0, **save) -> np.ndarray:
    """A textured image (noise, so that a mosaic surely changes it); returns its decoded pixels."""
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode).save(path, **save)
    with Image.open(path) as img:
        return np.array(img).reshape(size[1], size[0], -1)


def decoded(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        arr = np.array(img)
    return arr.reshape(arr.shape[0], arr.shape[1], -1)


def lock(inputs, out, pair, *, boxes=(BOX,), style="average", sidecar=False):
    options = jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=tuple(boxes)),
                              mosaic=jobs.MosaicOptions(style=style, block=4),
                              lock=LockOptions(pair.public, sidecar=sidecar), device="cpu")
    return jobs.add(inputs, out=out, options=options)


def unlock(inputs, out, pair, key=None):
    return jobs.remove(inputs, out=out, options=jobs.RemoveOptions(unlock=UnlockOptions(key or pair.private),
                                                                   device="cpu"))


def inside(arr: np.ndarray, box=BOX) -> np.ndarray:
    x, y, w, h = box
    return arr[y:y + h, x:x + w]


CASES = [("a.png", "RGB", {}), ("g.png", "L", {}), ("t.png", "RGBA", {}), ("a.webp", "RGB", {"lossless": True}),
         ("t.webp", "RGBA", {"lossless": True}), ("a.tif", "RGB", {}), ("g.tif", "L", {}), ("a.bmp", "RGB", {})]


@pytest.mark.parametrize("name,mode,save", CASES)
def test_lossless_round_trip_gives_the_original_bit_for_bit(tmp_path, keys, name, mode, save):
    pair, _ = keys
    src = tmp_path / "in" / name
    src.parent.mkdir()
    original = photo(src, mode, **save)
    result = lock([src], tmp_path / "locked", pair)
    locked = tmp_path / "locked" / name
    assert [p.resolve() for p in result.written] == [locked.resolve()]
    anonymized = decoded(locked)
    assert not np.array_equal(inside(anonymized), inside(original))  # covered
    assert lock_status(locked)["fingerprint"] == show_fingerprint(pair.fingerprint)
    assert lock_status(locked)["where"] == ("sidecar" if name.endswith(".bmp") else "inside")
    done = unlock([locked], tmp_path / "unlocked", pair)
    back = decoded(tmp_path / "unlocked" / name)
    assert np.array_equal(back, original)
    assert [r["kind"] for r in done.items[0].regions] == ["locked"]
    if not name.endswith(".bmp"):  # BMP carries no metadata
        record = read_provenance(tmp_path / "unlocked" / name)
        assert record["operation"] == "unlock" and record["synthesized"] is False
        assert "original pixels restored with a key" in format_record(record, Path(name))


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_jpeg_round_trip_restores_the_regions_exactly_as_png(tmp_path, keys, mode):
    pair, _ = keys
    src = tmp_path / "in" / "p.jpg"
    src.parent.mkdir()
    original = photo(src, mode, quality=90)
    lock([src], tmp_path / "locked", pair)
    locked = tmp_path / "locked" / "p.jpg"
    assert containers.sniff(locked.read_bytes()) == "JPEG"
    unlock([locked], tmp_path / "unlocked", pair)
    back = decoded(tmp_path / "unlocked" / "p.png")  # lossless, so the originals stay exact
    assert np.array_equal(inside(back), inside(original))
    outside = np.ones(back.shape[:2], bool)
    x, y, w, h = BOX
    outside[y:y + h, x:x + w] = False
    assert np.array_equal(back[outside], decoded(locked)[outside])  # the rest is the anonymized JPEG's


def test_sidecar_option_and_its_plan(tmp_path, keys):
    pair, _ = keys
    src = tmp_path / "in" / "s.png"
    src.parent.mkdir()
    original = photo(src)
    lock([src], tmp_path / "locked", pair, sidecar=True)
    locked = tmp_path / "locked" / "s.png"
    assert containers.extract(locked.read_bytes()) is None and sidecar_path(locked).is_file()
    unlock([locked], tmp_path / "unlocked", pair)
    assert np.array_equal(decoded(tmp_path / "unlocked" / "s.png"), original)
    # The sidecar is an output like the image: an existing one is not replaced unasked.
    (tmp_path / "again").mkdir()
    sidecar_path(tmp_path / "again" / "s.png").write_bytes(b"old")
    with pytest.raises(UserError, match="already exists"):
        lock([src], tmp_path / "again", pair, sidecar=True)
    assert not (tmp_path / "again" / "s.png").exists()


def test_locked_pixels_are_the_unlocked_run_s_and_hold_nothing_of_the_region(tmp_path, keys):
    """With a cover that reads nothing (solid), two photos that differ only inside the region lock
    to the same pixels: only the sealed payload differs, and it is encrypted."""
    pair, _ = keys
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = photo(tmp_path / "a" / "x.png", seed=1)
    b = a.copy()
    inside(b)[...] = np.random.default_rng(9).integers(0, 256, inside(b).shape, dtype=np.uint8)
    Image.fromarray(b).save(tmp_path / "b" / "x.png")
    lock([tmp_path / "a" / "x.png"], tmp_path / "la", pair, style="solid")
    lock([tmp_path / "b" / "x.png"], tmp_path / "lb", pair, style="solid")
    plain = jobs.add([tmp_path / "a" / "x.png"], out=tmp_path / "plain",
                     options=jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=(BOX,)),
                                             mosaic=jobs.MosaicOptions(style="solid", block=4), device="cpu"))
    assert plain.written
    la, lb = decoded(tmp_path / "la" / "x.png"), decoded(tmp_path / "lb" / "x.png")
    assert np.array_equal(la, lb) and np.array_equal(la, decoded(tmp_path / "plain" / "x.png"))
    for name in ("la", "lb"):
        data = (tmp_path / name / "x.png").read_bytes()
        assert inside(a).tobytes() not in data and inside(b).tobytes() not in data


@pytest.fixture
def locked_pair(tmp_path, keys):
    pair, _ = keys
    (tmp_path / "in").mkdir()
    photo(tmp_path / "in" / "one.png", seed=1)
    photo(tmp_path / "in" / "two.png", seed=2)
    lock([tmp_path / "in" / "one.png", tmp_path / "in" / "two.png"], tmp_path / "locked", pair, sidecar=True)
    return tmp_path / "locked" / "one.png", tmp_path / "locked" / "two.png"


def refuses(tmp_path, pair, path, match):
    out = tmp_path / "unlocked"
    with pytest.raises(UserError, match=match) as err:
        unlock([path], out, pair)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_wrong_key_is_refused(tmp_path, keys, locked_pair):
    _, other = keys
    refuses(tmp_path, other, locked_pair[0], "locked to another key")


def test_a_public_key_cannot_unlock(tmp_path, keys, locked_pair):
    pair, _ = keys
    with pytest.raises(UserError, match="public key cannot unlock"):
        unlock([locked_pair[0]], tmp_path / "u", pair, key=pair.public)
    assert not (tmp_path / "u").exists()


def test_another_file_s_payload_is_refused(tmp_path, keys, locked_pair):
    pair, _ = keys
    one, two = locked_pair
    sidecar_path(one).write_bytes(sidecar_path(two).read_bytes())
    refuses(tmp_path, pair, one, "belongs to another file")


def test_truncated_and_altered_payloads_are_refused(tmp_path, keys, locked_pair):
    pair, _ = keys
    one, _ = locked_pair
    blob = sidecar_path(one).read_bytes()
    sidecar_path(one).write_bytes(blob[:-100])
    refuses(tmp_path, pair, one, "truncated")
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x40
    sidecar_path(one).write_bytes(bytes(bad))
    refuses(tmp_path, pair, one, "altered or is damaged")


def test_changed_pixels_and_files_that_are_not_locked_are_refused(tmp_path, keys, locked_pair):
    pair, _ = keys
    one, _ = locked_pair
    arr = decoded(one)
    arr[0, 0, 0] ^= 1
    Image.fromarray(arr).save(one)
    refuses(tmp_path, pair, one, "belongs to another file")
    sidecar_path(one).unlink()
    refuses(tmp_path, pair, one, "not locked")


def test_one_bad_file_stops_the_run_before_any_write(tmp_path, keys, locked_pair):
    pair, other = keys
    one, two = locked_pair
    sidecar_path(two).write_bytes(sidecar_path(two).read_bytes()[:200])
    with pytest.raises(UserError, match="two.png"):
        unlock([one, two], tmp_path / "unlocked", pair)
    assert not (tmp_path / "unlocked").exists()


def test_an_embedded_payload_cut_short_in_a_jpeg_is_truncated(tmp_path, keys):
    pair, _ = keys
    (tmp_path / "in").mkdir()
    photo(tmp_path / "in" / "big.jpg", size=(600, 400), seed=3)
    lock([tmp_path / "in" / "big.jpg"], tmp_path / "locked", pair, boxes=((0, 0, 600, 400),))
    path = tmp_path / "locked" / "big.jpg"
    data = path.read_bytes()
    segments = [s for s in containers._jpeg_segments(data) if s[1] == containers.JPEG_MARKER]
    assert len(segments) >= 3
    pos, _, _, end = segments[1]
    path.write_bytes(data[:pos] + data[end:])  # one 64 KiB segment dropped
    refuses(tmp_path, pair, path, "truncated")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_regions_round_trip(tmp_path_factory, keys, data):
    pair, _ = keys
    width, height = data.draw(st.integers(8, 64)), data.draw(st.integers(8, 64))
    mode = data.draw(st.sampled_from(["L", "RGB", "RGBA"]))
    ext = data.draw(st.sampled_from([".png", ".tif", ".webp"]))
    boxes = data.draw(st.lists(st.tuples(st.integers(-10, width - 1), st.integers(-10, height - 1),
                                         st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=4))
    boxes = [b for b in boxes if b[0] + b[2] > 0 and b[1] + b[3] > 0] or [(0, 0, 1, 1)]
    style = data.draw(st.sampled_from(["average", "median", "noise", "solid", "blur"]))
    root = tmp_path_factory.mktemp("prop")
    (root / "in").mkdir()
    src = root / "in" / f"x{ext}"
    save = {"lossless": True} if ext == ".webp" else {}
    original = photo(src, mode, size=(width, height), seed=data.draw(st.integers(0, 1000)), **save)
    lock([src], root / "locked", pair, boxes=boxes, style=style)
    unlock([root / "locked" / src.name], root / "unlocked", pair)
    assert np.array_equal(decoded(root / "unlocked" / src.name), original)


def test_encode_matches_what_write_image_writes(tmp_path):
    """The lock encodes in memory what `write_image` would write: the same bytes."""
    import torch

    from mosaicgan.data.images import tensor_to_pil
    from mosaicgan.infer.image_io import write_image
    from mosaicgan.infer.lock.still import encode

    img = torch.rand(3, 20, 30) * 2 - 1
    for name in ("a.png", "a.jpg", "a.webp", "a.tif"):
        write_image(img, tmp_path / name)
        assert encode(tensor_to_pil(img), tmp_path / name) == (tmp_path / name).read_bytes()


def test_a_folder_with_sidecars_unlocks_as_a_folder(tmp_path, keys):
    """BMP has no place for the payload: its sidecar sits in the folder and is read, not listed."""
    from mosaicgan.data.images import LOCK_SIDECAR
    from mosaicgan.infer.lock.options import SIDECAR_SUFFIX

    assert LOCK_SIDECAR == SIDECAR_SUFFIX
    pair, _ = keys
    (tmp_path / "in").mkdir()
    original = photo(tmp_path / "in" / "a.bmp")
    photo(tmp_path / "in" / "b.png", seed=5)
    lock([tmp_path / "in"], tmp_path / "locked", pair)
    assert sidecar_path(tmp_path / "locked" / "a.bmp").is_file()
    result = unlock([tmp_path / "locked"], tmp_path / "unlocked", pair)
    assert len(result.items) == 2 and all(item.written for item in result.items)
    assert np.array_equal(decoded(tmp_path / "unlocked" / "a.bmp"), original)
