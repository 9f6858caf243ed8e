"""`mosaicgan train srgan`: SRResNet (stage mse) and SRGAN (stage gan), on pairs made on the fly.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume).
"""

from __future__ import annotations

import argparse

from mosaicgan import choices
from mosaicgan.cli.train_run import add_run_flags, add_schedule_flags
from mosaicgan.cli.train_run import run as run_training
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
    add_schedule_flags(p, model="srgan", lr_note=", the paper's")
    p.set_defaults(func=run_training)

