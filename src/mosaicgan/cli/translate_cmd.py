"""`mosaicgan translate`: run a trained generator on image files of any size."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import (add_device_flag, add_generator_run_flags, generator_run_options, plural,
                                  progress_bar)


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
    from mosaicgan.atomic import check_writable_dir
    from mosaicgan.data.images import expand_inputs
    from mosaicgan.errors import UserError
    from mosaicgan.infer.translate.files import translate_files
    from mosaicgan.infer.translate.translator import Translator
    from mosaicgan.device import resolve_device
    from mosaicgan.ranks import rank_device, ranks_from_env, share

    if args.batch_size < 1 or args.samples < 1:
        raise UserError("--batch-size and --samples must be at least 1")
    check_writable_dir(args.out)
    paths = expand_inputs(args.inputs)
    ranks = ranks_from_env()  # under torchrun each process translates its share of the inputs
    if args.gallery is not None:
        from mosaicgan.infer.gallery import check_gallery_path

        if ranks.active:
            raise UserError("--gallery: run without torchrun (each process sees only its share of the images)")
        check_gallery_path(args.gallery)
    translator = Translator.from_checkpoint(args.checkpoint, direction=args.direction,
                                            device=rank_device(resolve_device(args.device or "auto"), ranks),
                                            **generator_run_options(args))
    with progress_bar(len(share(paths, ranks)), desc="translate", quiet=args.quiet) as bar:
        written = translate_files(paths, translator=translator, out_dir=args.out, batch_size=args.batch_size,
                                  samples=args.samples, progress=bar, overwrite=args.overwrite, ranks=ranks)
    print(f"wrote {plural(len(written), 'image')} to {args.out}")
    if args.gallery is not None:
        print(f"wrote {write_gallery(paths, args, translator_name=Path(args.checkpoint).name)}")
    return 0


def write_gallery(paths: list[Path], args: argparse.Namespace, *, translator_name: str) -> Path:
    """input | output (| more samples) of every image, each output linked to its file."""
    from mosaicgan.infer.gallery import Gallery
    from mosaicgan.infer.outputs import png_names

    gallery = Gallery(f"translate with {translator_name} ({args.direction})")
    for path in paths:
        outputs = [args.out / name for name in png_names(samples=args.samples)(path)]
        labels = ["output"] if len(outputs) == 1 else [f"sample {k}" for k in range(len(outputs))]
        gallery.add(path.name, [("input", path), *zip(labels, outputs, strict=True)],
                    links=dict(zip(labels, outputs, strict=True)))
    return gallery.write(args.gallery)
