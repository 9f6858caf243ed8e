"""`mosaicgan translate`: run a trained generator on image files of any size."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag, add_generator_run_flags, generator_run_options, plural


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="translate images with a trained generator",
                       description="Translate images with a pix2pix or CycleGAN checkpoint. Any image size "
                                   "(padded for the network, cropped back; in tiles when too large for the memory); "
                                   "grey, RGB, RGBA and palette inputs; the architecture comes from the checkpoint.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a .safetensors checkpoint or a run folder")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (PNG files)")
    p.add_argument("--direction", choices=choices.DIRECTIONS, default="AtoB", help="CycleGAN: which generator")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--samples", type=int, default=1, metavar="K",
                   help="K outputs per input (generators that keep dropout on at test time)")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name already in --out")
    p.add_argument("--gallery", type=Path, metavar="FILE.html",
                   help="also write a web page: input | output of every image, pictures embedded, opens with no "
                        "server (each picture links to its output file)")
    add_device_flag(p)
    add_generator_run_flags(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan import jobs
    from mosaicgan.cli.render import ProgressBars
    from mosaicgan.errors import printable

    if args.gallery is not None:
        from mosaicgan.infer.translate.gallery import check_gallery_path

        check_gallery_path(args.gallery)  # before the job: a page that cannot be written is said now
    options = jobs.TranslateOptions(checkpoint=args.checkpoint, direction=args.direction, batch_size=args.batch_size,
                                    samples=args.samples, overwrite=args.overwrite, device=args.device or "auto",
                                    **generator_run_options(args))
    with ProgressBars(desc="translate", quiet=args.quiet) as bars:
        result = jobs.translate(args.inputs, out=args.out, options=options, progress=bars)
    if result.primary:
        print(f"wrote {plural(len(result.written), 'image')} to {printable(args.out)}")
        if args.gallery is not None:
            print(f"wrote {printable(write_gallery(result, args))}")
    return 0


def write_gallery(result, args: argparse.Namespace) -> Path:
    """input | output (| more samples) of every image, each output linked to its file."""
    from mosaicgan.infer.translate.gallery import Gallery

    gallery = Gallery(f"translate with {Path(args.checkpoint).name} ({args.direction})")
    for item in result.items:
        labels = ["output"] if len(item.outputs) == 1 else [f"sample {k}" for k in range(len(item.outputs))]
        gallery.add(item.input.name, [("input", item.input), *zip(labels, item.outputs, strict=True)],
                    links=dict(zip(labels, item.outputs, strict=True)))
    return gallery.write(args.gallery)
