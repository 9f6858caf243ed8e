"""`mosaicgan demo`: the main paths on data that ships with the project, no downloads.

Mosaics the face in a bundled public-domain photo (`add --faces`), then makes a small paired
task (outlines of coloured shapes -> filled shapes), trains pix2pix on it for a few minutes of
CPU, translates the held-out inputs and scores them.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="mosaic a bundled photo's face; train and run pix2pix on a toy task",
                       description="Mosaic the face in a bundled public-domain photo (add --faces); make a toy "
                                   "paired data set (shape outlines -> filled shapes, 64x64), train pix2pix on it, "
                                   "translate the test inputs and print PSNR/SSIM beside the identity baseline. "
                                   "Everything lands in --out.")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR")
    p.add_argument("--epochs", type=int, default=8, help="training epochs (half of them with linear decay)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.resources

    from mosaicgan.cli import main

    from mosaicgan.atomic import check_writable_dir
    from mosaicgan.errors import UserError
    from mosaicgan.device import resolve_device

    # Checked here, before the data set is written: a bad flag must leave nothing behind.
    if args.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {args.epochs}")
    resolve_device(args.device)
    check_writable_dir(args.out)
    photo = Path(str(importlib.resources.files("mosaicgan") / "assets" / "demo" / "grace_hopper.jpg"))
    data = args.out / "data"
    if not (data / "train").is_dir():
        from mosaicgan.data.toy import make_shapes_dataset

        make_shapes_dataset(data, n_train=400, n_test=40, size=64, seed=0)
        print(f"made the toy data set in {data}")
    run_dir = args.out / "run"
    resume = (run_dir / "checkpoints" / "resume.pt").exists()
    steps = [
        ["add", str(photo), "--faces", "--out", str(args.out / "mosaicked"), "--save-mask", "--quiet",
         "--overwrite"],  # a second demo run into the same --out replaces its own outputs
        ["train", "pix2pix", *(["--resume", str(run_dir)] if resume else [
            "--data", str(data), "--out", str(run_dir), "--preprocess", "none", "--batch-size", "8",
            "--epochs", str((args.epochs + 1) // 2), "--epochs-decay", str(args.epochs // 2), "--workers", "0",
            "--set", "nets.net_g=unet", "--set", "nets.num_downs=6", "--set", "nets.ngf=32", "--set", "nets.ndf=32",
            # A small net on 64x64 toy images learns faster at 5x the paper's learning rate.
            "--set", "optim.lr=1e-3", "--set", "data.flip=false", "--set", "run.sample_every=100"]),
         "--device", args.device],
        ["translate", str(data / "test"), "--checkpoint", str(run_dir), "--out", str(args.out / "translated"),
         "--overwrite"],
        ["eval", "--checkpoint", str(run_dir), "--data", str(data)],
    ]
    for argv in steps:
        print("$ mosaicgan " + " ".join(argv))
        code = main(argv)
        if code:
            return code
    return 0
