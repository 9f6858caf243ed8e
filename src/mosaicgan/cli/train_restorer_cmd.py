"""`mosaicgan train restorer`: the mosaic restorer, on pairs made on the fly from clean photos.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume).
"""

from __future__ import annotations

import argparse

from mosaicgan.cli.train_run import add_run_flags, add_schedule_flags
from mosaicgan.cli.train_run import run as run_training
from mosaicgan.models import MODELS


def register(models: argparse._SubParsersAction) -> None:
    p = models.add_parser(
        "restorer", help=MODELS["restorer"].summary,
        description="Train the mosaic restorer (nets.restorer) with L1 inside the region. Training pairs are made "
                    "on the fly from the clean photos under the --data folders (searched recursively): random "
                    "regions, block sizes, grid phases, styles and JPEG re-encoding (the [mosaic] config section). "
                    "The checkpoint works with `remove --checkpoint`. See configs/mosaic_restore.toml.")
    add_run_flags(p, data_help="one or more folders of clean photos", set_example="mosaic.block_max=24",
                  data_nargs="+")
    add_schedule_flags(p, model="restorer")
    p.set_defaults(func=run_training)

