"""Data loading speed of pix2pix / CycleGAN training samples: decoding and resizing every file
per sample (the reference's way) against the decode cache (data/decode_cache.py), as a ratio
in one run.

    .venv/bin/python benchmarks/data_speed.py                          # made-up photos, 1024x683
    .venv/bin/python benchmarks/data_speed.py --size 256 256 --count 40
    .venv/bin/python benchmarks/data_speed.py --root DATA              # your paired data (A/B or A|B)

Time: milliseconds per sample (a random crop and flip of an A and a B, as tensors in [-1, 1],
and as uint8 tensors, which training sends to the device to be made floats there),
in this process on one thread, the median of `--rounds` passes over the data set; also the
time to check the files and build the cache once and its size on disk. The samples of both ways are compared
(they must be identical). The load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mosaicgan.data.paired import PairedDataset


def made_up_photos(root: Path, *, count: int, size: tuple[int, int], seed: int) -> Path:
    """ROOT/A/train and ROOT/B/train: `count` JPEG pairs of smooth colour fields with noise
    (photo-like work for the decoder; no downloads)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(count):
        for side in ("A", "B"):
            phase = rng.uniform(0, 6.28, 3)
            base = 127 + 100 * np.sin(np.stack([xx / (37 + 9 * k) + phase[k] + yy / (53 + 7 * k) for k in range(3)], 2))
            img = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
            path = root / side / "train" / f"{i:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(path, quality=90)
    return root


def ms_per_sample(data: PairedDataset, *, rounds: int) -> float:
    times = []
    for r in range(rounds):
        start = time.perf_counter()
        for i in range(len(data)):
            data[(i, 1000 * r + i)]
        times.append((time.perf_counter() - start) / len(data) * 1e3)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, help="paired data (default: made-up JPEG photos)")
    p.add_argument("--size", type=int, nargs=2, default=(1024, 683), metavar=("W", "H"),
                   help="made-up photos' size (default 1024 683)")
    p.add_argument("--count", type=int, default=30, help="made-up pairs (default 30)")
    p.add_argument("--load-size", type=int, default=286)
    p.add_argument("--crop-size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or made_up_photos(Path(tmp) / "photos", count=args.count, size=tuple(args.size), seed=0)
        settings = {"root": root, "load_size": args.load_size, "crop_size": args.crop_size}
        plain = PairedDataset(**settings)
        start = time.perf_counter()
        cached = PairedDataset(**settings)
        cached.use_decode_cache(Path(tmp) / "cache")
        build = time.perf_counter() - start
        if cached.cache is None:
            sys.exit("data_speed.py: the cache would not fit on this disk")
        same = all(torch.equal(plain[(i, 7 + i)][k], cached[(i, 7 + i)][k]) for i in range(len(plain)) for k in "ab")
        per_sample = ms_per_sample(plain, rounds=args.rounds)
        from_cache = ms_per_sample(cached, rounds=args.rounds)
        # What training's loader does: uint8 samples, made floats on the device (train/loop.py).
        cached.as_uint8 = True
        as_uint8 = ms_per_sample(cached, rounds=args.rounds)
        plain.as_uint8 = True
        plain_uint8 = ms_per_sample(plain, rounds=args.rounds)

    w, h = plain.sizes[0]
    source = str(args.root) if args.root else f"{args.count} made-up JPEG pairs of {w}x{h}"
    print(f"{date.today()}  torch {torch.__version__}  {platform.processor() or platform.machine()}, 1 thread, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"data: {source}; resize to {args.load_size}, random crop {args.crop_size} + flip; {len(plain)} samples")
    print(f"decode per sample: {per_sample:8.2f} ms/sample")
    print(f"decode cache:      {from_cache:8.2f} ms/sample   ({per_sample / from_cache:.1f}x; built once in "
          f"{build:.2f} s, {cached.cache.nbytes / 1e6:.1f} MB on disk)")
    print(f"  as uint8:        {as_uint8:8.2f} ms/sample   ({per_sample / as_uint8:.1f}x; the float "
          "conversion left to the device, as training does)")
    print(f"decode per sample, as uint8: {plain_uint8:.2f} ms/sample")
    print(f"samples identical: {same}")


if __name__ == "__main__":
    main()
