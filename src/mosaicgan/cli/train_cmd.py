"""`mosaicgan train MODEL`: one subcommand per model of the table in `mosaicgan.models`.

Models with `flags="gan"` get the GAN trainers' flags below; a model with `flags="own"`
registers its subcommand in its own module (train_classifier_cmd.py). The run itself (config,
loop, resume) is train_run.py's.
"""

from __future__ import annotations

import argparse

from mosaicgan import choices
from mosaicgan.cli import train_classifier_cmd, train_mosaic_detector_cmd, train_restorer_cmd, train_srgan_cmd
from mosaicgan.cli.train_run import add_run_flags, run
from mosaicgan.models import MODELS

# Models with flags="own": the module that registers each one's subcommand.
OWN_PARSERS = {"classifier": train_classifier_cmd, "restorer": train_restorer_cmd,
               "mosaic_detector": train_mosaic_detector_cmd, "srgan": train_srgan_cmd}


def add_gan_flags(p: argparse.ArgumentParser) -> None:
    """The GAN trainers' (pix2pix, cyclegan) schedule, data and network flags."""
    add_run_flags(p, data_help="data folder", set_example="loss.lambda_l1=50")
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear decay to zero that follow")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="initial learning rate (Adam)")
    p.add_argument("--load-size", type=int, help="resize to this size before cropping")
    p.add_argument("--crop-size", type=int, help="random crop size")
    p.add_argument("--preprocess", choices=choices.PREPROCESS)
    p.add_argument("--net-g", help="generator (see `mosaicgan nets`)")
    p.add_argument("--net-d", help="discriminator (see `mosaicgan nets`)")
    p.add_argument("--gan-mode", choices=choices.GAN_MODES)
    p.add_argument("--direction", choices=choices.DIRECTIONS)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model", description="Train a model. See `mosaicgan train MODEL --help`.")
    models = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    for spec in MODELS.values():
        if spec.flags == "own":
            OWN_PARSERS[spec.name].register(models)
            continue
        mp = models.add_parser(spec.name, help=spec.summary, description=f"Train {spec.name}: {spec.summary}.")
        add_gan_flags(mp)
        mp.set_defaults(func=run)
