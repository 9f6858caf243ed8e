"""`mosaicgan demo`: the main path on data that ships with the project, no downloads.

Mosaics the face in a bundled public-domain photo (`add --faces`), then finds that mosaic and
restores it (`remove`, default detector and restorer) and prints the PSNR inside the region,
of the mosaic and of the restoration, against the original. `--pix2pix` also runs the older,
slower part (minutes of CPU): a toy paired task trained with pix2pix, translated and scored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan.errors import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="mosaic a bundled photo's face, then find and restore the mosaic",
                       description="Mosaic the face in a bundled public-domain photo (add --faces), find the mosaic "
                                   "and restore it (remove), and print the PSNR gain inside the region over the "
                                   "mosaic. With --pix2pix, also train pix2pix on a toy paired task (shape outlines -> "
                                   "filled shapes, 64x64; minutes of CPU) and score it. Everything lands in --out.")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR")
    p.add_argument("--pix2pix", action="store_true", help="also train and score pix2pix on the toy task (slow)")
    p.add_argument("--epochs", type=int, default=8, help="--pix2pix: training epochs (half of them with linear decay)")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.resources

    from mosaicgan.atomic import check_writable_dir
    from mosaicgan.cli import main
    from mosaicgan.device import resolve_device
    from mosaicgan.errors import UserError

    # Checked here, before the data set is written: a bad flag must leave nothing behind.
    if args.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {args.epochs}")
    resolve_device(args.device)
    check_writable_dir(args.out)
    photo = Path(str(importlib.resources.files("mosaicgan") / "assets" / "demo" / "grace_hopper.jpg"))
    mosaicked, restored = args.out / "mosaicked", args.out / "restored"
    steps = [
        # --overwrite: a second demo run into the same --out replaces its own outputs.
        ["add", str(photo), "--faces", "--out", str(mosaicked), "--save-mask", "--quiet", "--overwrite"],
        ["remove", str(mosaicked / photo.name), "--out", str(restored), "--device", args.device, "--quiet",
         "--overwrite"],
    ]
    for argv in steps:
        print("$ mosaicgan " + " ".join(printable(a) for a in argv))
        code = main(argv)
        if code:
            return code
    report_gain(photo, mosaicked / photo.name, restored / photo.name, mosaicked / f"{photo.stem}_mask.png")
    if args.pix2pix:
        return run_pix2pix(args)
    return 0


def report_gain(original: Path, mosaic: Path, restored: Path, mask: Path) -> None:
    from mosaicgan.infer.image_io import load_image
    from mosaicgan.infer.mask_io import read_mask
    from mosaicgan.metrics import masked_psnr

    truth = load_image(original).image
    region = read_mask(mask)
    before = masked_psnr(load_image(mosaic).image, truth, region)
    after = masked_psnr(load_image(restored).image, truth, region)
    print(f"restored image: {printable(restored)}  (mosaic: {printable(mosaic)})")
    print(f"PSNR inside the mosaicked region against the original: mosaic {before:.2f} dB, restored {after:.2f} dB "
          f"({after - before:+.2f} dB). The restored detail is synthesized, not the original: a restored face "
          "is not the person's face.")


def run_pix2pix(args: argparse.Namespace) -> int:
    from mosaicgan.cli import main

    data = args.out / "data"
    if not (data / "train").is_dir():
        from mosaicgan.data.toy import make_shapes_dataset

        make_shapes_dataset(data, n_train=400, n_test=40, size=64, seed=0)
        print(f"made the toy data set in {printable(data)}")
    run_dir = args.out / "run"
    resume = (run_dir / "checkpoints" / "resume.pt").exists()
    steps = [
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
        print("$ mosaicgan " + " ".join(printable(a) for a in argv))
        code = main(argv)
        if code:
            return code
    return 0
