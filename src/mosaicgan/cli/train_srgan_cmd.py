"""`mosaicgan train srgan`: SRResNet (stage mse) and SRGAN (stage gan), on pairs made on the fly.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume).
"""

from __future__ import annotations

import argparse
import os

from mosaicgan import choices
from mosaicgan.cli.train_run import add_run_flags, run as run_training
from mosaicgan.models import MODELS


def register(models: argparse._SubParsersAction) -> None:
    p = models.add_parser(
        "srgan", help=MODELS["srgan"].summary,
        description="Train single-image super-resolution. Stage 1 (--set srgan.stage=mse, the default) trains "
                    "the SRResNet generator on pixel MSE; stage 2 (--set srgan.stage=gan --init-from STAGE1_RUN) "
                    "fine-tunes it with a content loss on fixed features (srgan.features: the shipped mobilenet_v2, "
                    "or vgg19:/path/vgg19.pth, torchvision weights you have) plus 1e-3 x the adversarial loss of "
                    "SRGAN's discriminator. Pairs are made on the fly from the high-resolution photos under the "
                    "--data folders (random crops, flips, bicubic downscale with antialiasing). The checkpoint "
                    "works with `upscale --checkpoint` and `eval`. See configs/srresnet_x4_cpu.toml.")
    add_run_flags(p, data_help="one or more folders of high-resolution photos", set_example="srgan.blocks=8",
                  data_nargs="+")
    p.add_argument("--scale", type=int, choices=choices.SR_SCALES, help="upscaling factor (default 4)")
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate (default 50)")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear decay that follow (default 50)")
    p.add_argument("--batch-size", type=int, help="default 16")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-4, the paper's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.data:
        args.data = os.pathsep.join(str(d) for d in args.data)
    return run_training(args)
