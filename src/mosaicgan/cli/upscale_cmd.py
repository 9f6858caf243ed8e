"""`mosaicgan upscale`: super-resolution of image files of any size, tile by tile."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan.choices import UPSCALE_OVERLAP as DEFAULT_OVERLAP
from mosaicgan.choices import UPSCALE_TILE as DEFAULT_TILE
from mosaicgan.cli.common import add_device_flag, add_precision_flag, plural


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upscale", help="enlarge images with a super-resolution network (x4 by default)",
                       description="Enlarge images with an SRResNet/SRGAN checkpoint (`mosaicgan train srgan`); "
                                   "without --checkpoint, the shipped x4 SRResNet (see assets/README.md). Any "
                                   "size: the image goes through the network in overlapping tiles blended "
                                   "together. Fine detail that the input does not hold is synthesized, not "
                                   "recovered. Writes NAME.png per input; inputs are never overwritten.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (PNG files)")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="an srgan checkpoint or run folder (default: the shipped x4 model)")
    p.add_argument("--tile", type=int, default=DEFAULT_TILE, metavar="N",
                   help=f"input pixels per tile side (default {DEFAULT_TILE}; smaller uses less memory)")
    p.add_argument("--tile-overlap", type=int, default=DEFAULT_OVERLAP, metavar="N",
                   help=f"input pixels shared by neighbouring tiles (default {DEFAULT_OVERLAP})")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name already in --out")
    add_precision_flag(p)
    add_device_flag(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan import jobs
    from mosaicgan.cli.render import ProgressBars
    from mosaicgan.errors import printable

    options = jobs.UpscaleOptions(checkpoint=args.checkpoint, tile=args.tile, overlap=args.tile_overlap,
                                  overwrite=args.overwrite, device=args.device or "auto", precision=args.precision)
    with ProgressBars(desc="upscale", quiet=args.quiet) as bars:
        result = jobs.upscale(args.inputs, out=args.out, options=options, progress=bars)
    if result.primary:
        print(f"wrote {plural(len(result.written), 'image')} (x{result.info['scale']}) to {printable(args.out)}")
    return 0
