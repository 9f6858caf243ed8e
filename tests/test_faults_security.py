"""Outputs that are links, names that are terminal escape codes, provenance that only a comment keeps."""

from pathlib import Path

import av
import numpy as np
from PIL import Image

from mosaicgan.errors import printable
from test_cli import assert_one_line_error, run_cli
from video_clips import make_clip

# Clears the screen, homes the cursor and prints a fake line: what a crafted file name can do.
CRAFTED = "x\x1b[2J\x1b[H all ok\r\n\x07\x9b31m\u202eevil"


def noise_png(path, size=(32, 24), seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_printable_escapes_what_a_terminal_acts_on_and_nothing_else():
    assert printable("plain name é 日本.png") == "plain name é 日本.png"
    assert printable(r"C:\back\slash") == r"C:\back\slash"
    text = printable(CRAFTED)
    assert text == "x\\x1b[2J\\x1b[H all ok\\r\\n\\x07\\x9b31m\\u202eevil"
    assert printable(text) == text  # twice changes nothing
    assert printable(Path("a\x1bb")) == "a\\x1bb"
    assert printable("bad\udcffbyte") == "bad\\xffbyte"  # a non-UTF-8 byte of a file name


def test_an_output_that_is_a_link_is_replaced_not_written_through(capsys, tmp_path):
    photo = noise_png(tmp_path / "p.png")
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious, outside --out")
    out = tmp_path / "out"
    out.mkdir()
    (out / "p.png").symlink_to(outside)
    code, _, err = run_cli(capsys, "add", photo, "--box", "1,1,9,9", "--out", out, "--quiet")
    assert_one_line_error(code, err, "already exists", "--overwrite", out / "p.png")
    code, _, err = run_cli(capsys, "add", photo, "--box", "1,1,9,9", "--out", out, "--quiet", "--overwrite")
    assert code == 0, err
    assert outside.read_bytes() == b"precious, outside --out"
    assert not (out / "p.png").is_symlink() and Image.open(out / "p.png").size == (32, 24)
    # A dangling link counts as an existing output too.
    (out / "q.png").symlink_to(tmp_path / "nowhere.png")
    code, _, err = run_cli(capsys, "add", noise_png(tmp_path / "q.png"), "--box", "1,1,9,9", "--out", out, "--quiet")
    assert_one_line_error(code, err, "already exists", out / "q.png")
    assert not (tmp_path / "nowhere.png").exists()


def test_a_link_to_an_input_is_never_an_output(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    photo = noise_png(tmp_path / "in" / "p.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "p.png").symlink_to(photo)
    code, _, err = run_cli(capsys, "add", photo, "--box", "1,1,9,9", "--out", out, "--quiet", "--overwrite")
    assert_one_line_error(code, err, "would overwrite an input")
    assert (out / "p.png").is_symlink()


def test_crafted_names_are_printed_escaped(capsys, tmp_path):
    bad = tmp_path / f"{CRAFTED}.png"
    bad.write_bytes(b"not an image at all")
    code, out, err = run_cli(capsys, "add", bad, "--box", "1,1,9,9", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "\\x1b[2J\\x1b[H all ok\\r\\n\\x07\\x9b31m\\u202eevil.png")
    assert "\x1b" not in err and "\r" not in err and "\x9b" not in err and out == ""
    # A summary line names --out.
    photo = noise_png(tmp_path / "p.png")
    code, out, err = run_cli(capsys, "upscale", photo, "--out", tmp_path / CRAFTED, "--quiet")
    assert code == 0, err
    assert out.count("\n") == 1 and "\x1b" not in out and "\\x1b[2J" in out
    # The summaries of add and remove (videos named one by one).
    clip = make_clip(tmp_path / f"{CRAFTED}.mp4", width=32, height=32, frames=2, photo=None, audio=False).path
    code, out, err = run_cli(capsys, "add", photo, clip, "--box", "1,1,9,9", "--out", tmp_path / f"o{CRAFTED}",
                             "--quiet")
    assert code == 0, err
    assert out.count("\n") == 2 and "\x1b" not in out + err and out.count("\\x1b[2J") == 3, out
    code, out, err = run_cli(capsys, "remove", clip, "--out", tmp_path / "r", "--quiet", "--detector", "grid")
    assert code == 3 and "\x1b" not in err and "\\x1b[2J" in err, err
    # `info` prints the name and what a file says about itself.
    named = tmp_path / f"{CRAFTED}2.png"
    photo.rename(named)
    code, out, _ = run_cli(capsys, "info", named)
    assert code == 1 and "no mosaicgan provenance" in out and "\x1b" not in out and "\\x1b[2J" in out


def test_info_reads_a_crafted_record_escaped(capsys, tmp_path):
    from mosaicgan.infer.provenance import metadata_save_options, provenance_record

    record = provenance_record(restorer={"restorer": f"r{CRAFTED}"}, regions=[{"box": CRAFTED}], source=CRAFTED)
    path = tmp_path / "r.png"
    Image.new("RGB", (8, 8)).save(path, **metadata_save_options("PNG", record))
    code, out, _ = run_cli(capsys, "info", path)
    assert code == 0 and "restored by mosaicgan" in out
    assert "\x1b" not in out and "\r" not in out and "\\x1b[2J" in out
    assert len(out.strip().splitlines()) == 5  # name, restorer, source, region, statement: no forged lines


def test_info_reads_the_comment_of_a_restored_avi(capsys, tmp_path):
    """AVI keeps only a fixed set of tags: `remove`'s JSON record is lost, its comment is not."""
    from mosaicgan.infer.remove.restorer import load_restorer
    from mosaicgan.infer.remove.video import RemoveVideoOptions, remove_tags

    tags = remove_tags(restorer=load_restorer(None, device="cpu"), options=RemoveVideoOptions(), mask=None,
                       source="x.mp4")
    path = tmp_path / "r.avi"
    with av.open(str(path), "w", format="avi") as out:
        out.metadata.update(tags)
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with av.open(str(path)) as check:
        assert "mosaicgan" not in {k.lower() for k in check.metadata} and "comment" in check.metadata
    code, out, _ = run_cli(capsys, "info", path)
    assert code == 0, out
    assert "restored by mosaicgan" in out and "restorer: mosaicgan-restorer" in out and "synthesized" in out
    # An AVI without that comment has none.
    plain = tmp_path / "plain.avi"
    with av.open(str(plain), "w", format="avi") as out_c:
        out_c.metadata["comment"] = "holiday 2024"
        stream = out_c.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out_c.mux(packet)
    code, out, _ = run_cli(capsys, "info", plain)
    assert code == 1 and "no mosaicgan provenance" in out


def test_remove_writes_an_avi_that_info_reads(capsys, tmp_path):
    from test_video_remove import mosaicked

    _, path = mosaicked(tmp_path, "m", boxes=[(40, 24, 88, 72)], block=8, frames=8, audio=False, static=True)
    code, _, err = run_cli(capsys, "remove", path, "--out", tmp_path / "out" / "r.avi", "--quiet")
    assert code == 0, err
    code, out, _ = run_cli(capsys, "info", tmp_path / "out" / "r.avi")
    assert code == 0 and "restorer: mosaicgan-restorer" in out
