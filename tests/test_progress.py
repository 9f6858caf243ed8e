"""Progress lines when stderr is not a terminal: done/total, rate, ETA every few seconds."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from mosaicgan.progress import LineProgress, duration, progress_bar


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_few_seconds_with_rate_and_eta():
    clock, out = Clock(), io.StringIO()
    with LineProgress(100, desc="add", unit="img", every=5.0, stream=out, clock=clock) as bar:
        for _ in range(10):  # 10 images in 4 s: no line yet
            clock.now += 0.4
            bar.update(1)
        assert out.getvalue() == ""
        for _ in range(20):  # 20 more at 2 img/s, to 14 s: a line at 5 s and at 10 s
            clock.now += 0.5
            bar.update(1)
        lines = out.getvalue().splitlines()
        assert len(lines) == 2
        # The first line: 12 done at 5 s, 88 left at 2.4 img/s.
        assert re.fullmatch(r"add: 12/100 img \(12%\), 2\.4 img/s, ETA 37s", lines[0]), lines[0]
        clock.now += 100
        bar.update(70)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("add: 100/100 img (100%)") and "ETA" not in lines[-1]


def test_a_short_run_prints_nothing_and_an_unknown_total_still_reports():
    clock, out = Clock(), io.StringIO()
    with LineProgress(3, desc="x", stream=out, clock=clock) as bar:
        bar.update(3)
    assert out.getvalue() == ""  # the command's own summary line says it is done
    with LineProgress(None, desc="clip.mp4", unit="frame", stream=out, clock=clock) as bar:
        clock.now += 6
        bar.update(150)
    assert out.getvalue().splitlines() == ["clip.mp4: 150 frame, 25 frame/s, 6s so far"]


def test_slow_rates_read_as_time_per_unit_and_postfix_is_shown():
    clock, out = Clock(), io.StringIO()
    bar = LineProgress(10, desc="train", unit="it", stream=out, clock=clock)
    bar.set_postfix({"g": "1.2"})
    clock.now += 30
    bar.update(1)
    assert out.getvalue().strip() == "train: 1/10 it (10%), 30s/it, ETA 4m30s [g=1.2]"
    assert duration(7322) == "2h02m"


def test_progress_bar_picks_lines_off_a_terminal_and_nothing_when_quiet():
    assert isinstance(progress_bar(5, desc="a", stream=io.StringIO()), LineProgress)
    quiet = progress_bar(5, desc="a", quiet=True, stream=io.StringIO())
    assert not isinstance(quiet, LineProgress) and quiet.disable


def test_cli_under_a_pipe_prints_progress_lines():
    """A real command with stderr to a pipe (as under nohup > log): lines appear while it runs."""
    code = ("import time, sys\n"
            "import mosaicgan.progress as p\n"
            "p.LINE_EVERY = 0.05\n"
            "from mosaicgan.cli.common import progress_bar\n"
            "with progress_bar(4, desc='job') as bar:\n"
            "    bar.every = 0.05\n"
            "    for _ in range(4):\n"
            "        time.sleep(0.06); bar.update(1)\n")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    lines = [line for line in err.splitlines() if line.startswith("job: ")]
    assert len(lines) >= 3 and lines[-1].startswith("job: 4/4 img (100%)"), err
