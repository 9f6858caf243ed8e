"""`mosaicgan train mosaic_detector`: the mosaic detector, on crops made on the fly from clean photos.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume).
"""

from __future__ import annotations

import argparse
import os

from mosaicgan.cli.train_run import add_run_flags, run as run_training
from mosaicgan.models import MODELS


def register(models: argparse._SubParsersAction) -> None:
    p = models.add_parser(
        "mosaic_detector", help=MODELS["mosaic_detector"].summary,
        description="Train the mosaic detector (nets.mosaic_detector) with per-pixel BCE. Training crops are made "
                    "on the fly from the clean photos under the --data folders (searched recursively): random "
                    "regions, block sizes, grid offsets, styles and JPEG re-encoding, and clean crops as negatives "
                    "(the [mosaic] config section). See configs/mosaic_detect.toml.")
    add_run_flags(p, data_help="one or more folders of clean photos", set_example="mosaic.clean_prob=0.4",
                  data_nargs="+")
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate (default 20)")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear decay that follow (default 10)")
    p.add_argument("--batch-size", type=int, help="default 12")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.data:
        args.data = os.pathsep.join(str(d) for d in args.data)
    return run_training(args)
