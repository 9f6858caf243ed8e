"""Is a moving face mosaicked in every frame? `add --faces` on clips whose face photo moves at
several speeds and bounces off the frame's edges (a sudden turn, the hard case for boxes that are
interpolated between searches), for several `--detect-every` values.

    .venv/bin/python benchmarks/video_face_cover.py [--speeds 2 8 16] [--every 1 4 8] [--size 640 360]

The clip (tests/video_clips.py) pastes the Grace Hopper photo over a gradient with moving shapes;
its box is known in every frame. A frame's face counts as covered when the middle of the face
(eyes to chin) is pixelated: it differs from the input and has lost most of its detail, the test
of tests/test_video_add.py. Printed per speed and --detect-every: frames covered / frames, the
longest run of uncovered frames, the CPU seconds of the run and which frames were missed; with
and without following the faces between searches (--no-follow).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
FACE_CORE = (85, 62, 181, 158)  # eyes to chin in the 256-pixel-wide photo (tests/test_video_add.py)


def covered(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int], photo_width: int) -> bool:
    scale = photo_width / 256
    x0, y0, x1, y1 = (int(round(v * scale)) + (box[0] if k % 2 == 0 else box[1]) for k, v in enumerate(FACE_CORE))
    before, after = a[y0:y1, x0:x1].astype(int), b[y0:y1, x0:x1].astype(int)
    detail_in = np.abs(np.diff(before, axis=1)).mean()
    detail_out = np.abs(np.diff(after, axis=1)).mean()
    return np.abs(before - after).mean() > 4 and detail_out < 0.6 * detail_in


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speeds", type=float, nargs="+", default=[2.0, 8.0, 16.0], help="pixels per frame (x; y half)")
    p.add_argument("--every", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--follow", type=int, nargs="+", default=[1, 0], choices=[0, 1],
                   help="faces followed between whole-frame searches (1) or their boxes interpolated (0)")
    p.add_argument("--size", type=int, nargs=2, default=[640, 360])
    p.add_argument("--photo", type=int, default=128, help="photo width in pixels")
    p.add_argument("--frames", type=int, default=100)
    args = p.parse_args()
    from video_clips import make_clip, read_frames

    mosaicgan = str(Path(sys.executable).parent / "mosaicgan")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    print(f"# clip {args.size[0]}x{args.size[1]}, photo {args.photo} px wide, {args.frames} frames; load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| px/frame | --detect-every | follow | covered | longest miss | CPU s | frames missed |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for speed in args.speeds:
            clip = make_clip(folder / f"walk_{speed:g}.mp4", width=args.size[0], height=args.size[1],
                             frames=args.frames, photo_size=args.photo, motion=speed, shapes=6, audio=False)
            frames_in, _, _ = read_frames(clip.path)
            for every, follow in [(e, f) for e in args.every for f in args.follow if e > 1 or f == 1]:
                out = folder / f"out_{speed:g}_{every}_{follow}.mp4"
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([mosaicgan, "add", str(clip.path), "--faces", "--detect-every", str(every),
                                "--out", str(out), "--quiet", "--crf", "12", *([] if follow else ["--no-follow"])],
                               check=True, env=env, stdout=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                frames_out, _, _ = read_frames(out)
                hits = [covered(a, b, box, args.photo) for a, b, box in zip(frames_in, frames_out, clip.boxes)]
                longest = run = 0
                for hit in hits:
                    run = 0 if hit else run + 1
                    longest = max(longest, run)
                missed = " ".join(str(i) for i, hit in enumerate(hits) if not hit)
                print(f"| {speed:g} | {every} | {'yes' if follow else 'no'} | {sum(hits)}/{len(hits)} | {longest} | "
                      f"{cpu:.1f} | {missed} |", flush=True)


if __name__ == "__main__":
    main()
