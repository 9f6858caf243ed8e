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

    PYTHONPATH=src .venv/bin/python benchmarks/video_face_cover.py --crowd [--clips crowd crowd-b]
        [--heights 720 1080] [--add-args "--detect-every 16"]

--crowd: the crowd clips of benchmarks/crowd_clip.py instead (real photos of people, hand-boxed
faces, pans, zooms and cuts), through `mosaicgan add --faces` with the defaults (plus
--add-args) in a child process, whose mosaic regions are read from the frame stage (the steadied
boxes of every frame, as the masks are drawn from them: ellipses in them). A labelled face counts
as covered in a frame when 60% of its box is inside the mask (benchmarks/faces.py's rule).
Printed per clip: face-frames covered, the longest run of frames one face stays uncovered,
false boxes (box-frames that cover no labelled face (30% of its box) and touch no "ignore"
region), the frames holding one, and the child's CPU and wall seconds (start-up included).
Run it with another tree's src first on PYTHONPATH to score that version the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
FACE_CORE = (85, 62, 181, 158)  # eyes to chin in the 256-pixel-wide photo (tests/test_video_add.py)


def covered(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int], photo_width: int) -> bool:
    scale = photo_width / 256
    x0, y0, x1, y1 = (int(round(v * scale)) + (box[0] if k % 2 == 0 else box[1]) for k, v in enumerate(FACE_CORE))
    before, after = a[y0:y1, x0:x1].astype(int), b[y0:y1, x0:x1].astype(int)
    detail_in = np.abs(np.diff(before, axis=1)).mean()
    detail_out = np.abs(np.diff(after, axis=1)).mean()
    return np.abs(before - after).mean() > 4 and detail_out < 0.6 * detail_in


def crowd_child(clip: str, out: str, record: str, extra: list[str]) -> None:
    """In the child: `mosaicgan add --faces` over the clip; every frame's mosaic boxes to `record`."""
    from mosaicgan.cli import main as cli
    from mosaicgan.infer.add import video_stage

    frames: dict[int, list[list[int]]] = {}
    original = video_stage._emit_boxes

    def spy(item, boxes, index, *args, **kwargs):  # boxes: TrackBox (track, box) or Box, by version
        frames[index] = [list(getattr(b, "box", b)) for b in boxes]
        return original(item, boxes, index, *args, **kwargs)

    video_stage._emit_boxes = spy
    start = time.perf_counter()
    code = cli(["add", clip, "--faces", "--out", out, "--quiet", *extra])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    Path(record).write_text(json.dumps({"code": code, "frames": frames, "wall": time.perf_counter() - start,
                                        "cpu": usage.ru_utime + usage.ru_stime}))


def crowd(args) -> None:
    from crowd_clip import make_crowd_clip
    from mosaicgan.infer.add.video_stage import regions_mask
    from mosaicgan.ops.masks import Box

    env = {**os.environ}
    print(f"# load average {os.getloadavg()[0]:.1f}; add --faces {args.add_args or '(defaults)'}")
    print("| clip | size | face-frames covered | longest miss | false box-frames | frames with one | CPU s | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    folder = Path(args.keep or tempfile.mkdtemp(prefix="crowd_cover_"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in args.clips:
        for height in args.heights:
            size = (height * 16 // 9, height)
            clip = make_crowd_clip(folder / f"{name}_{height}.mp4", name=name, size=size)
            record = folder / f"{name}_{height}.json"
            out = folder / f"{name}_{height}_out.mp4"
            out.unlink(missing_ok=True)
            subprocess.run([sys.executable, __file__, "--crowd-child", str(clip.path), str(out), str(record),
                            *args.add_args.split()], check=True, env=env, stdout=subprocess.DEVNULL)
            run = json.loads(record.read_text())
            covered = total = false = false_frames = longest = 0
            misses: dict[str, int] = {}
            for index, (faces, ids, ignore) in enumerate(zip(clip.faces, clip.face_ids, clip.ignore, strict=True)):
                boxes = [tuple(b) for b in run["frames"].get(str(index), [])]
                mask = regions_mask([Box(*b) for b in boxes], height=height, width=size[0], shape="ellipse").numpy()
                for face, face_id in zip(faces, ids, strict=True):
                    x0, y0, x1, y1 = (round(v) for v in face)
                    hit = mask[y0:y1, x0:x1].size > 0 and mask[y0:y1, x0:x1].mean() >= 0.6
                    covered += hit
                    total += 1
                    misses[face_id] = 0 if hit else misses.get(face_id, 0) + 1
                    longest = max(longest, misses[face_id])
                wrong = [b for b in boxes if not any(_share(f, b) >= 0.3 for f in faces)
                         and not any(_share(g, b) > 0 for g in ignore)]
                false += len(wrong)
                false_frames += bool(wrong)
            print(f"| {name} | {height}p | {covered}/{total} ({covered / max(1, total):.1%}) | {longest} | {false} | "
                  f"{false_frames}/{len(clip.faces)} | {run['cpu']:.1f} | {run['wall']:.1f} |", flush=True)


def _share(face: tuple[float, ...], box: tuple[float, ...]) -> float:
    """The share of `face`'s area inside `box`."""
    ix = max(0.0, min(face[2], box[2]) - max(face[0], box[0]))
    iy = max(0.0, min(face[3], box[3]) - max(face[1], box[1]))
    return ix * iy / max(1e-9, (face[2] - face[0]) * (face[3] - face[1]))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--crowd-child":
        crowd_child(*sys.argv[2:5], sys.argv[5:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speeds", type=float, nargs="+", default=[2.0, 8.0, 16.0], help="pixels per frame (x; y half)")
    p.add_argument("--every", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--follow", type=int, nargs="+", default=[1, 0], choices=[0, 1],
                   help="faces followed between whole-frame searches (1) or their boxes interpolated (0)")
    p.add_argument("--size", type=int, nargs=2, default=[640, 360])
    p.add_argument("--photo", type=int, default=128, help="photo width in pixels")
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--crowd", action="store_true", help="score the crowd clips instead (see above)")
    p.add_argument("--clips", nargs="+", default=["crowd", "crowd-b"])
    p.add_argument("--heights", type=int, nargs="+", default=[720])
    p.add_argument("--add-args", default="", help="more flags for add, e.g. \"--detect-every 16\"")
    p.add_argument("--keep", type=Path, help="folder for the clips and outputs (default: temporary)")
    args = p.parse_args()
    if args.crowd:
        crowd(args)
        return
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
                hits = [covered(a, b, box, args.photo)
                        for a, b, box in zip(frames_in, frames_out, clip.boxes, strict=True)]
                longest = run = 0
                for hit in hits:
                    run = 0 if hit else run + 1
                    longest = max(longest, run)
                missed = " ".join(str(i) for i, hit in enumerate(hits) if not hit)
                print(f"| {speed:g} | {every} | {'yes' if follow else 'no'} | {sum(hits)}/{len(hits)} | {longest} | "
                      f"{cpu:.1f} | {missed} |", flush=True)


if __name__ == "__main__":
    main()
