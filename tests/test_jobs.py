"""The job layer (`mosaicgan.jobs`), as a Python user or the web page calls it: results per
input, progress, cancellation, checks before the first write, and torchrun's processes ending
a job together."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan import jobs
from mosaicgan.errors import UserError
from video_clips import make_clip


def noise_image(path: Path, *, size=(80, 64), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(FIXTURES / "face.jpg").convert("RGB").save(folder / "face.png")
    noise_image(folder / "noise.png")
    return folder


def test_add_gives_one_result_per_input_with_the_faces_found(photos, tmp_path):
    events = []
    result = jobs.add([photos], out=tmp_path / "out", options=jobs.AddOptions(region=jobs.RegionRequest(kind="faces")),
                      progress=events.append)
    by_name = {item.input.name: item for item in result.items}
    assert set(by_name) == {"face.png", "noise.png"}
    face, noise = by_name["face.png"], by_name["noise.png"]
    assert face.status == jobs.WRITTEN and face.outputs == [(tmp_path / "out" / "face.png").resolve()]
    assert face.outputs[0].is_file()
    boxes = face.regions[0]["boxes"]  # the faces, as x0, y0, x1, y1 inside the photo
    width, height = Image.open(photos / "face.png").size
    assert boxes and all(0 <= b[0] < b[2] <= width and 0 <= b[1] < b[3] <= height for b in boxes)
    assert noise.status == jobs.NOTHING_FOUND and noise.outputs == []
    assert not (tmp_path / "out" / "noise.png").exists()
    assert result.exit_status == 0 and result.written == face.outputs
    # Progress: the run of images, counted up to its total.
    assert [(e.input, e.unit, e.total) for e in events] == [(None, "image", 2)] * len(events)
    assert [e.done for e in events] == [0, 1, 2]


def test_nothing_found_anywhere_is_exit_status_3_not_an_error(tmp_path):
    noise = noise_image(tmp_path / "noise.png")
    result = jobs.add([noise], out=tmp_path / "out", options=jobs.AddOptions(region=jobs.RegionRequest(kind="faces")))
    assert result.exit_status == jobs.NOTHING_DONE and result.written == []


def test_a_bad_input_stops_the_job_before_anything_is_written(photos, tmp_path):
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(UserError, match="broken.png"):
        jobs.add([photos], out=tmp_path / "out",
                 options=jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=((0, 0, 8, 8),))))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cancel_between_images_keeps_what_is_finished(photos, tmp_path):
    noise_image(photos / "zz_more.png", seed=1)
    done = []

    def progress(event):
        done.append(event.done)

    with pytest.raises(jobs.Cancelled):
        jobs.add([photos], out=tmp_path / "out", progress=progress, cancel=lambda: len(done) >= 1,
                 options=jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=((0, 0, 16, 16),))))
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["face.png"]  # the first image (done before the cancel), and no temporary file


def test_cancel_during_a_video_leaves_no_file(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=96, height=64, frames=40, audio=False)
    frames = []

    def progress(event):
        if event.unit == "frame":
            frames.append(event.done)

    with pytest.raises(jobs.Cancelled):
        jobs.add([clip.path], out=tmp_path / "out", progress=progress, cancel=lambda: len(frames) > 10,
                 options=jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=((10, 10, 30, 30),))))
    assert list((tmp_path / "out").iterdir()) == []
    assert 10 <= len(frames) < 40


def test_images_and_a_video_give_video_items_with_frame_counts(photos, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=96, height=64, frames=12, audio=False)
    events = []
    result = jobs.add([photos, clip.path], out=tmp_path / "out", progress=events.append,
                      options=jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=((4, 4, 20, 20),))))
    video = next(item for item in result.items if item.kind == "video")
    assert video.status == jobs.WRITTEN and video.frames == 12 and video.frames_with_region == 12
    assert video.outputs[0].is_file()
    frame_events = [e for e in events if e.unit == "frame"]
    assert frame_events[-1].done == 12 and frame_events[-1].total == 12
    assert all(e.input.name == "clip.mp4" for e in frame_events)


def test_remove_reports_each_region_and_the_restorer(tmp_path):
    src = tmp_path / "photo.png"
    Image.open(FIXTURES / "bird.jpg").convert("RGB").save(src)
    mosaicked = jobs.add([src], out=tmp_path / "m", options=jobs.AddOptions(
        region=jobs.RegionRequest(kind="boxes", boxes=((16, 16, 64, 48),)), mosaic=jobs.MosaicOptions(block=8)))
    result = jobs.remove(mosaicked.written, out=tmp_path / "r",
                         options=jobs.RemoveOptions(grid=jobs.Grid(8, 8, 0, 0), detector="grid"))
    (item,) = result.items
    assert item.status == jobs.WRITTEN and item.outputs[0].is_file()
    (region,) = item.regions
    assert region["found_by"] == "detector" and region["grid"] == "8x8 offset 0,0"
    assert result.info["restorer"]


def test_upscale_and_translate_refuse_videos_in_one_line(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=64, height=48, frames=4, audio=False)
    with pytest.raises(UserError, match="clip.mp4.*upscale"):
        jobs.upscale([clip.path], out=tmp_path / "out")


def test_upscale_gives_the_factor_and_the_files(tmp_path):
    src = noise_image(tmp_path / "small.png", size=(24, 16))
    result = jobs.upscale([src], out=tmp_path / "out")
    assert result.info["scale"] == 4
    (item,) = result.items
    assert Image.open(item.outputs[0]).size == (96, 64)


def test_make_pairs_refuses_torchrun(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(UserError, match="one process"):
        jobs.make_pairs(FIXTURES, out=tmp_path / "pairs")


def torchrun(*argv, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "mosaicgan",
                           *map(str, argv)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_torchrun_processes_end_a_job_together_and_report_once(photos, tmp_path):
    # Mixed inputs: one process gets the face, the other only the noise image (nothing found,
    # which alone would exit 3 and have torchrun stop the other process mid-write).
    noise_image(photos / "noise2.png", seed=2)
    done = torchrun("add", photos, "--faces", "--out", tmp_path / "out", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["face.png"]
    assert done.stdout.count("wrote 1 image") == 1
    assert done.stderr.count("no face found in 2 images") == 1
    # A bad input: every process stops before writing, and the line is printed once. (torchrun
    # itself exits 1 and prints its own report whenever a process exits non-zero.)
    (photos / "broken.png").write_bytes(b"not an image")
    bad = torchrun("add", photos, "--faces", "--out", tmp_path / "out2", "--quiet", cwd=tmp_path)
    assert bad.returncode != 0
    assert bad.stderr.count("mosaicgan: error: ") == 1 and "broken.png" in bad.stderr
    assert "exitcode  : 2" in bad.stderr and "exitcode  : 1" not in bad.stderr  # both processes: 2
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


@pytest.mark.parametrize("command, options", [
    (["add", "x.png", "--faces", "--out", "o"], lambda: jobs.AddOptions(region=jobs.RegionRequest(kind="faces"))),
    (["add", "x.png", "--box", "1,2,3,4", "--out", "o"],
     lambda: jobs.AddOptions(region=jobs.RegionRequest(kind="boxes", boxes=((1, 2, 3, 4),)))),
    (["remove", "x.png", "--out", "o"], lambda: jobs.RemoveOptions()),
])
def test_the_cli_with_no_flags_runs_the_jobs_defaults(command, options):
    """One set of defaults: a Python user who gives no option gets what `mosaicgan` gives with no flag."""
    from mosaicgan.cli import add_cmd, build_parser, remove_cmd

    args = build_parser().parse_args(command)
    parsed = (add_cmd if command[0] == "add" else remove_cmd).options_from_args(args)
    assert parsed == options()
