"""`mosaicgan remove`: restore the mosaics in images (found, or where a mask says)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicgan.cli.common import NOTHING_DONE, add_device_flag, plural, progress_bar

FACE_WARNING = ("warning: a restored region looks like a face. It is not the person's face: the restorer "
                "invented it from the block means. Never use it to identify anyone.")


def grid_arg(text: str):
    """"BH,BW,OY,OX" (or "B" / "B,OY,OX" for square blocks) -> Grid."""
    from mosaicgan.ops.grid import Grid

    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BLOCK_H,BLOCK_W,OFFSET_Y,OFFSET_X in pixels, got {text!r}") from None
    if len(parts) == 1:
        parts = [parts[0], parts[0], 0, 0]
    elif len(parts) == 3:
        parts = [parts[0], parts[0], parts[1], parts[2]]
    if len(parts) != 4 or parts[0] < 1 or parts[1] < 1:
        raise argparse.ArgumentTypeError(f"expected BLOCK_H,BLOCK_W,OFFSET_Y,OFFSET_X with blocks >= 1, got {text!r}")
    return Grid(*parts)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "remove", help="restore mosaicked (pixelated) regions of images; the result is synthesized",
        description="Restore the mosaics in each image and write the result under --out with the same name, size "
                    "and format (inputs are never overwritten). Without --mask the mosaics are found (block grids "
                    "at any offset and size, also after JPEG); with --mask they are restored where the mask is "
                    "white. What the restorer puts there is invented from the block means, not recovered; every "
                    "output says so in its metadata (`mosaicgan info FILE`). Images where nothing is found are not "
                    "written, and are listed (exit status 3 when no image is written).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (not an input's folder)")
    p.add_argument("--mask", type=Path, metavar="FILE|DIR",
                   help="where the mosaics are: a mask image (white = region) of the images' size, or a folder of "
                        "NAME.png / NAME_mask.png masks, one per image (default: find them)")
    p.add_argument("--checkpoint", type=Path, metavar="CKPT",
                   help="a restorer checkpoint from `mosaicgan train restorer` (file or run folder; default: the "
                        "shipped restorer)")
    p.add_argument("--grid", type=grid_arg, metavar="BH,BW,OY,OX",
                   help="the mosaic's block size and grid offset in pixels, for every region (default: read from "
                        "the pixels); 'B' or 'B,OY,OX' for square blocks")
    p.add_argument("--grow", type=int, default=0, help="also restore N pixels around each region (default 0)")
    p.add_argument("--feather", type=int, default=0, help="blend the restoration in over N more pixels (default 0)")
    p.add_argument("--quality", type=int, metavar="Q",
                   help="JPEG/WebP output quality 1-100 (default: a JPEG keeps its input's estimated quality)")
    p.add_argument("--save-mask", action="store_true", help="also write NAME_mask.png: the pixels the restorer changed")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name already in --out")
    add_device_flag(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.data.images import expand_inputs
    from mosaicgan.device import resolve_device
    from mosaicgan.ranks import rank_device, ranks_from_env, share
    from mosaicgan.infer.remove_files import RemoveOptions, check_inputs, remove_files
    from mosaicgan.infer.restore import load_restorer

    options = RemoveOptions(mask=args.mask, grid=args.grid, grow=args.grow, feather=args.feather,
                            quality=args.quality, save_mask=args.save_mask, overwrite=args.overwrite)
    paths = expand_inputs(args.inputs)
    ranks = ranks_from_env()  # under torchrun each process restores its share of the inputs
    mine = share(paths, ranks)
    plan = check_inputs(paths, out_dir=args.out, options=options, mine=set(mine))
    paths = mine
    restorer = load_restorer(args.checkpoint, device=rank_device(resolve_device(args.device or "auto"), ranks))
    with progress_bar(len(paths), desc="remove", quiet=args.quiet) as bar:
        result = remove_files(paths, restorer=restorer, out_dir=args.out, options=options, plan=plan, progress=bar)
    masks = f" and {plural(len(result.masks), 'mask')}" if result.masks else ""
    print(f"restored {plural(len(result.written), 'image')}{masks} into {args.out} with {restorer.name} "
          "(synthesized detail, not the original)")
    sys.stdout.flush()  # the summary first, then the warnings, in a terminal too
    if result.faces:
        print(FACE_WARNING, file=sys.stderr)
    if result.nothing_found:
        what = "no mosaic grid found inside the mask" if args.mask else "no mosaic found"
        names = ", ".join(p.name for p in result.nothing_found[:10])
        more = f" and {len(result.nothing_found) - 10} more" if len(result.nothing_found) > 10 else ""
        print(f"{what} in {plural(len(result.nothing_found), 'image')}, not written: {names}{more}", file=sys.stderr)
    if result.skipped_regions:
        print(f"{plural(result.skipped_regions, 'masked region')} showed no block grid and were left as they are "
              "(give --grid)", file=sys.stderr)
    if result.no_metadata:
        print(f"{plural(len(result.no_metadata), 'output')} in a format without metadata (BMP, PPM): they cannot say "
              "they were restored", file=sys.stderr)
    return 0 if result.written or not paths else NOTHING_DONE
