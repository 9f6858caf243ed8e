"""Signals and kills: SIGTERM stops add/remove as Ctrl-C does, temporaries a kill left in --out
are removed by the next run (never one another process is writing), a killed training resumes
at once, and a resumed video's summary counts the frames of the segments it kept."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from mosaicgan.atomic import atomic_path, remove_stale_temporaries
from mosaicgan.train.run_folder import RunLock
from test_cli import run_cli
from video_clips import make_clip


def mosaicgan(*argv, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "mosaicgan", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(condition, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", width=160, height=120, frames=600, photo=None,
                     noise=8).path


@pytest.mark.parametrize("command", ["add", "remove"])
def test_sigterm_in_the_middle_of_a_video_is_ctrl_c_with_status_143(capsys, tmp_path, monkeypatch, command):
    from mosaicgan.infer.video import encode as video_io

    clip = make_clip(tmp_path / "c.mp4", width=64, height=48, frames=40, photo=None, audio=False).path
    real_write = video_io.VideoOutput.write
    count = []

    def write(self, pts, frame, **kwargs):  # the writer thread; the handler runs in the main thread
        count.append(1)
        if len(count) == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_write(self, pts, frame, **kwargs)

    monkeypatch.setattr(video_io.VideoOutput, "write", write)
    mask = tmp_path / "m.png"
    Image.new("L", (64, 48), 255).save(mask)
    where = ["--box", "1,1,20,20"] if command == "add" else ["--mask", mask, "--grid", "8"]
    before = signal.getsignal(signal.SIGTERM)
    code, out, err = run_cli(capsys, command, clip, *where, "--out", tmp_path / "out", "--quiet")
    assert code == 143 and err.strip().splitlines()[-1] == "mosaicgan: terminated (SIGTERM)", err
    assert "Traceback" not in err and list((tmp_path / "out").iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.slow
def test_sigterm_stops_a_video_like_ctrl_c_and_leaves_nothing(tmp_path, long_clip):
    out = tmp_path / "out"
    proc = mosaicgan("add", long_clip, "--box", "2,2,40,40", "--out", out, "--quiet")
    try:
        assert wait_for(lambda: any(p.name.endswith(".tmp") for p in out.glob(".*")), proc), "never started writing"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "mosaicgan: terminated (SIGTERM)" and "Traceback" not in err
    assert list(out.iterdir()) == []  # the unfinished file is gone, and nothing half-written stays


@pytest.mark.slow
def test_sigterm_keeps_finished_segments_and_the_resumed_summary_counts_them(capsys, tmp_path, long_clip):
    out = tmp_path / "out"
    work = out / ".long.mp4.resume"
    proc = mosaicgan("add", long_clip, "--box", "2,2,40,40", "--out", out, "--quiet", "--resume")
    try:
        assert wait_for(lambda: (work / "seg_00000.mp4").exists(), proc), "no segment finished"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if proc.returncode == 0:
        pytest.skip("the video was finished before the signal arrived (a loaded machine)")
    assert proc.returncode == 143 and "finished segments are kept" in err, err
    assert (work / "seg_00000.mp4").exists()
    code, printed, err = run_cli(capsys, "add", long_clip, "--box", "2,2,40,40", "--out", out, "--quiet", "--resume")
    assert code == 0, err
    assert "(600 frames, 600 with a mosaic)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["long.mp4"]


def test_stale_temporaries_are_removed_but_not_one_being_written(capsys, tmp_path):
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), "red").save(photo)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".p.png.k2j3h4l5.tmp"  # what a SIGKILL during a write leaves
    stale.write_bytes(b"x" * 1000)
    other = out / ".q.png.k2j3h4l5.tmp"  # not one of this run's outputs
    other.write_bytes(b"x")
    mine = out / "notes.tmp"  # not our naming
    mine.write_bytes(b"x")
    code, _, err = run_cli(capsys, "add", photo, "--box", "1,1,9,9", "--out", out, "--quiet")
    assert code == 0, err
    assert not stale.exists() and other.exists() and mine.exists()
    # One another process is writing (it holds the lock atomic_path takes) stays.
    with atomic_path(out / "p.png") as tmp:
        tmp.write_bytes(b"in progress")
        holder = subprocess.run([sys.executable, "-c", (
            "import sys; from mosaicgan.atomic import remove_stale_temporaries;"
            f"print(len(remove_stale_temporaries({str(out)!r}, names=['p.png'])))")], capture_output=True,
            text=True)
        assert holder.stdout.strip() == "0" and tmp.exists()
    assert remove_stale_temporaries(out) == [other]


@pytest.mark.slow
def test_a_killed_trainings_loader_workers_do_not_hold_its_run_folder(tmp_path, toy_data):
    """kill -9 of the trainer alone: its DataLoader workers live on for a few seconds; they must
    not hold the run folder's lock (they used to, through the descriptor they inherited)."""
    run = tmp_path / "run"
    trainer = mosaicgan("train", "pix2pix", "--data", toy_data, "--out", run, "--quiet", "--set",
                        "data.preprocess=none", "--set", "nets.net_g=unet", "--set", "nets.num_downs=5",
                        "--set", "nets.ngf=8", "--set", "nets.ndf=8", "--batch-size", "1", "--epochs", "500",
                        "--epochs-decay", "0", "--workers", "2", "--device", "cpu", "--set", "run.save_every=1")
    try:
        assert wait_for(lambda: (run / "checkpoints" / "resume.pt").exists(), trainer, timeout=120)
        workers = _children(trainer.pid)
        trainer.kill()
        trainer.wait()
        alive = [pid for pid in workers if _alive(pid)]
        with RunLock(run):  # at once, as `--resume` right after the kill tries (the CLI takes seconds to start)
            pass
        resumed = subprocess.run([sys.executable, "-m", "mosaicgan", "train", "pix2pix", "--resume", str(run),
                                  "--quiet", "--stop-after", "1"],
                                 capture_output=True, text=True, timeout=120)
    finally:
        trainer.kill()
    assert resumed.returncode == 0, resumed.stderr
    assert "another mosaicgan process" not in resumed.stderr
    assert alive, "the workers had ended already: the test shows nothing"


def _children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid):
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def test_a_dead_holders_lock_still_held_by_its_children_is_named(tmp_path, monkeypatch):
    from mosaicgan.errors import UserError
    from mosaicgan.train import run_folder

    run = tmp_path / "run"
    run.mkdir()
    lock = run / ".lock"
    # A child that holds the lock while the pid recorded in the file is dead (as an old
    # version's worker did after a kill -9 of the trainer).
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'999999999\\n'); print('held', flush=True); time.sleep(60)"),
        str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(run_folder, "TAKEOVER_SECONDS", 0.3)
        with pytest.raises(UserError, match=r"\(pid 999999999\) has ended, but processes it started still hold"):
            run_folder.RunLock(run).acquire()
    finally:
        holder.kill()
        holder.wait()
    with run_folder.RunLock(run):  # once they are gone, it is taken
        assert fcntl is not None
