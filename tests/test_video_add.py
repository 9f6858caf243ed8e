"""`mosaicgan add` on videos: timing, frame count, audio, rotation and metadata kept; the mosaic
follows a moving face; steadied output flickers less than frame-by-frame output; bad files
give one line and write nothing."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli
from mosaicgan.errors import UserError
from mosaicgan.infer.add.core import MosaicOptions, mosaic_image
from mosaicgan.infer.add.regions import Region, RegionFinder, RegionRequest
from mosaicgan.infer.add.video import AddVideoOptions, add_mosaic_video, mosaic_frame
from mosaicgan.infer.video.steady import TrackingOptions
from mosaicgan.localize.faces.centerface import Face
from mosaicgan.ops.masks import Box, boxes_to_mask
from video_clips import make_clip, read_audio, read_frames, read_subtitles

# Grace Hopper's face in grace_hopper.jpg (256 x 300), x0, y0, x1, y1: the inner part of the
# box the face detector finds there, so it lies inside any mosaic of the face.
FACE_CORE = (85, 62, 181, 158)


def face_core(box, photo_width=96):
    scale = photo_width / 256
    x0, y0 = box[0], box[1]
    return tuple(int(round(v * scale)) + (x0 if k % 2 == 0 else y0) for k, v in enumerate(FACE_CORE))


def no_leftovers(folder: Path, *inputs: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p not in inputs)


def test_box_video_keeps_timing_audio_rotation_and_metadata(capsys, tmp_path):
    clip = make_clip(tmp_path / "in.mp4", width=96, height=64, frames=24, vfr=True, rotation=90, photo_size=64,
                     static=True, metadata={"location": "+48.8584+002.2945/", "title": "holiday"})
    out = tmp_path / "out" / "masked.mp4"
    code, stdout, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "8,8,40,32", "--block", "8",
                                "--crf", "10", "--quiet")
    assert code == 0, err
    frames_in, times_in, facts_in = read_frames(clip.path)
    frames_out, times_out, facts_out = read_frames(out)
    assert len(frames_out) == len(frames_in) == 24
    assert np.allclose(times_out, times_in, atol=1e-3)  # VFR: every frame at its own time
    assert facts_out["rotation"] == 90 and facts_out["size"] == facts_in["size"]
    assert frames_out[0].shape == frames_in[0].shape == (96, 64, 3)  # displayed upright: 64 wide
    assert "mosaicgan" in facts_out["metadata"]["comment"]
    assert facts_in["metadata"]["location"] == "+48.8584+002.2945/"  # a phone's GPS tag ...
    assert "location" not in facts_out["metadata"] and "title" not in facts_out["metadata"]  # ... is not copied
    # The box is in display coordinates: each frame is the image core's mosaic of that box,
    # to codec noise, and far from the unmosaicked frame inside it.
    mask = boxes_to_mask([Box(8, 8, 48, 40)], height=96, width=64)[0]
    for a, b in zip(frames_in, frames_out, strict=True):
        expected = mosaic_frame(a.copy(), mask, options=MosaicOptions(block=8)).astype(int)
        assert np.abs(b - expected).mean() < 2.5
        inside_expected = np.abs(b - expected)[8:40, 8:48].mean()
        assert inside_expected < 0.5 * np.abs(b - a.astype(int))[8:40, 8:48].mean()
    samples_in, packets_in = read_audio(clip.path)
    samples_out, packets_out = read_audio(out)
    assert packets_out == packets_in  # stream-copied, not re-encoded
    assert len(samples_out) == len(samples_in) and np.array_equal(samples_out, samples_in)
    assert no_leftovers(out.parent) == ["masked.mp4"]


def test_mosaic_follows_a_moving_face_in_every_frame(capsys, tmp_path):
    clip = make_clip(tmp_path / "walk.mkv", width=160, height=128, frames=20, photo_size=96, motion=3.0)
    code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / "out", "--faces", "--quiet")
    assert code == 0, err
    frames_in, _, _ = read_frames(clip.path)
    frames_out, _, facts = read_frames(tmp_path / "out" / "walk.mkv")
    assert len(frames_out) == 20 and facts["audio"] == ["pcm_s16le"]
    moved = {b[0] for b in clip.boxes}
    assert len(moved) > 10  # the face really moves
    for a, b, box in zip(frames_in, frames_out, clip.boxes, strict=True):
        x0, y0, x1, y1 = face_core(box)
        inside = np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).mean()
        # Pixelated: blocks flatten the face's detail, so its local contrast drops.
        detail_in = np.abs(np.diff(a[y0:y1, x0:x1].astype(int), axis=1)).mean()
        detail_out = np.abs(np.diff(b[y0:y1, x0:x1].astype(int), axis=1)).mean()
        assert inside > 4 and detail_out < 0.6 * detail_in, (box, inside, detail_in, detail_out)


def pixelated(a, b, box, photo_width):
    x0, y0, x1, y1 = face_core(box, photo_width)
    detail_in = np.abs(np.diff(a[y0:y1, x0:x1].astype(int), axis=1)).mean()
    detail_out = np.abs(np.diff(b[y0:y1, x0:x1].astype(int), axis=1)).mean()
    return np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).mean() > 4 and detail_out < 0.6 * detail_in


def test_followed_faces_stay_covered_through_turns_between_searches(capsys, tmp_path):
    """With one whole-frame search in 8, a face that moves fast and bounces off the frame's
    edges stays covered in every frame, because it is searched for near its last place in the
    frames between; interpolating its box between searches (--no-follow) loses it at the turns."""
    clip = make_clip(tmp_path / "turns.mkv", width=320, height=160, frames=40, photo_size=96, motion=10.0)
    frames_in, _, _ = read_frames(clip.path)
    covered = {}
    for name, extra in (("follow", []), ("interpolate", ["--no-follow"])):
        code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / name, "--faces", "--detect-every", "8",
                               "--quiet", *extra)
        assert code == 0, err
        frames_out, _, _ = read_frames(tmp_path / name / "turns.mkv")
        covered[name] = sum(pixelated(a, b, box, 96)
                            for a, b, box in zip(frames_in, frames_out, clip.boxes, strict=True))
    assert covered["follow"] == 40
    assert covered["interpolate"] <= 35  # the clip is hard enough to need the following


class JitteryFaces(RegionFinder):
    """A face 'detector' that reports the true box shifted by a few random pixels and misses
    it now and then, as real detectors do on a still face."""

    def __init__(self, boxes, *, jitter=4, miss_every=5, seed=0):
        super().__init__(RegionRequest(kind="boxes", boxes=((0, 0, 1, 1),)))
        self.request = RegionRequest(kind="faces", face_grow=0.0)  # the region is the box given
        self.boxes, self.jitter, self.miss_every = boxes, jitter, miss_every
        self.rng = np.random.default_rng(seed)
        self.calls = 0

    def find(self, image, *, path=None, generator=None):
        h, w = image.shape[:2]
        x0, y0, x1, y1 = self.boxes[self.calls]
        self.calls += 1
        if self.calls % self.miss_every == 0:
            return Region(torch.zeros(h, w), {"kind": "faces"})
        d = self.rng.integers(-self.jitter, self.jitter + 1, 4)
        box = Box(max(0, x0 + d[0]), max(0, y0 + d[1]), min(w, x1 + d[2]), min(h, y1 + d[3]))
        return Region(boxes_to_mask([box], height=h, width=w)[0], {"kind": "faces"})

    def find_batch(self, images, *, path=None):  # RegionFinder's batched faces would run the real detector
        return [self.find(image, path=path) for image in images]

    def find_faces(self, frame, *, known=(), tiny="confirm"):  # a video's whole-frame search
        box = self._next(frame)
        return [] if box is None else [self.found_face(Face(*box, score=0.9), height=frame.shape[0],
                                                       width=frame.shape[1])]

    def follow_faces(self, frame, boxes):  # a video's search near known faces
        box = self._next(frame)
        return [None if box is None else self.found_face(Face(*box, score=0.9), height=frame.shape[0],
                                                         width=frame.shape[1])] + [None] * (len(boxes) - 1)

    def _next(self, frame):
        """The true box shifted by jitter (a detector box: face_grow makes the region), or None."""
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = self.boxes[min(self.calls, len(self.boxes) - 1)]
        self.calls += 1
        if self.calls % self.miss_every == 0:
            return None
        d = self.rng.integers(-self.jitter, self.jitter + 1, 4)
        return max(0, x0 + d[0]), max(0, y0 + d[1]), min(w, x1 + d[2]), min(h, y1 + d[3])


def flicker(frames, box):
    x0, y0, x1, y1 = box
    crops = np.stack([f[y0:y1, x0:x1].astype(float) for f in frames])
    return float(np.abs(np.diff(crops, axis=0)).mean())


def test_steadied_faces_flicker_less_than_frame_by_frame(tmp_path):
    clip = make_clip(tmp_path / "still.mp4", width=128, height=96, frames=30, photo_size=48, static=True,
                     shapes=0, audio=False)
    options = MosaicOptions(block=6)
    figures = {}
    for steady in (False, True):
        out = tmp_path / f"steady_{steady}.mp4"
        finder = JitteryFaces([(16, 20, 56, 64)] * 30)
        # Frame by frame: every frame searched; steadied: the defaults (1 frame in 4 searched).
        steady_options = (AddVideoOptions() if steady
                          else AddVideoOptions(tracking=TrackingOptions(steady=False, detect_every=1)))
        add_mosaic_video(clip.path, out, finder=finder, options=options, video=steady_options)
        frames, _, _ = read_frames(out)
        figures[steady] = flicker(frames, (10, 14, 62, 70))
    assert figures[True] < 0.5 * figures[False], figures
    assert figures[False] > 2  # the jitter and misses really show frame by frame


def test_each_frames_tracks_sources_and_scores_reach_the_watch(tmp_path):
    """The report's view of a still face: one track all along, detected in the frames searched
    whole, followed in those followed, bridged in the others, with the detector's score."""
    from mosaicgan.infer.add.video_watch import TrackLog, VideoWatch

    clip = make_clip(tmp_path / "still.mp4", width=128, height=96, frames=20, photo_size=48, static=True,
                     shapes=0, audio=False)
    finder = JitteryFaces([(16, 20, 56, 64)] * 20, jitter=1, miss_every=10**6)
    log = TrackLog()
    add_mosaic_video(clip.path, tmp_path / "out.mp4", finder=finder, options=MosaicOptions(block=6),
                     video=AddVideoOptions(), watch=VideoWatch(log=log))
    report = log.to_dict()
    assert [f["frame"] for f in report["frame_boxes"]] == list(range(20))
    (track,) = report["tracks"]
    assert track["id"] == 1 and track["frames"] == 20 and track["best_score"] == 0.9
    sources = [f["boxes"][0]["source"] for f in report["frame_boxes"]]
    assert sources[0] == "detected" and {"detected", "followed", "bridged"} <= set(sources)
    assert track["detected"] + track["followed"] + track["bridged"] == 20


@pytest.mark.parametrize("style,feather,grow", [("average", 0, 0), ("blur", 3, 2), ("median", 2, -1)])
def test_frame_crop_mosaic_equals_the_image_core(style, feather, grow):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    mask = boxes_to_mask([Box(23, 11, 61, 47)], height=70, width=90)[0]
    options = MosaicOptions(style=style, feather=feather, grow=grow)
    whole = mosaic_image(torch.from_numpy(frame).permute(2, 0, 1).float() / 127.5 - 1, mask, options=options)
    whole = whole.add(1).mul(127.5).round().clamp(0, 255).permute(1, 2, 0).numpy().astype(np.uint8)
    cropped = mosaic_frame(frame.copy(), mask, options=options)
    assert np.abs(cropped.astype(int) - whole).max() <= 1
    assert (cropped != frame).any()


@pytest.mark.parametrize("style,feather,grow", [("average", 0, 0), ("blur", 3, 2), ("median", 2, 4)])
def test_a_crowds_faces_mosaicked_crop_by_crop_equal_one_crop(style, feather, grow):
    """Faces far apart are mosaicked each in its own crop (a crowd's union would be most of the
    frame), overlapping crops merged: the frame comes out the same as from one crop over all."""
    from mosaicgan.infer.add.video_stage import _crops, regions_mask

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)
    boxes = [Box(10, 20, 50, 70), Box(58, 25, 90, 60), Box(200, 100, 260, 170), Box(280, 10, 310, 40)]
    mask = regions_mask(boxes, height=180, width=320, shape="ellipse")
    options = MosaicOptions(style=style, feather=feather, grow=grow, block=8)
    one = mosaic_frame(frame.copy(), mask, options=options)
    parts = mosaic_frame(frame.copy(), mask, options=options, boxes=boxes)
    assert np.array_equal(one, parts)
    crops = _crops(boxes, block=8, margin=max(grow, 0) + feather + (13 if style == "blur" else 0), height=180,
                   width=320)
    assert len(crops) >= 2 and sum((y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in crops) < 0.6 * 180 * 320


@pytest.mark.parametrize("audio", [False, True])
def test_start_duration_with_and_without_audio(capsys, tmp_path, audio):
    clip = make_clip(tmp_path / "in.mp4", width=64, height=64, frames=50, photo=None, audio=audio)
    out = tmp_path / "cut.mp4"
    code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,32,32", "--start", "0.4",
                           "--duration", "1.0", "--quiet")
    assert code == 0, err
    frames, times, facts = read_frames(out)
    assert len(frames) == 25 and facts["audio"] == (["aac"] if audio else [])
    assert times[0] == pytest.approx(0.0, abs=1e-3) and times[-1] == pytest.approx(0.96, abs=1e-3)
    if audio:  # copied packets of about 21 ms: the cut lands within a packet or two
        assert abs(len(read_audio(out)[0]) / 48000 - 1.0) < 0.05


def test_ten_bit_stays_ten_bit(capsys, tmp_path):
    clip = make_clip(tmp_path / "deep.mkv", width=64, height=48, frames=12, photo=None, pix_fmt="yuv420p10le",
                     audio=False)
    out = tmp_path / "out" / "deep.mkv"
    code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,32,24", "--quiet")
    assert code == 0, err
    frames, _, facts = read_frames(out)
    assert facts["pix_fmt"] == "yuv420p10le" and facts["codec"] == "h264" and len(frames) == 12


def test_audio_is_reencoded_where_the_container_cannot_take_a_copy(capsys, tmp_path):
    clip = make_clip(tmp_path / "pcm.mkv", width=64, height=48, frames=12, photo=None)
    out = tmp_path / "pcm.webm"  # WebM takes no PCM: the audio becomes Opus, the video VP9
    code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,32,24", "--quiet")
    assert code == 0, err
    frames, _, facts = read_frames(out)
    assert facts["audio"] == ["opus"] and facts["codec"] == "vp9" and len(frames) == 12
    samples_in, _ = read_audio(clip.path)
    samples_out, _ = read_audio(out)
    assert abs(len(samples_out) - len(samples_in)) <= 2 * 960  # an Opus frame or two of padding
    assert np.abs(samples_out).max() > 0.2  # the tone is there


def bad_files(tmp_path):
    good = make_clip(tmp_path / "good.mp4", width=64, height=48, frames=10, photo=None).path
    data = good.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    cut_mkv = tmp_path / "cut.mkv"  # its header holds the duration, but the frames stop early
    mkv = make_clip(tmp_path / "good.mkv", width=64, height=48, frames=75, photo=None).path.read_bytes()
    cut_mkv.write_bytes(mkv[: len(mkv) // 2])
    corrupt = tmp_path / "corrupt.mkv"
    corrupt.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    import av

    audio_only = tmp_path / "tone.m4a"
    with av.open(str(audio_only), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=48000, layout="mono")
        for k in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, k * 1024
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    wav = tmp_path / "tone.wav"
    with av.open(str(wav), "w", format="wav") as c:
        s = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        f = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        f.sample_rate, f.pts = 8000, 0
        for p in [*s.encode(f), *s.encode()]:
            c.mux(p)
    audio_error = "no video stream (an audio-only file)"
    return {truncated: "not a readable video", cut_mkv: "truncated video", corrupt: "", audio_only: audio_error,
            wav: audio_error}


def test_bad_videos_give_one_line_and_write_nothing(capsys, tmp_path):
    for path, fragment in bad_files(tmp_path).items():
        out = tmp_path / f"out_{path.stem}"
        code, _, err = run_cli(capsys, "add", path, "--out", out, "--box", "0,0,8,8", "--quiet")
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("mosaicgan: error: "), (path, err)
        assert path.name in lines[0] and fragment in lines[0], lines[0]
        assert not out.exists() or not list(out.iterdir()), path


def test_bad_follow_and_detect_rates_are_one_line_and_write_nothing(capsys, tmp_path):
    clip = make_clip(tmp_path / "c.mp4", width=64, height=48, frames=4)
    for flag in ("--follow-every", "--detect-every"):
        code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / "out", "--faces", flag, "0", "--quiet")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "must be >= 1" in err, err
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_interrupted_video_leaves_no_file(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", width=64, height=48, frames=40, photo=None)
    out = tmp_path / "out" / "long.mp4"

    class Interrupt:
        total = 0
        done = 0

        def refresh(self):
            pass

        def update(self, n):
            self.done += n
            if self.done == 10:
                raise KeyboardInterrupt

    finder = RegionFinder(RegionRequest(kind="boxes", boxes=((0, 0, 8, 8),)))
    with pytest.raises(KeyboardInterrupt):
        add_mosaic_video(clip.path, out, finder=finder, options=MosaicOptions(), progress=Interrupt())
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_resume_keeps_finished_segments_and_gives_the_whole_video(monkeypatch, tmp_path):
    import mosaicgan.infer.video.resume as video_resume

    monkeypatch.setattr(video_resume, "SEGMENT_FRAMES", 20)
    clip = make_clip(tmp_path / "long.mp4", width=64, height=48, frames=60, photo_size=32)
    out = tmp_path / "out" / "long.mp4"
    finder = RegionFinder(RegionRequest(kind="boxes", boxes=((4, 4, 30, 30),)))

    class Counter:
        def __init__(self, stop_at=None):
            self.total, self.done, self.stop_at = 0, 0, stop_at

        def refresh(self):
            pass

        def update(self, n):
            self.done += n
            if self.done == self.stop_at:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        add_mosaic_video(clip.path, out, finder=finder, options=MosaicOptions(), progress=Counter(45), resume=True)
    assert not out.exists()
    kept = sorted(p.name for p in video_resume.work_folder(out).iterdir())
    assert kept == ["job.json", "seg_00000.json", "seg_00000.mp4", "seg_00001.json", "seg_00001.mp4"]
    again = Counter()
    result = add_mosaic_video(clip.path, out, finder=finder, options=MosaicOptions(), progress=again, resume=True)
    assert again.done == 60 and result.frames == 60  # 40 counted as done, 20 processed
    assert result.frames_with_region == 60  # the kept segments' frames counted too
    assert no_leftovers(out.parent) == ["long.mp4"]
    whole = tmp_path / "whole.mp4"
    add_mosaic_video(clip.path, whole, finder=finder, options=MosaicOptions())
    frames, times, _ = read_frames(out)
    frames_whole, _, _ = read_frames(whole)
    frames_in, times_in, _ = read_frames(clip.path)
    assert len(frames) == 60 and np.allclose(times, times_in, atol=1e-3)
    # Segments are encoded apart, so the pixels are not those of one encode bit for bit. Nor is
    # one encode repeatable: the same frames through x264 in one process come out a little
    # different now and then (seen in 5 of 20 runs of this file, frame 0 already, with
    # identical YUV input), so no single frame is held to the one-piece encode. Each frame is
    # its own input frame (closer to it than to its neighbours, which the moving photo sets
    # apart), and overall as close to the input below the box as one encode.
    below = slice(34, None)  # the box covers rows 4..33

    def error(x, y):
        return np.abs(x.astype(int) - y.astype(int))[below].mean()

    for i, a in enumerate(frames):
        own = error(a, frames_in[i])
        assert all(own < error(a, frames_in[j]) for j in (i - 1, i + 1) if 0 <= j < len(frames_in)), i
    resumed = np.mean([error(a, c) for a, c in zip(frames, frames_in, strict=True)])
    whole_error = np.mean([error(b, c) for b, c in zip(frames_whole, frames_in, strict=True)])
    assert resumed < whole_error + 0.5, (resumed, whole_error)
    assert read_audio(out)[1] == read_audio(clip.path)[1]


def test_a_write_failure_is_one_line_and_leaves_no_file(capsys, monkeypatch, tmp_path):
    from mosaicgan.infer.video import encode as video_io

    clip = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=60, photo=None)

    def disk_full(self, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_io.VideoOutput, "write_packet", disk_full)
    out = tmp_path / "out"
    for _ in range(2):  # and the threads wound down: a second run is not stuck behind the first
        code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,8,8", "--quiet")
        assert code == 2 and "no space left" in err.lower() and "in.mp4" in err and len(err.splitlines()) == 1, err
        assert list(out.iterdir()) == []


def test_mpeg_ts_input_becomes_mp4(capsys, tmp_path):
    import av

    clip = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=15, photo=None)
    ts = tmp_path / "broadcast.ts"
    with av.open(str(clip.path)) as src, av.open(str(ts), "w", format="mpegts") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    code, _, err = run_cli(capsys, "add", ts, "--out", tmp_path / "out", "--box", "0,0,8,8", "--quiet")
    assert code == 0, err
    frames, _, facts = read_frames(tmp_path / "out" / "broadcast.mp4")
    assert len(frames) == 15 and facts["audio"] == ["aac"]


def test_a_video_without_a_face_is_not_written_and_an_existing_output_is_kept(capsys, tmp_path):
    clip = make_clip(tmp_path / "empty.mp4", width=96, height=64, frames=8, photo=None, audio=False)
    code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / "out", "--faces", "--quiet")
    assert code == 3 and "no face found in 1 file, not written: empty.mp4" in err, err
    assert list((tmp_path / "out").iterdir()) == []
    out = tmp_path / "done.mp4"
    out.write_bytes(b"earlier")
    code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,8,8", "--quiet")
    assert code == 2 and "already exists" in err and out.read_bytes() == b"earlier"
    code, _, err = run_cli(capsys, "add", clip.path, "--out", out, "--box", "0,0,8,8", "--quiet", "--overwrite")
    assert code == 0 and len(read_frames(out)[0]) == 8


def test_a_box_outside_the_video_is_refused_before_writing(tmp_path):
    clip = make_clip(tmp_path / "small.mp4", width=64, height=48, frames=5, photo=None, audio=False)
    finder = RegionFinder(RegionRequest(kind="boxes", boxes=((100, 0, 8, 8),)))
    with pytest.raises(UserError, match="outside"):
        add_mosaic_video(clip.path, tmp_path / "o.mp4", finder=finder, options=MosaicOptions())
    assert not (tmp_path / "o.mp4").exists()


def test_subtitles_are_copied_where_the_container_takes_them_and_said_so_where_not(capsys, tmp_path):
    cues = [(0, 400, "hello"), (500, 900, "world")]
    clip = make_clip(tmp_path / "talk.mkv", width=64, height=48, frames=25, photo=None, subtitles=cues)
    assert read_subtitles(clip.path) == [(b"hello", 0.0), (b"world", 0.5)]
    code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / "out", "--box", "0,0,16,16", "--quiet")
    assert code == 0, err
    kept = tmp_path / "out" / "talk.mkv"
    assert read_subtitles(kept) == read_subtitles(clip.path)  # stream-copied, at their times
    assert read_audio(kept)[1] == read_audio(clip.path)[1]
    code, _, err = run_cli(capsys, "add", clip.path, "--out", tmp_path / "talk.mp4", "--box", "0,0,16,16", "--quiet")
    assert code == 0 and "talk.mkv: the output container cannot hold subtitle stream" in err, err
    frames, _, facts = read_frames(tmp_path / "talk.mp4")
    assert len(frames) == 25 and len(facts["audio"]) == 1
    import av

    with av.open(str(tmp_path / "talk.mp4")) as c:
        assert not c.streams.subtitles


def test_faces_on_video_take_the_face_shape_of_images(tmp_path):
    clip = make_clip(tmp_path / "still.mp4", width=128, height=96, frames=12, photo_size=64, static=True,
                     shapes=0, audio=False)
    frames_in, _, _ = read_frames(clip.path)
    corner, centre = (slice(16, 21), slice(16, 21)), (slice(40, 56), slice(32, 48))
    change = {}
    for shape in ("ellipse", "box"):
        finder = JitteryFaces([(16, 16, 64, 80)] * 12, jitter=0, miss_every=10**6)
        finder.request = RegionRequest(kind="faces", face_shape=shape, face_grow=0.0)
        out = tmp_path / f"{shape}.mp4"
        add_mosaic_video(clip.path, out, finder=finder, options=MosaicOptions(block=4), video=AddVideoOptions())
        frames_out, _, _ = read_frames(out)
        change[shape] = [np.mean([np.abs(a[ys, xs].astype(int) - b[ys, xs]).mean() for a, b in
                                  zip(frames_in, frames_out, strict=True)]) for ys, xs in (corner, centre)]
    # Mosaicked in the middle either way; the box's corner lies outside the ellipse, so there
    # only the codec's noise remains.
    assert change["ellipse"][1] > 10 and change["box"][1] > 10, change
    assert change["ellipse"][0] < 0.4 * change["box"][0], change


def mask_folder(folder: Path, masks: dict[str, tuple[int, int, int, int]], *, size=(128, 96)) -> Path:
    """A folder of mask files: file name -> the box (x0, y0, x1, y1) it makes white."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x0, y0, x1, y1) in masks.items():
        m = np.zeros((size[1], size[0]), np.uint8)
        m[y0:y1, x0:x1] = 255
        Image.fromarray(m).save(folder / name)
    return folder


def changed(a: np.ndarray, b: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(a[y0:y1, x0:x1].astype(int) - b[y0:y1, x0:x1]).mean())


LEFT, RIGHT = (8, 16, 56, 64), (72, 24, 120, 72)


def test_a_folder_of_masks_gives_each_video_its_own(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    # The photo fills the frame, so a mosaic anywhere changes it.
    a = make_clip(tmp_path / "in" / "a.mp4", frames=6, photo_size=128, static=True, shapes=0, audio=False)
    b = make_clip(tmp_path / "in" / "b.mkv", frames=6, photo_size=128, static=True, shapes=0, audio=False)
    masks = mask_folder(tmp_path / "masks", {"a.png": LEFT, "b_mask.png": RIGHT})  # NAME.png and NAME_mask.png
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "add", a.path, b.path, "--mask", masks, "--block", "8", "--out", out, "--quiet")
    assert code == 0, err
    for clip, own, other in ((a, LEFT, RIGHT), (b, RIGHT, LEFT)):
        before, _, _ = read_frames(clip.path)
        after, _, _ = read_frames(out / clip.path.name)
        assert len(after) == 6
        for x, y in zip(before, after, strict=True):
            # The output is the image core's mosaic under its own mask, not under the other one.
            mine, theirs = (mosaic_frame(x.copy(), boxes_to_mask([Box(*box)], height=96, width=128)[0],
                                         options=MosaicOptions(block=8)) for box in (own, other))
            for box in (own, other):
                assert changed(y, mine, box) < 5.0 and changed(y, theirs, box) > 12.0
    # A video without its mask in the folder: one line naming it, nothing written (not even a.mp4).
    partial = mask_folder(tmp_path / "partial", {"a_mask.png": LEFT})
    out = tmp_path / "out_partial"
    code, _, err = run_cli(capsys, "add", a.path, b.path, "--mask", partial, "--out", out, "--quiet")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "no mask for b.mkv" in lines[0], err
    assert not out.exists() or not list(out.iterdir())
