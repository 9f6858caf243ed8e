"""`mosaicgan remove` on videos: timing, frame count, audio, rotation kept; the mosaic is
restored in every frame, following a moving one; the still restoration flickers less than
frame-by-frame restoration; bad input gives one line and writes nothing."""

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli
from mosaicgan.infer.add.core import MosaicOptions
from mosaicgan.infer.add.video_stage import mosaic_frame
from mosaicgan.infer.remove.restorer import load_restorer
from mosaicgan.infer.remove.video import RemoveVideoOptions, remove_mosaic_video
from mosaicgan.infer.remove.video_stage import restore_stage, to_tensor
from mosaicgan.infer.video.pipeline import VideoResult
from mosaicgan.infer.video.steady import TrackingOptions
from mosaicgan.localize.mosaics.finder import find_mosaics
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, boxes_to_mask
from mosaicgan.ops.mosaic import pixelate
from test_video_add import LEFT, RIGHT, bad_files, changed, mask_folder
from video_clips import make_clip, read_audio, read_frames


def mosaicked(tmp_path: Path, name: str, *, boxes, block: int = 8, anchored: bool = False, **clip_args):
    """A clip, and the same clip with a mosaic over boxes[i] (x0, y0, x1, y1) in frame i (as
    a censor tool would leave it: H.264, CRF 18), its audio copied. anchored: the block grid
    starts at the box's corner (moves with the box, as tools that pixelate a crop do), not
    at the frame's."""
    clip = make_clip(tmp_path / f"{name}_clean.mp4", **clip_args)
    frames, times, _ = read_frames(clip.path)
    path = tmp_path / f"{name}.mp4"
    with av.open(str(clip.path)) as src, av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        v.options = {"crf": "18", "preset": "ultrafast"}
        audio = [out.add_stream_from_template(s) for s in src.streams.audio]
        for i, (frame, t) in enumerate(zip(frames, times, strict=True)):
            x0, y0, x1, y1 = boxes[min(i, len(boxes) - 1)]
            mask = boxes_to_mask([Box(x0, y0, x1, y1)], height=frame.shape[0], width=frame.shape[1])[0]
            if anchored:
                x = torch.from_numpy(frame.copy()).permute(2, 0, 1).float() / 127.5 - 1
                x = pixelate(x, mask, block=block, offset=(y0 % block, x0 % block))
                frame = ((x + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
            else:
                frame = mosaic_frame(frame.copy(), mask, options=MosaicOptions(block=block))
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts, vf.time_base = round(t * 1000), Fraction(1, 1000)
            for p in v.encode(vf):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        if audio:
            for p in src.demux(src.streams.audio[0]):
                if p.dts is not None:
                    p.stream = audio[0]
                    out.mux(p)
    return clip, path


def inside_error(frames, reference, box):
    x0, y0, x1, y1 = box
    return float(np.mean([np.abs(a[y0:y1, x0:x1].astype(float) - b[y0:y1, x0:x1]).mean()
                          for a, b in zip(frames, reference, strict=True)]))


def flicker(frames, box):
    x0, y0, x1, y1 = box
    crops = np.stack([f[y0:y1, x0:x1].astype(float) for f in frames])
    return float(np.abs(np.diff(crops, axis=0)).mean())


def test_found_mosaic_is_restored_with_timing_audio_and_provenance_kept(capsys, tmp_path):
    box = (24, 16, 88, 80)
    clean, path = mosaicked(tmp_path, "still", boxes=[box], width=144, height=112, frames=20, photo_size=96,
                            static=True, shapes=2, noise=1.0)
    out = tmp_path / "out" / "restored.mp4"
    code, stdout, err = run_cli(capsys, "remove", path, "--out", out, "--quiet")
    assert code == 0, err
    assert "20 frames, 20 restored" in stdout and "synthesized" in stdout
    frames_in, times_in, _ = read_frames(path)
    frames_out, times_out, facts = read_frames(out)
    frames_clean, _, _ = read_frames(clean.path)
    assert len(frames_out) == 20 and np.allclose(times_out, times_in, atol=1e-3)
    assert facts["rate"] == 25
    # Restored: closer to the hidden original than the mosaic is, in the region...
    restored, mosaic = inside_error(frames_out, frames_clean, box), inside_error(frames_in, frames_clean, box)
    assert restored < mosaic - 1.5, (restored, mosaic)
    # ... and elsewhere the input, to the codec's noise (both are H.264 encodes of it).
    x0, y0, x1, y1 = box
    for a, b in zip(frames_in, frames_out, strict=True):
        diff = np.abs(a.astype(int) - b)
        diff[max(0, y0 - 8):y1 + 8, max(0, x0 - 8):x1 + 8] = 0
        assert diff.mean() < 2.0 and np.percentile(diff, 99) < 16
    assert read_audio(out)[1] == read_audio(path)[1]  # stream-copied
    record = json.loads(facts["metadata"]["mosaicgan"])
    assert record["synthesized"] is True and record["operation"] == "remove mosaic"
    assert "synthesized, not recovered" in facts["metadata"]["comment"]
    assert "Regions of this video were restored" in facts["metadata"]["comment"]
    assert "this image" not in facts["metadata"]["comment"] + facts["metadata"]["mosaicgan"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["restored.mp4"]
    code, stdout, _ = run_cli(capsys, "info", out, path)  # the restored file says so; its input does not
    assert code == 1 and "restored by mosaicgan" in stdout and "synthesized, not recovered" in stdout
    assert "Regions of this video were restored" in stdout and "this image" not in stdout
    assert f"{path}: no mosaicgan provenance" in stdout


@pytest.mark.parametrize("anchored", [False, True])
def test_a_moving_mosaic_is_followed_and_restored_in_every_frame(tmp_path, anchored):
    boxes = [(8 + 3 * i, 12 + i, 72 + 3 * i, 76 + i) for i in range(24)]
    clean, path = mosaicked(tmp_path, "moving", boxes=boxes, width=176, height=112, frames=24, photo_size=96,
                            motion=0, static=True, shapes=0, audio=False, anchored=anchored)
    out = tmp_path / "restored.mp4"
    result = remove_mosaic_video(path, out, restorer=load_restorer())
    assert result.frames == 24 and result.frames_with_region == 24
    frames_in, _, _ = read_frames(path)
    frames_out, _, _ = read_frames(out)
    frames_clean, _, _ = read_frames(clean.path)
    errors = []
    for i, (a, b, c) in enumerate(zip(frames_in, frames_out, frames_clean, strict=True)):
        x0, y0, x1, y1 = boxes[i]
        core = (slice(y0 + 8, y1 - 8), slice(x0 + 8, x1 - 8))
        changed = np.abs(a[core].astype(int) - b[core]).mean()
        assert changed > 2, (i, changed)  # the mosaic there was restored, not left
        errors.append((np.abs(b[core].astype(int) - c[core]).mean(), np.abs(a[core].astype(int) - c[core]).mean()))
    restored, mosaic = np.mean(errors, axis=0)
    # Where the mosaic covered, closer to the original than the mosaic (over the clip: where
    # the box crosses the smooth background, there is little to restore).
    assert restored < mosaic - 1.0, (restored, mosaic)


def run_stage(frames, *, steady: bool, mask=None):
    result = VideoResult()
    stage = restore_stage(restorer=load_restorer(),
                          options=RemoveVideoOptions(tracking=TrackingOptions(window=2, steady=steady)), mask=mask,
                          path=Path("clip.mp4"), result=result)
    out = []
    stage(((i, i, f) for i, f in enumerate(frames)), lambda pts, frame, changed: out.append((frame, changed)))
    return [f for f, _ in out], [c for _, c in out]


@pytest.mark.parametrize("with_mask", [False, True])
def test_still_restoration_flickers_less_than_frame_by_frame(tmp_path, with_mask):
    box = (16, 16, 80, 80)
    clean, path = mosaicked(tmp_path, "still", boxes=[box], width=128, height=96, frames=16, photo_size=80,
                            static=True, shapes=0, noise=3.0, audio=False)
    frames, _, _ = read_frames(path)
    frames_clean, _, _ = read_frames(clean.path)
    mask = boxes_to_mask([Box(*box)], height=96, width=128)[0] if with_mask else None
    steady, changed = run_stage(frames, steady=True, mask=mask)
    single, _ = run_stage(frames, steady=False, mask=mask)
    assert all(changed) and len(steady) == len(frames)
    figures = {"steady": flicker(steady, box), "frame by frame": flicker(single, box), "input": flicker(frames, box)}
    assert figures["steady"] < 0.75 * figures["frame by frame"], figures
    # Held, not worse: as close to the original as restoring every frame afresh.
    assert inside_error(steady, frames_clean, box) < inside_error(single, frames_clean, box) + 0.5
    if not with_mask:
        return  # (the detector's outline may take in flat photo next to the mosaic)
    # Outside the restored region the frames are the input's, bit for bit.
    for a, b in zip(frames, steady, strict=True):
        diff = np.abs(a.astype(int) - b)
        diff[8:88, 8:88] = 0
        assert diff.max() == 0


def test_mask_and_rotation(capsys, tmp_path):
    box = (8, 16, 56, 64)  # x0, y0, x1, y1 as displayed (64 wide, 96 tall)
    clean = make_clip(tmp_path / "phone.mp4", width=96, height=64, frames=12, rotation=90, photo_size=64,
                      static=True, shapes=0)
    mos = tmp_path / "phone_mosaic.mp4"
    code, _, err = run_cli(capsys, "add", clean.path, "--out", mos, "--box", "8,16,48,48", "--block", "8", "--quiet")
    assert code == 0, err
    mask_file = tmp_path / "mask.png"
    m = np.zeros((96, 64), np.uint8)
    m[16:64, 8:56] = 255
    Image.fromarray(m).save(mask_file)
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "remove", mos, "--out", out, "--mask", mask_file, "--quiet")
    assert code == 0, err
    frames_in, _, _ = read_frames(mos)
    frames_out, _, facts = read_frames(out / "phone_mosaic.mp4")
    assert facts["rotation"] == 90 and frames_out[0].shape == (96, 64, 3) and len(frames_out) == 12
    frames_clean, _, _ = read_frames(clean.path)
    assert inside_error(frames_out, frames_clean, box) < inside_error(frames_in, frames_clean, box)


def test_known_grid_finds_the_mosaic_and_a_wrong_one_does_not():
    photo = Path(__file__).parent / "fixtures" / "grace_hopper.jpg"
    frame = np.asarray(Image.open(photo).convert("RGB").resize((128, 96), Image.BILINEAR))
    mask = boxes_to_mask([Box(24, 16, 88, 72)], height=96, width=128)[0]
    x = to_tensor(mosaic_frame(frame.copy(), mask, options=MosaicOptions(block=8)))
    _, searched = find_mosaics(x)
    _, known = find_mosaics(x, grids=[Grid(8, 8, 0, 0)])
    _, wrong = find_mosaics(x, grids=[Grid(11, 11, 3, 5)])
    assert len(searched) == len(known) == 1 and torch.equal(searched[0].mask, known[0].mask)
    assert wrong == []


def test_bad_videos_and_masks_give_one_line_and_write_nothing(capsys, tmp_path):
    for path, fragment in bad_files(tmp_path).items():
        out = tmp_path / f"out_{path.stem}"
        code, _, err = run_cli(capsys, "remove", path, "--out", out, "--quiet")
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("mosaicgan: error: "), (path, err)
        assert path.name in lines[0] and fragment in lines[0], lines[0]
        assert not out.exists() or not list(out.iterdir()), path
    clip = make_clip(tmp_path / "plain.mp4", width=64, height=48, frames=6, photo=None)
    small = tmp_path / "small.png"
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(small)
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(empty)
    for mask, fragment in ((small, "mask is 10x10 but the video (plain.mp4) is 64x48"), (empty, "covers nothing")):
        out = tmp_path / "out_mask"
        code, _, err = run_cli(capsys, "remove", clip.path, "--out", out, "--mask", mask, "--quiet")
        assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err
        assert not out.exists() or not list(out.iterdir())
    # No mosaic in the video: nothing written, said so, exit status 3.
    out = tmp_path / "out_none"
    code, _, err = run_cli(capsys, "remove", clip.path, "--out", out, "--quiet")
    assert code == 3 and "no mosaic found in 1 video, not written: plain.mp4" in err, err
    assert not out.exists() or not list(out.iterdir())


def test_start_duration_grid_and_resume(capsys, tmp_path, monkeypatch):
    import mosaicgan.infer.video.resume as video_resume

    box = (16, 16, 80, 80)
    clean, path = mosaicked(tmp_path, "part", boxes=[box], width=128, height=96, frames=30, photo_size=80,
                            static=True, shapes=0)
    mask = tmp_path / "mask.png"
    m = np.zeros((96, 128), np.uint8)
    m[16:80, 16:80] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "part.mkv"
    code, _, err = run_cli(capsys, "remove", path, "--out", out, "--mask", mask, "--grid", "8", "--start", "0.4",
                           "--duration", "0.4", "--quiet")
    assert code == 0, err
    frames, times, _ = read_frames(out)
    assert len(frames) == 10 and abs(times[0]) < 1e-3  # 0.4 s at 25 fps, starting at 0
    tags = {k.lower(): v for k, v in read_frames(out)[2]["metadata"].items()}  # Matroska: upper-cased
    assert json.loads(tags["mosaicgan"])["video"]["grid"] == {"block_h": 8, "block_w": 8, "offset_y": 0, "offset_x": 0}
    code, stdout, _ = run_cli(capsys, "info", out)
    assert code == 0 and "synthesized, not recovered" in stdout
    monkeypatch.setattr(video_resume, "SEGMENT_FRAMES", 12)
    whole = tmp_path / "resumed.mp4"
    code, _, err = run_cli(capsys, "remove", path, "--out", whole, "--mask", mask, "--resume", "--quiet")
    assert code == 0, err
    frames, times_out, _ = read_frames(whole)
    _, times_in, _ = read_frames(path)
    assert len(frames) == 30 and np.allclose(times_out, times_in, atol=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no work folder left
    frames_clean, _, _ = read_frames(clean.path)
    frames_in, _, _ = read_frames(path)
    assert inside_error(frames, frames_clean, box) < inside_error(frames_in, frames_clean, box)


def test_a_folder_of_masks_restores_each_video_where_its_own_says(capsys, tmp_path):
    masks = mask_folder(tmp_path / "masks", {"a.png": LEFT, "b_mask.png": RIGHT})  # NAME.png and NAME_mask.png
    censored = tmp_path / "censored"
    for name in ("a.mp4", "b.mkv"):
        clip = make_clip(tmp_path / name, frames=6, static=True, shapes=0, audio=False)
        code, _, err = run_cli(capsys, "add", clip.path, "--mask", masks, "--block", "8", "--out", censored, "--quiet")
        assert code == 0, err
    a, b = censored / "a.mp4", censored / "b.mkv"
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "remove", a, b, "--mask", masks, "--out", out, "--quiet")
    assert code == 0 and "6 frames, 6 restored" in stdout, err
    for path, inside, outside in ((a, LEFT, RIGHT), (b, RIGHT, LEFT)):
        clean, _, _ = read_frames(tmp_path / path.name)
        before, _, _ = read_frames(path)
        after, _, _ = read_frames(out / path.name)
        # Restored where its own mask says (closer to the clean clip than the mosaic was), and
        # the other mask's region only re-encoded.
        assert inside_error(after, clean, inside) < inside_error(before, clean, inside) - 0.5
        assert max(changed(x, y, outside) for x, y in zip(before, after, strict=True)) < 2.5
    # A video without its mask in the folder: one line naming it, nothing written (not even a.mp4).
    partial = mask_folder(tmp_path / "partial", {"a_mask.png": LEFT})
    out = tmp_path / "out_partial"
    code, _, err = run_cli(capsys, "remove", a, b, "--mask", partial, "--out", out, "--quiet")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "no mask for b.mkv" in lines[0], err
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.parametrize("steady", [True, False])
def test_a_restored_face_prints_the_warning_once_per_video(capsys, tmp_path, steady):
    # The restorer's guess over a mosaicked face photo still looks like a face to the detector.
    clip = make_clip(tmp_path / "face.mp4", width=160, height=120, frames=12, photo_size=80, static=True, shapes=0)
    censored = tmp_path / "censored.mp4"
    code, _, err = run_cli(capsys, "add", clip.path, "--faces", "--out", censored, "--quiet")
    assert code == 0, err
    flags = [] if steady else ["--no-steady"]
    code, stdout, err = run_cli(capsys, "remove", censored, "--out", tmp_path / "out", "--quiet", *flags)
    assert code == 0 and "12 restored" in stdout, err
    assert err.count("It is not the person's face") == 1
    assert "censored.mp4: warning: a restored region looks like a face" in err
    # A restored region without a face (a gradient, the mosaic given by a mask): no warning.
    plain = make_clip(tmp_path / "plain.mp4", width=160, height=120, frames=12, photo=None, static=True, shapes=0)
    boxed = tmp_path / "boxed.mp4"
    code, _, err = run_cli(capsys, "add", plain.path, "--box", "40,30,120,90", "--block", "8", "--out", boxed,
                           "--quiet")
    assert code == 0, err
    mask = mask_folder(tmp_path / "masks", {"boxed.png": (40, 30, 120, 90)}, size=(160, 120))
    code, stdout, err = run_cli(capsys, "remove", boxed, "--mask", mask, "--out", tmp_path / "out_plain", "--quiet",
                                *flags)
    assert code == 0 and "12 restored" in stdout, err
    assert "face" not in err


def test_faces_are_looked_for_in_the_first_restored_frame_then_one_in_n(monkeypatch):
    from mosaicgan.infer.remove import faces_seen as restored_faces

    calls = []
    answers = iter([False, False, True])
    monkeypatch.setattr(restored_faces, "shows_a_face", lambda frame, boxes: calls.append(list(boxes)) or next(answers))
    watch = restored_faces.FaceWatch(every=4)
    frame = torch.zeros(3, 8, 8)
    for k in range(20):
        watch.look(frame, iter([(0, 0, k + 1, k + 1)]))
    # Frames 0, 4 and 8 are checked; the face seen in frame 8 ends the search.
    assert watch.found and calls == [[(0, 0, 1, 1)], [(0, 0, 5, 5)], [(0, 0, 9, 9)]]
