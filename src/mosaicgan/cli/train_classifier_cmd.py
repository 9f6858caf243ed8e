"""`mosaicgan train classifier`: fine-tune the shipped MobileNetV2 on class folders, for CAM.

Registered under `train` by train_cmd; the run itself is train_run's (config, loop, resume),
so only the flags and the closing report live here.
"""

from __future__ import annotations

import argparse

from mosaicgan.cli.train_run import add_run_flags, add_schedule_flags
from mosaicgan.cli.train_run import run as run_training
from mosaicgan.models import MODELS


def register(models: argparse._SubParsersAction) -> None:
    p = models.add_parser(
        "classifier", help=MODELS["classifier"].summary,
        description="Fine-tune the shipped ImageNet MobileNetV2 on DIR/<class>/ image folders (one sub-folder "
                    "per class; its name is the label). A share of each class is held out and the validation "
                    "accuracy is reported. The checkpoint works with --classifier CKPT wherever --cam is used. "
                    "Class names on the refusal list (clothing, sexual content; see the README's Scope) are refused.")
    add_run_flags(p, data_help="folder with one sub-folder of images per class",
                  set_example="nets.freeze_features=10")
    add_schedule_flags(p, model="classifier")
    p.add_argument("--load-size", type=int, help="training: short side resized to this (default 256)")
    p.add_argument("--crop-size", type=int, help="training crop and inference short side (default 224)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.train.logging import read_log

    code = run_training(args)
    run_dir = args.resume or args.out
    held_out = [r for r in read_log(run_dir) if "val_acc" in r]
    if held_out:
        last = held_out[-1]
        print(f"validation accuracy {last['val_acc']:.3f} (loss {last['val_loss']:.3f}) after epoch {last['epoch']}; "
              f"use it with --classifier {run_dir / 'checkpoints' / 'latest.safetensors'}")
    return code
