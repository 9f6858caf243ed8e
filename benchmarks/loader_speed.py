"""Whether the data loader keeps up with training: `mosaicgan train pix2pix` on made-up JPEG
photos, with the decode cache and without it (data.decode_cache), each in a fresh process;
steady steps/s from the run's own log (between its first and last records, so start-up, the
cache build and the first epoch's worker start are left out).

    .venv/bin/python benchmarks/loader_speed.py --device cuda                # 200 pairs of 1024x683
    .venv/bin/python benchmarks/loader_speed.py --device cpu --count 16 --epochs 2 --log-every 4

On a GPU a pix2pix step at batch 1 takes milliseconds, less than decoding and resizing a large
JPEG pair (~20 ms on one EPYC core, benchmarks/data_speed.py), so the loader decides the speed
unless it has enough workers or the cache. The same figure on the CPU mostly shows the step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_speed import made_up_photos  # noqa: E402  (a sibling script, not a package)


def steady_steps_per_second(log: Path) -> float | None:
    records = [r for r in map(json.loads, log.read_text().splitlines()) if "time" in r]
    if len(records) < 2:
        return None
    first, last = records[0], records[-1]
    return (last["step"] - first["step"]) / (last["time"] - first["time"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--count", type=int, default=200, help="made-up JPEG pairs (default 200)")
    p.add_argument("--size", type=int, nargs=2, default=(1024, 683), metavar=("W", "H"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--workers", type=int, default=-1, help="data.num_workers (default -1: the project's default)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = made_up_photos(Path(tmp) / "photos", count=args.count, size=tuple(args.size), seed=0)
        print(f"pix2pix on {args.count} made-up JPEG pairs of {args.size[0]}x{args.size[1]} (resize 286, crop 256), "
              f"device {args.device}, batch {args.batch_size}, workers {args.workers}, {args.epochs} epochs")
        for cache in (True, False):
            out = Path(tmp) / f"run_{cache}"
            cmd = [sys.executable, "-m", "mosaicgan", "train", "pix2pix", "--data", str(root), "--out", str(out),
                   "--device", args.device, "--epochs", str(args.epochs), "--epochs-decay", "0",
                   "--batch-size", str(args.batch_size), "--workers", str(args.workers), "--quiet",
                   "--set", f"data.decode_cache={str(cache).lower()}", "--set", f"run.log_every={args.log_every}",
                   "--set", "run.sample_every=1000000"]
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(f"decode cache {'on ' if cache else 'off'}: failed ({done.stderr.strip().splitlines()[-1:]})")
                continue
            rate = steady_steps_per_second(out / "log.jsonl")
            steady = f"{rate:7.2f} steps/s steady" if rate else "too few log records for a steady rate"
            print(f"decode cache {'on ' if cache else 'off'}: {steady}; whole command {wall:.1f} s")


if __name__ == "__main__":
    main()
