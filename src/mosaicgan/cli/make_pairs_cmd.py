"""`mosaicgan make-pairs`: clean photos -> an aligned pix2pix data set for mosaic restoration."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag
from mosaicgan.errors import UserError, printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "make-pairs", help="build a mosaic-restoration data set from clean photos",
        description="Crop each clean photo, mosaic a region of the crop (random shapes, faces, or where a "
                    "classifier sees a class), and write mosaicked input | clean target pairs in the aligned "
                    "layout that `train pix2pix` reads (OUT/train, OUT/test), with the masks (OUT/masks) and "
                    "every pair's parameters (OUT/pairs.jsonl). The same --seed gives the same files. A model "
                    "trained on them synthesizes the region; it does not recover it.")
    p.add_argument("--images", required=True, type=Path, metavar="DIR", help="folder of clean photos")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="new (or empty) output folder")
    p.add_argument("--recursive", action="store_true", help="also take photos in sub-folders of --images")
    p.add_argument("--regions", choices=choices.PAIR_REGION_KINDS, default="random",
                   help="where to mosaic: random shapes (default), detected faces, or a CAM class")
    p.add_argument("--cam", metavar="CLASS", help="class name or index for --regions cam")
    p.add_argument("--classifier", type=Path, metavar="CKPT",
                   help="classifier checkpoint for --regions cam (default: the shipped ImageNet MobileNetV2)")
    p.add_argument("--threshold", type=float, default=0.5, help="CAM: fraction of the peak response (default 0.5)")
    p.add_argument("--min-prob", type=float, default=0.0,
                   help="CAM: skip photos where the classifier gives CLASS a lower probability (default 0)")
    p.add_argument("--shapes", type=int, nargs=2, default=[1, 3], metavar=("MIN", "MAX"),
                   help="random shapes per pair (default 1 3)")
    p.add_argument("--pairs-per-image", type=int, default=4, metavar="K", help="pairs per photo (default 4)")
    p.add_argument("--size", type=int, default=256, metavar="S", help="pairs are S x S (default 256)")
    p.add_argument("--crop-min", type=float, default=0.6,
                   help="smallest crop side as a fraction of the photo's short side (default 0.6; largest: 1)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of photos held out in test/ (default 0.1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--styles", default=",".join(choices.MOSAIC_STYLES),
                   help="comma-separated mosaic styles to draw from (default: all four)")
    p.add_argument("--block-min", type=int, help="smallest block size in pixels (with --block-max; "
                   "default: sized from the region, see --block-fraction)")
    p.add_argument("--block-max", type=int, help="largest block size in pixels")
    p.add_argument("--block-fraction", type=float, nargs=2, default=[0.06, 0.15], metavar=("LOW", "HIGH"),
                   help="automatic block size: this fraction of the square root of the region's area "
                        "(default 0.06 0.15)")
    p.add_argument("--grow-max", type=int, default=0, help="grow each region by 0..N pixels (default 0)")
    p.add_argument("--feather-max", type=int, default=0, help="feather each edge by 0..N pixels (default 0)")
    add_device_flag(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan import jobs
    from mosaicgan.cli.render import ProgressBars
    from mosaicgan.infer.make_pairs import NOTE

    if (args.block_min is None) != (args.block_max is None):
        raise UserError("give both --block-min and --block-max (or neither, for automatic block sizes)")
    if args.regions == "cam" and not args.cam:
        raise UserError("--regions cam needs --cam CLASS")
    if args.regions != "cam" and (args.cam or args.classifier):
        raise UserError("--cam and --classifier go with --regions cam")
    options = jobs.PairsOptions(
        size=args.size, pairs_per_image=args.pairs_per_image, test_fraction=args.test_fraction, seed=args.seed,
        crop_range=(args.crop_min, 1.0), styles=tuple(s.strip() for s in args.styles.split(",") if s.strip()),
        block_range=None if args.block_min is None else (args.block_min, args.block_max),
        fraction_range=tuple(args.block_fraction), grow_max=args.grow_max, feather_max=args.feather_max,
        recursive=args.recursive)
    region = jobs.RegionRequest(kind=args.regions, cam_class=args.cam, classifier=args.classifier,
                                threshold=args.threshold, min_prob=args.min_prob, shape_count=tuple(args.shapes))
    with ProgressBars(desc="make-pairs", quiet=args.quiet) as bars:
        summary = jobs.make_pairs(args.images, out=args.out, options=options, region=region,
                                  device=args.device or "auto", progress=bars)
    print(f"{summary.sources} photos: {summary.train_sources} train, {summary.test_sources} test; "
          f"wrote {summary.train_pairs} train and {summary.test_pairs} test pairs to {printable(args.out)}")
    if summary.no_region:
        print(f"skipped {summary.no_region} photos where {args.regions} found no region")
    if summary.lost_pairs:
        print(f"skipped {summary.lost_pairs} pairs whose crops all missed the region")
    print(NOTE)
    return 0
