"""Locked videos: a 3 s clip with audio through add --lock-to and remove --unlock (the decoded
input frames come back inside every region, bit for bit), a sidecar for containers without a
place for it, refusals; the report's tracks and --keep-track on a moving face."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the privacy extra (cryptography) is not installed")
from mosaicgan import jobs  # noqa: E402
from mosaicgan.errors import UserError  # noqa: E402
from mosaicgan.infer.lock.options import LockOptions, UnlockOptions, sidecar_path  # noqa: E402
from mosaicgan.infer.lock.video import find_video_payload, video_lock_status  # noqa: E402
from mosaicgan.infer.provenance import read_video_provenance  # noqa: E402
from mosaicgan.lock.keys import generate_key_pair, show_fingerprint  # noqa: E402
from video_clips import make_clip, read_audio, read_frames  # noqa: E402

BOX = (20, 10, 48, 40)  # x, y, w, h


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    return generate_key_pair(folder), generate_key_pair(folder, name="other")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    return make_clip(folder / "talk.mp4", width=128, height=96, frames=75, fps=25, photo_size=48, motion=1.0)


def lock(inputs, out, pair, *, sidecar=False, **more):
    options = jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=(BOX,)),
                              mosaic=jobs.MosaicOptions(block=8), lock=LockOptions(pair.public, sidecar=sidecar),
                              encode=jobs.EncodeOptions(preset="ultrafast"), device="cpu", **more)
    return jobs.add(inputs, out=out, options=options)


def unlock(inputs, out, key):
    return jobs.remove(inputs, out=out, options=jobs.RemoveOptions(unlock=UnlockOptions(key), device="cpu"))


def inside(frame, box=BOX):
    x, y, w, h = box
    return frame[y:y + h, x:x + w]


def test_three_second_clip_with_audio_round_trip(tmp_path, keys, clip):
    pair, _ = keys
    result = lock([clip.path], tmp_path / "locked", pair)
    locked = tmp_path / "locked" / "talk.mp4"
    assert result.items[0].frames == 75 and result.items[0].locked["sidecar"] is None
    status = video_lock_status(locked)
    assert status["where"] == "inside" and status["fingerprint"] == show_fingerprint(pair.fingerprint)
    original, times_in, _ = read_frames(clip.path)
    anonymized, times_locked, facts = read_frames(locked)
    assert len(anonymized) == 75 and np.allclose(times_locked, times_in, atol=1e-3)
    assert facts["audio"] == ["aac"]
    assert all(np.abs(inside(a).astype(int) - inside(o)).mean() > 3 for a, o in zip(anonymized, original, strict=True))
    done = unlock([locked], tmp_path / "unlocked", pair.private)
    out = tmp_path / "unlocked" / "talk.mp4"
    assert done.items[0].frames_with_region == 75
    back, times_out, facts_out = read_frames(out)
    assert len(back) == 75 and np.allclose(times_out, times_in, atol=1e-3)
    for b, o, a in zip(back, original, anonymized, strict=True):
        assert np.array_equal(inside(b), inside(o))  # the decoded input frames, bit for bit
        outside = np.ones(b.shape[:2], bool)
        outside[BOX[1]:BOX[1] + BOX[3], BOX[0]:BOX[0] + BOX[2]] = False
        assert np.array_equal(b[outside], a[outside])  # elsewhere the locked file's frames
    samples_in, _ = read_audio(clip.path)
    samples_out, _ = read_audio(out)
    assert len(samples_out) >= len(samples_in) - 2048 and facts_out["audio"] == ["aac"]
    record = read_video_provenance(out)
    assert record["operation"] == "unlock" and record["synthesized"] is False


def test_a_container_without_a_place_gets_a_sidecar(tmp_path, keys):
    pair, _ = keys
    clip = make_clip(tmp_path / "c.mkv", width=96, height=64, frames=12, photo_size=32)
    lock([clip.path], tmp_path / "locked", pair)
    locked = tmp_path / "locked" / "c.mkv"
    assert sidecar_path(locked).is_file() and find_video_payload(locked).where == "sidecar"
    unlock([locked], tmp_path / "unlocked", pair.private)
    original, _, _ = read_frames(clip.path)
    back, _, _ = read_frames(tmp_path / "unlocked" / "c.mkv")
    assert all(np.array_equal(inside(b), inside(o)) for b, o in zip(back, original, strict=True))


def test_lock_sidecar_option_on_mp4(tmp_path, keys, clip):
    pair, _ = keys
    lock([clip.path], tmp_path / "locked", pair, sidecar=True)
    locked = tmp_path / "locked" / "talk.mp4"
    assert find_video_payload(locked).where == "sidecar"


@pytest.fixture(scope="module")
def locked_clip(tmp_path_factory, keys, clip):
    pair, _ = keys
    folder = tmp_path_factory.mktemp("locked")
    lock([clip.path], folder, pair)
    return folder / "talk.mp4"


def refused(tmp_path, path, key, match):
    out = tmp_path / "unlocked"
    with pytest.raises(UserError, match=match) as err:
        unlock([path], out, key)
    assert "\n" not in str(err.value)
    assert not out.exists() or not list(out.iterdir())


def test_wrong_key_and_public_key_are_refused(tmp_path, keys, locked_clip):
    pair, other = keys
    refused(tmp_path, locked_clip, other.private, "locked to another key")
    refused(tmp_path, locked_clip, pair.public, "public key cannot unlock")


def test_tampered_and_truncated_payloads_are_refused(tmp_path, keys, locked_clip):
    pair, _ = keys
    data = bytearray(locked_clip.read_bytes())
    payload = find_video_payload(locked_clip)
    bad = tmp_path / "bad.mp4"
    data[payload.offset + payload.length // 2] ^= 0x10
    bad.write_bytes(bytes(data))
    refused(tmp_path, bad, pair.private, "altered or is damaged")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(locked_clip.read_bytes()[:-50])
    refused(tmp_path, cut, pair.private, "truncated")


def test_another_video_s_payload_is_refused(tmp_path, keys, clip):
    pair, _ = keys
    other = make_clip(tmp_path / "o.mkv", width=128, height=96, frames=12, photo_size=32, seed=3)
    lock([other.path], tmp_path / "lo", pair)
    first = make_clip(tmp_path / "f.mkv", width=128, height=96, frames=12, photo_size=32, seed=4)
    lock([first.path], tmp_path / "lf", pair)
    sidecar_path(tmp_path / "lf" / "f.mkv").write_bytes(sidecar_path(tmp_path / "lo" / "o.mkv").read_bytes())
    refused(tmp_path, tmp_path / "lf" / "f.mkv", pair.private, "belongs to another file")


def test_resume_and_ten_bit_are_refused_before_writing(tmp_path, keys, clip):
    pair, _ = keys
    with pytest.raises(UserError, match="--resume"):
        lock([clip.path], tmp_path / "o", pair, resume=True)
    assert not (tmp_path / "o" / "talk.mp4").exists()


def faces_run(tmp_path, clip_path, name, **more):
    options = jobs.AddOptions(region=jobs.RegionRequest(kind="faces", **more.pop("region", {})),
                              encode=jobs.EncodeOptions(preset="ultrafast"), device="cpu",
                              report=tmp_path / f"{name}.json", **more)
    jobs.add([clip_path], out=tmp_path / name, options=options)
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_video_report_tracks_are_stable_and_keep_track_keeps_the_face(tmp_path):
    import jsonschema

    from mosaicgan.infer.report.record import load_schema

    clip = make_clip(tmp_path / "walk.mkv", width=160, height=128, frames=20, photo_size=96, motion=3.0)
    first = faces_run(tmp_path, clip.path, "a")
    again = faces_run(tmp_path, clip.path, "b")
    jsonschema.validate(first, load_schema())
    video = first["items"][0]
    assert video["kind"] == "video" and video["frames"] == 20
    tracks = video["tracks"]
    assert tracks and tracks == again["items"][0]["tracks"]  # a rerun gives the same ids
    main = max(tracks, key=lambda t: t["frames"])
    # Searched whole at frames 0 and 16 (--detect-every 16; the camera does not move), followed between.
    assert main["first_frame"] == 0 and main["last_frame"] == 19 and main["detected"] >= 2
    assert main["detected"] + main["followed"] + main["bridged"] == main["frames"]
    sources = {b["source"] for f in video["frame_boxes"] for b in f["boxes"]}
    assert "detected" in sources and sources <= {"detected", "followed", "bridged"}
    kept = faces_run(tmp_path, clip.path, "k", region={"keep_tracks": (main["id"],)})
    kept_video = kept["items"][0]
    assert [t["applied"] for t in kept_video["tracks"] if t["id"] == main["id"]] == [False]
    original, _, _ = read_frames(clip.path)
    if kept_video["status"] == "written":  # other tracks (if any) were covered
        out, _, _ = read_frames(tmp_path / "k" / "walk.mkv")
        x0, y0, x1, y1 = clip.boxes[10]
        assert np.abs(out[10][y0:y1, x0:x1].astype(int) - original[10][y0:y1, x0:x1]).mean() < 3
    else:
        assert kept_video["status"] == "nothing_found"
