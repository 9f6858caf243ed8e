"""A video through the web page against the same job through the CLI (issue: the page must not
be slower than the CLI by more than its upload time).

    .venv/bin/python benchmarks/web_vs_cli.py                 # 720p, 10 s, 3 times each, alternated
    .venv/bin/python benchmarks/web_vs_cli.py --size 480 --seconds 3 --repeats 1

The clip is made here (tests/video_clips.py: moving shapes, the Grace Hopper photo pasted in
motion, AAC audio). CLI: `mosaicgan add CLIP --faces --out DIR` in a fresh process, wall time
(imports and the detector load included). Page: `mosaicgan serve` in its own process, driven by
the system's headless Chromium (Playwright) as a user would: drop the file (upload), wait for
the key frames' faces (the review step), press Apply and wait until the result plays, then
download it. Apply-to-result is the figure to hold against the CLI's time; upload and review are
reported apart, and so are the job's own seconds on the server and the command's fixed cost (the
same command on the first 0.2 s: imports, the detector, the encoder), which the server pays
once. Both write the same file (same frame count, checked). Prints the load average: on a
shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SIZES = {480: (854, 480), 720: (1280, 720), 1080: (1920, 1080)}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def cli_run(clip: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mosaicgan", "add", str(clip), "--faces", "--out", str(out), "--quiet",
                    *extra], check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_run(browser, url: str, clip: Path, folder: Path) -> dict[str, float]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    times = {}
    start = time.perf_counter()
    page.set_input_files("#add-files", str(clip))
    page.wait_for_selector("#add-uploads li", timeout=600_000)
    times["upload"] = time.perf_counter() - start
    start = time.perf_counter()
    page.wait_for_function("() => document.querySelector('#add-count').textContent.includes('key frames')",
                           timeout=600_000)
    times["review"] = time.perf_counter() - start
    start = time.perf_counter()
    page.click("#add-apply")
    page.wait_for_selector("#add-result video.output", timeout=1_800_000)
    times["apply_to_result"] = time.perf_counter() - start
    times["server_job"] = page.evaluate("async () => (await (await fetch('/api/jobs')).json()).jobs.at(-1).seconds")
    start = time.perf_counter()
    with page.expect_download() as info:
        page.locator("#add-result a.download").first.click()
    info.value.save_as(folder / "page.mp4")
    times["download"] = time.perf_counter() - start
    context.close()
    return times


def frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, choices=sorted(SIZES), default=720)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from video_clips import make_clip

    width, height = SIZES[args.size]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(tmp / f"clip_{args.size}p.mp4", width=width, height=height, frames=int(25 * args.seconds),
                         fps=25, photo_size=height // 3, audio=True).path
        print(f"clip: {width}x{height}, {args.seconds:g} s at 25 fps, {clip.stat().st_size / 1e6:.1f} MB")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "mosaicgan", "serve", "--port", str(port), "--work",
                                   str(tmp / "work")], env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        try:
            url = f"http://127.0.0.1:{port}/"
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            rows = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=FLAGS)
                for k in range(args.repeats):
                    load = os.getloadavg()[0]
                    cli = cli_run(clip, tmp / f"cli{k}")
                    # What the command costs before its first frame (imports, the detector, the
                    # encoder): the same command on the first 0.2 s.
                    startup = cli_run(clip, tmp / f"short{k}", "--duration", "0.2")
                    page = page_run(browser, url, clip, tmp)
                    same = frames(tmp / "page.mp4") == frames(tmp / f"cli{k}" / clip.name)
                    rows.append((load, cli, startup, page, same))
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    print(f"{'load':>5} {'CLI s':>6} {'CLI 0.2 s':>9} {'upload s':>9} {'review s':>9} {'apply->result s':>16} "
          f"{'server job s':>13} {'download s':>11} {'same frames':>12}")
    for load, cli, startup, page, same in rows:
        print(f"{load:>5.2f} {cli:>6.1f} {startup:>9.1f} {page['upload']:>9.2f} {page['review']:>9.1f} "
              f"{page['apply_to_result']:>16.1f} {page['server_job']:>13.1f} {page['download']:>11.2f} {str(same):>12}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
