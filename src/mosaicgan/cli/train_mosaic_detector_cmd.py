"""`mosaicgan train mosaic_detector`: the mosaic detector, on crops made on the fly from clean photos.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume).
"""

from __future__ import annotations

import argparse

from mosaicgan.cli.train_run import add_run_flags, add_schedule_flags
from mosaicgan.cli.train_run import run as run_training
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
    add_schedule_flags(p, model="mosaic_detector")
    p.set_defaults(func=run_training)

