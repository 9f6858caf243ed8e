"""Videos a user may well give: nan/inf spans, odd frame sizes, files cut short (and whole files
whose header counts differently), a second video stream, a mask over no mosaic, frames over
the pixel limit."""

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from mosaicgan.infer.video import decode as video_io
from test_cli import assert_one_line_error, run_cli
from test_video_remove import mosaicked
from video_clips import make_clip, read_frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", width=64, height=48, frames=6, photo=None).path


@pytest.mark.parametrize("flag, value", [("--start", "nan"), ("--start", "inf"), ("--duration", "nan"),
                                         ("--duration", "inf"), ("--duration", "-inf")])
def test_nan_and_inf_spans_are_one_line_naming_the_flag(capsys, tmp_path, clip, flag, value):
    for argv in (["add", clip, "--box", "1,1,9,9"], ["remove", clip]):
        code, _, err = run_cli(capsys, *argv, f"{flag}={value}", "--out", tmp_path / "out", "--quiet")
        assert_one_line_error(code, err, flag, value)
    assert not (tmp_path / "out").exists()


def test_an_odd_frame_size_is_kept(capsys, tmp_path):
    odd = make_clip(tmp_path / "odd.mp4", width=321, height=241, frames=3, photo=None, codec="mpeg4", audio=False)
    for codec in ("libx264", "libx265"):
        out = tmp_path / codec / "odd.mp4"
        code, _, err = run_cli(capsys, "add", odd.path, "--box", "1,1,20,20", "--out", out, "--codec", codec,
                               "--preset", "ultrafast", "--quiet")
        assert code == 0, err
        frames, _, facts = read_frames(out)
        assert len(frames) == 3 and frames[0].shape == (241, 321, 3) and facts["pix_fmt"] == "yuv444p"


def cut(path, share=0.7):
    data = path.read_bytes()
    short = path.with_name(f"cut_{path.name}")
    short.write_bytes(data[: int(len(data) * share)])
    return short


@pytest.mark.parametrize("suffix", [".mkv", ".avi", ".webm"])
def test_a_file_cut_short_is_refused_before_any_work_and_a_whole_one_is_not(capsys, tmp_path, suffix):
    whole = make_clip(tmp_path / f"c{suffix}", width=64, height=48, frames=50, photo=None).path
    # AVI counts in its time base's ticks (2000 here), not frames: all 50 frames decode, and it is whole.
    code, out, err = run_cli(capsys, "add", whole, "--box", "1,1,9,9", "--out", tmp_path / "ok", "--quiet")
    assert code == 0 and "50 frames" in out, err
    short = cut(whole)
    code, _, err = run_cli(capsys, "add", short, "--box", "1,1,9,9", "--out", tmp_path / "bad", "--quiet")
    assert_one_line_error(code, err, short.name, "truncated video", "(70%)")
    assert not (tmp_path / "bad").exists()
    # Part of it can still be taken.
    code, _, err = run_cli(capsys, "add", short, "--box", "1,1,9,9", "--duration", "0.5", "--out", tmp_path / "part",
                           "--quiet")
    assert code == 0, err


def test_a_cut_mp4_with_its_index_first_is_refused(capsys, tmp_path):
    source = make_clip(tmp_path / "s.mp4", width=64, height=48, frames=50, photo=None).path
    fast = tmp_path / "fast.mp4"
    with av.open(str(source)) as src, av.open(str(fast), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    code, _, err = run_cli(capsys, "add", cut(fast), "--box", "1,1,9,9", "--out", tmp_path / "bad", "--quiet")
    assert_one_line_error(code, err, "cut_fast.mp4", "truncated video")


def test_a_second_video_stream_is_said_to_be_left_out(capsys, tmp_path):
    path = tmp_path / "two.mkv"
    with av.open(str(path), "w") as out:
        streams = []
        for size in ((64, 48), (32, 24)):
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = *size, "yuv420p"
            s.codec_context.time_base = Fraction(1, 25)
            streams.append(s)
        for i in range(4):
            for s in streams:
                frame = av.VideoFrame.from_ndarray(np.full((s.height, s.width, 3), 30 * i, np.uint8), format="rgb24")
                frame.pts = i
                for packet in s.encode(frame):
                    out.mux(packet)
        for s in streams:
            for packet in s.encode():
                out.mux(packet)
    code, out, err = run_cli(capsys, "add", path, "--box", "1,1,9,9", "--out", tmp_path / "out", "--quiet")
    assert code == 0 and "4 frames" in out, err
    assert err.strip() == "two.mkv: video stream 1 (h264, 32x24): left out (one video stream is processed, the first " \
                          "that is not a cover picture)"
    with av.open(str(tmp_path / "out" / "two.mkv")) as written:
        assert [(s.codec_context.width, s.codec_context.height) for s in written.streams.video] == [(64, 48)]


def test_remove_with_a_mask_over_no_mosaic_exits_3_as_for_an_image(capsys, tmp_path):
    plain = make_clip(tmp_path / "plain.mp4", frames=20, noise=12, audio=False).path
    mask = np.zeros((96, 128), np.uint8)
    mask[20:70, 30:90] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err = run_cli(capsys, "remove", plain, "--mask", tmp_path / "mask.png", "--out", tmp_path / "out",
                           "--quiet")
    assert code == 3 and "no mosaic grid found inside the mask in 1 video" in err, err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    # Where the mask does hold a mosaic, every frame is restored, the first one too.
    box = (40, 24, 88, 72)
    _, path = mosaicked(tmp_path, "m", boxes=[box], block=8, frames=6, audio=False, static=True)
    mask[:] = 0
    mask[box[1]:box[3], box[0]:box[2]] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, out, err = run_cli(capsys, "remove", path, "--mask", tmp_path / "mask.png", "--out", tmp_path / "out2",
                             "--quiet")
    assert code == 0 and "6 frames, 6 restored" in out, err


def test_frames_over_the_pixel_limit_are_refused_from_the_header(capsys, tmp_path, clip, monkeypatch):
    # (A video of 90-megapixel frames is slow to make; the limit is lowered instead.)
    monkeypatch.setattr(video_io, "MAX_PIXELS", 64 * 48 - 1)
    decoded = []
    monkeypatch.setattr(video_io.VideoInput, "_first_frame", lambda self: decoded.append(1))
    for argv in (["add", clip, "--box", "1,1,9,9"], ["remove", clip]):
        code, _, err = run_cli(capsys, *argv, "--out", tmp_path / "out", "--quiet")
        assert_one_line_error(code, err, "c.mp4", "video frames too large (64 x 48", "as for images")
    assert not decoded and not (tmp_path / "out").exists()
