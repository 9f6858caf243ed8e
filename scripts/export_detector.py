"""Export a trained mosaic detector run as the shipped one: fp16 weights + the config that rebuilds it.

A maintainer tool; nothing in the package imports it. From the repository root:

    python scripts/export_detector.py runs/detector [--out src/mosaicgan/assets/mosaic_detector.safetensors]

Reads the run's latest checkpoint (or a checkpoint file), stores every weight as float16
(inference casts back to float32; BatchNorm's running statistics included) and records in
`extra` the training step, epoch, training seconds and source run. The run folder stays
resumable (`mosaicgan train mosaic_detector --resume RUN`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.localize.mosaic_net import KIND
from mosaicgan.train.logging import read_log


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="run folder or checkpoint file")
    p.add_argument("--out", type=Path, default=Path("src/mosaicgan/assets/mosaic_detector.safetensors"))
    p.add_argument("--name", default="mosaicgan-mosaic-detector-v2")
    args = p.parse_args()
    ck = load_checkpoint(args.run, kind=KIND)
    net = ck.nets["detector"].half()
    run_dir = args.run if args.run.is_dir() else None
    seconds = None
    if run_dir is not None:
        log = [r for r in read_log(run_dir) if "time" in r and r.get("step", 0) <= ck.extra.get("step", 0)]
        seconds = log[-1]["time"] if log else None
    extra = {**ck.extra, "name": args.name, "weights": "float16", "train_seconds": seconds,
             "source_run": str(run_dir) if run_dir else str(args.run)}
    save_checkpoint(args.out, kind=KIND, nets={"detector": net}, config=ck.config, extra=extra)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes; " + json.dumps(extra))


if __name__ == "__main__":
    main()
