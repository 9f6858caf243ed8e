"""What every export script does: a run's network as fp16 safetensors, with its training record.

Used by export_restorer.py, export_detector.py and export_upscaler.py (run from the repository
root as `python scripts/export_X.py RUN`), which only name the model's kind, network and file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.train.logging import read_log


def export_main(*, description: str, kind: str, net: str, out: str, name: str) -> None:
    """Parse `run [--out] [--name]`, then store the run's (or file's) network `net` of a `kind`
    checkpoint as float16 into --out, recording in `extra` the step, epoch, training seconds,
    source run and the name `remove`/`upscale` write into provenance metadata."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("run", type=Path, help="run folder or checkpoint file")
    p.add_argument("--out", type=Path, default=Path(out))
    p.add_argument("--name", default=name)
    args = p.parse_args()
    ck = load_checkpoint(args.run, kind=kind, only=[net])
    run_dir = args.run if args.run.is_dir() else None
    seconds = None
    if run_dir is not None:
        log = [r for r in read_log(run_dir) if "time" in r and r.get("step", 0) <= ck.extra.get("step", 0)]
        seconds = log[-1]["time"] if log else None
    extra = {**ck.extra, "name": args.name, "weights": "float16", "train_seconds": seconds,
             "source_run": str(run_dir) if run_dir else str(args.run)}
    save_checkpoint(args.out, kind=kind, nets={net: ck.nets[net].half()}, config=ck.config, extra=extra)
    print(f"{args.out}: {args.out.stat().st_size:,} bytes; " + json.dumps(extra))
