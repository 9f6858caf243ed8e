"""End-to-end speed of `mosaicgan add` on videos, time per stage, and peak memory.

    .venv/bin/python benchmarks/video_speed.py                  # speed at 480p/720p/1080p + memory
    .venv/bin/python benchmarks/video_speed.py --sizes 720 --seconds 4 --no-memory

Clips are made here (tests/video_clips.py: a gradient with moving shapes and the Grace Hopper
photo pasted in motion, sine-tone AAC audio), then each run is a fresh process (so its peak
resident memory, ru_maxrss, is its own): `add --faces` (steadied) and `add --box`. Stage times
are the busy time of each stage; the stages run in parallel threads, so they can add up to
more than the wall time. fps = frames / wall time of the processing (not counting start-up:
imports and the detector load, reported apart). Print the machine's load average beside the
figures: on a shared machine they move with it.

    PYTHONPATH=src .venv/bin/python benchmarks/video_speed.py --crowd crowd crowd-b --sizes 720 1080 --rounds 3 \
        [--baseline-src /path/to/other/src] [--add-args "..."]

--crowd: the crowd clips of benchmarks/crowd_clip.py (real photos of people, pans, zooms, cuts; 125
frames) instead, through the `mosaicgan add` command line with its defaults (what a user gets):
`add --faces` and `add --box`, each a fresh process, alternated over --rounds; fps = frames /
wall time of the streaming pipeline (decode, search, mosaic, encode; start-up not counted), CPU
ms per frame the process's over the same span. --baseline-src also times `add --faces` with another
tree's src (e.g. main's) in the same rounds, for a ratio on the same machine and load.
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

ROOT = Path(__file__).resolve().parents[1]
SIZES = {480: (854, 480), 720: (1280, 720), 1080: (1920, 1080)}


def one_run(clip: Path, out: Path, region: str, extra: list[str]) -> dict:
    """Runs in the child process: one add over the clip; timings and memory as a dict."""
    t_start = time.perf_counter()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from mosaicgan.infer.add.core import MosaicOptions
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
    from mosaicgan.infer.add.video import AddVideoOptions, add_mosaic_video
    from mosaicgan.infer.video.encode import EncodeOptions
    from mosaicgan.infer.video.steady import TrackingOptions

    args = dict(zip(extra[::2], extra[1::2], strict=False))  # flag, value pairs
    if region in ("faces", "censor"):
        request = RegionRequest(kind="faces", face_flip=args.get("--mirror", "1") == "1")
    else:
        request = RegionRequest(kind="boxes", boxes=((100, 100, 300, 300),))
    finder = RegionFinder(request)
    steady = AddVideoOptions(tracking=TrackingOptions(detect_every=int(args.get("--detect-every", 1))),
                             detect_side=int(args.get("--detect-side", 0)), follow=args.get("--follow", "1") == "1")
    encode = EncodeOptions(preset=args.get("--preset", "medium"))
    if region.startswith("remove"):
        from mosaicgan.infer.remove.restorer import load_restorer
        from mosaicgan.infer.remove.video import RemoveVideoOptions, remove_mosaic_video

        restorer = load_restorer()
        startup = time.perf_counter() - t_start
        t0, cpu0 = time.perf_counter(), _cpu()
        result = remove_mosaic_video(clip, out, restorer=restorer, encode=encode,
                                     options=RemoveVideoOptions(
                                         tracking=TrackingOptions(window=2, steady=region == "remove")))
    else:
        startup = time.perf_counter() - t_start
        t0, cpu0 = time.perf_counter(), _cpu()
        result = add_mosaic_video(clip, out, finder=finder, options=MosaicOptions(), video=steady, encode=encode)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    return {"frames": result.frames, "wall_s": round(wall, 2), "fps": round(result.frames / wall, 1),
            "cpu_ms_per_frame": round(1000 * cpu / result.frames, 1),
            "startup_s": round(startup, 2), "stages_s": {k: round(v, 2) for k, v in result.seconds.items()},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(clip: Path, out: Path, region: str, extra: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--child", str(clip), str(out), region, *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_child(clip: str, out: str, extra: list[str]) -> dict:
    """In the child: `mosaicgan add CLIP --out OUT EXTRA...` through the command line, the
    streaming pipeline timed (wall and CPU from its start to its end)."""
    from mosaicgan.cli import main as cli
    from mosaicgan.infer.video import job, pipeline

    span = {}
    original = pipeline.run_pipeline

    def timed(*args, **kwargs):
        t0, cpu0 = time.perf_counter(), _cpu()
        try:
            return original(*args, **kwargs)
        finally:
            span.update(wall=time.perf_counter() - t0, cpu=_cpu() - cpu0, frames=kwargs["result"].frames,
                        seconds=dict(kwargs["result"].seconds))

    pipeline.run_pipeline = job.run_pipeline = timed
    code = cli(["add", clip, "--out", out, "--quiet", *extra])
    if code != 0:
        raise SystemExit(code)
    return {"frames": span["frames"], "wall_s": round(span["wall"], 2), "fps": round(span["frames"] / span["wall"], 1),
            "cpu_ms_per_frame": round(1000 * span["cpu"] / span["frames"], 1),
            "stages_s": {k: round(v, 2) for k, v in span["seconds"].items()}}


def crowd_speed(args) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from crowd_clip import make_crowd_clip

    folder = args.keep or Path(tempfile.mkdtemp(prefix="video_speed_"))
    folder.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"# torch {torch.__version__}, cpu cores {os.cpu_count()}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; add defaults"
          f"{' + ' + args.add_args if args.add_args else ''}")
    variants = [("faces", ["--faces", *args.add_args.split()], None), ("box", ["--box", "100,100,200,200"], None)]
    if args.baseline_src:
        variants.append(("faces (baseline)", ["--faces"], args.baseline_src))
    rows: dict[tuple[str, int, str], list[dict]] = {}
    clips = {(name, size): make_crowd_clip(folder / f"{name}_{size}.mp4", name=name, size=SIZES[size]).path
             for name in args.crowd for size in args.sizes}
    for r in range(args.rounds):
        for (name, size), clip in clips.items():
            for label, extra, src in variants:
                env = {**os.environ}
                env.pop("OMP_NUM_THREADS", None)  # the command's own threads, as a user runs it
                if src:
                    env["PYTHONPATH"] = src
                out = folder / f"out_{name}_{size}.mp4"
                out.unlink(missing_ok=True)
                done = subprocess.run([sys.executable, __file__, "--cli-child", str(clip), str(out), *extra],
                                      capture_output=True, text=True, check=False, env=env)
                if done.returncode != 0:
                    raise RuntimeError(done.stderr[-2000:])
                row = json.loads(done.stdout.strip().splitlines()[-1])
                row["load"] = round(os.getloadavg()[0], 2)
                rows.setdefault((name, size, label), []).append(row)
                print(json.dumps({"round": r, "clip": name, "size": size, "run": label, **row}), flush=True)
    print("\n| clip | size | run | fps (median) | fps per round | CPU ms/frame | find s | encode s | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, size, label), runs in rows.items():
        fps = sorted(r["fps"] for r in runs)
        print(f"| {name} | {size}p | {label} | {fps[len(fps) // 2]} | {' '.join(str(r['fps']) for r in runs)} | "
              f"{sorted(r['cpu_ms_per_frame'] for r in runs)[len(runs) // 2]} | "
              f"{runs[0]['stages_s'].get('find', 0)} | {runs[0]['stages_s'].get('encode', 0)} | "
              f"{' '.join(str(r['load']) for r in runs)} |")


def make(folder: Path, height: int, seconds: float) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from video_clips import make_clip

    width, height = SIZES[height]
    path = folder / f"clip_{height}p_{seconds:g}s.mp4"
    if not path.exists():
        make_clip(path, width=width, height=height, frames=int(seconds * 25), photo_size=height // 3,
                  motion=width / 200, shapes=6)
    return path


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        clip, out, region, *extra = sys.argv[2:]
        print(json.dumps(one_run(Path(clip), Path(out), region, extra)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--cli-child":
        print(json.dumps(cli_child(sys.argv[2], sys.argv[3], sys.argv[4:])))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[480, 720, 1080])
    p.add_argument("--seconds", type=float, default=4.0, help="clip length for the speed runs")
    p.add_argument("--memory-seconds", type=float, nargs="+", default=[10.0, 60.0])
    p.add_argument("--memory-size", type=int, default=480)
    p.add_argument("--memory-faces", nargs=2, type=int, default=[8, 320], metavar=("EVERY", "SIDE"),
                   help="--detect-every and --detect-side of the memory runs (they are about the pipeline's "
                        "buffers, not the detector; default 8 320 keeps a 60 s clip short)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--preset", default="medium")
    p.add_argument("--detect-every", type=int, nargs="+", default=[1, 8])
    p.add_argument("--detect-side", type=int, nargs="+", default=[0, 640])
    p.add_argument("--mirror", type=int, nargs="+", default=[1], choices=[0, 1],
                   help="faces scored also on the mirror image (1, the default) or not (0, --no-mirror)")
    p.add_argument("--follow", type=int, nargs="+", default=[1], choices=[0, 1],
                   help="faces followed between whole-frame searches (1, the default) or not (0, --no-follow)")
    p.add_argument("--remove", action="store_true",
                   help="also `remove` on each clip censored by `add --faces` (a mosaic that follows the moving "
                        "face), steadied and frame by frame")
    p.add_argument("--keep", type=Path, default=None, help="folder to keep the clips in (default: temporary)")
    p.add_argument("--crowd", nargs="+", choices=["crowd", "crowd-b"], help="the crowd clips through the CLI (above)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--baseline-src", help="--crowd: also time add --faces with this src tree on PYTHONPATH")
    p.add_argument("--add-args", default="", help="--crowd: more flags for add --faces")
    args = p.parse_args()
    if args.crowd:
        crowd_speed(args)
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="video_speed_"))
    folder.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"# cpu cores {os.cpu_count()}, cuda {torch.cuda.is_available()}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, preset {args.preset}")
    rows = []
    for size in args.sizes:
        clip = make(folder, size, args.seconds)
        runs = [("box", [])] + [("faces", ["--detect-every", str(k), "--detect-side", str(side), "--mirror", str(m),
                                           "--follow", str(f)])
                                for k in args.detect_every for side in args.detect_side for m in args.mirror
                                for f in args.follow]
        for region, extra in runs:
            row = run_child(clip, folder / f"out_{size}_{region}.mp4", region, [*extra, "--preset", args.preset])
            label = (f" every {extra[1]}" + (f" side {extra[3]}" if extra[3] != "0" else "")
                     + (" no mirror" if extra[5] == "0" else "") + (" no follow" if extra[7] == "0" else "")
                     if extra else "")
            row.update({"size": f"{size}p", "region": region + label,
                        "load": round(os.getloadavg()[0], 1)})
            rows.append(row)
            print(json.dumps(row), flush=True)
        if args.remove:
            censored = folder / f"censored_{size}.mp4"
            if not censored.exists():
                run_child(clip, censored, "censor",
                          ["--detect-every", "4", "--detect-side", "0", "--preset", "veryfast"])
            for region in ("remove", "remove-no-steady"):
                row = run_child(censored, folder / f"out_{size}_{region}.mp4", region, ["--preset", args.preset])
                row.update({"size": f"{size}p", "region": region.replace("-", " "),
                            "load": round(os.getloadavg()[0], 1)})
                rows.append(row)
                print(json.dumps(row), flush=True)
    if not args.no_memory:
        for seconds in args.memory_seconds:
            clip = make(folder, args.memory_size, seconds)
            every, side = args.memory_faces
            row = run_child(clip, folder / f"mem_{seconds:g}.mp4", "faces",
                            ["--preset", args.preset, "--detect-every", str(every), "--detect-side", str(side)])
            row.update({"size": f"{args.memory_size}p", "region": f"faces every {every} side {side}", "clip_s": seconds,
                        "load": round(os.getloadavg()[0], 1)})
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\nfps: wall clock; CPU ms/frame: user+sys of the process per frame (all threads), the load-free "
          "figure: 2 idle cores give at most 2000 / that fps")
    print("\n| clip | region | frames | fps | CPU ms/frame | decode s | find s | mosaic/restore s | encode s "
          "| peak MiB "
          "| load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["stages_s"]
        name = r["size"] + (f" {r['clip_s']:g} s" if "clip_s" in r else "")
        print(f"| {name} | {r['region']} | {r['frames']} | {r['fps']} | {r['cpu_ms_per_frame']} | {s['decode']} | "
              f"{s['find']} | "
              f"{s.get('mosaic', s.get('restore'))} | {s['encode']} | {r['peak_rss_mib']} | {r['load']} |")


if __name__ == "__main__":
    main()
