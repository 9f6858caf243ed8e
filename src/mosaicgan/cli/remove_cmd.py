"""`mosaicgan remove`: restore the mosaics in images and videos (found, or where a mask says)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR, MOSAIC_DETECTORS
from mosaicgan.cli.common import add_device_flag, add_encode_flags, add_precision_flag, encode_options, plural
from mosaicgan.errors import printable

FACE_WARNING = ("warning: a restored region looks like a face. It is not the person's face: the restorer "
                "invented it from the block means. Never use it to identify anyone.")


def grid_arg(text: str):
    """"BH,BW,OY,OX" (or "B" / "B,OY,OX" for square blocks) -> Grid."""
    from mosaicgan.ops.grid import Grid

    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected BLOCK_H,BLOCK_W,OFFSET_Y,OFFSET_X in pixels, got {text!r}") from None
    if len(parts) == 1:
        parts = [parts[0], parts[0], 0, 0]
    elif len(parts) == 3:
        parts = [parts[0], parts[0], parts[1], parts[2]]
    if len(parts) != 4 or parts[0] < 1 or parts[1] < 1:
        raise argparse.ArgumentTypeError(f"expected BLOCK_H,BLOCK_W,OFFSET_Y,OFFSET_X with blocks >= 1, got {text!r}")
    return Grid(*parts)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "remove", help="restore mosaicked (pixelated) regions of images and videos; the result is synthesized",
        description="Restore the mosaics in each image and write the result under --out with the same name, size "
                    "and format (inputs are never overwritten). Without --mask the mosaics are found (block grids "
                    "at any offset and size, also after JPEG); with --mask they are restored where the mask is "
                    "white. What the restorer puts there is invented from the block means, not recovered; every "
                    "output says so in its metadata (`mosaicgan info FILE`). Images where nothing is found are not "
                    "written, and are listed (exit status 3 when no image is written). Videos (found by content) are "
                    "restored frame by frame and written with their timing, audio and rotation; a mosaic that does "
                    "not move keeps a still restoration.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, folders or glob patterns")
    p.add_argument("--out", required=True, type=Path, metavar="DIR|FILE",
                   help="output folder (not an input's folder), or a video file name for one video")
    p.add_argument("--mask", type=Path, metavar="FILE|DIR",
                   help="where the mosaics are: a mask image (white = region) of the images' size, or a folder of "
                        "NAME.png / NAME_mask.png masks, one per image or video NAME.ext (a video's mask is used for "
                        "every frame; default: find them)")
    p.add_argument("--detector", choices=MOSAIC_DETECTORS, default=None,
                   help="how mosaics are found without --mask: 'net', the shipped detector network with each "
                        "region's grid read from its pixels, or 'grid', the classical block-grid detector "
                        f"(default: {DEFAULT_MOSAIC_DETECTOR} for images, grid for the whole-frame searches of "
                        "videos, which then follow each mosaic on a crop with its grid)")
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
    p.add_argument("--unlock", type=Path, metavar="KEY.key",
                   help="files locked by `add --lock-to`: put the original pixels of their regions back with this "
                        "private key, bit for bit (nothing is synthesized; no network is used). A JPEG comes out "
                        "as NAME.png, a video losslessly")
    p.add_argument("--report", type=Path, metavar="FILE.json",
                   help="write every region restored (or put back), per input, with the options and models")
    video = add_encode_flags(p)
    video.add_argument("--detect-every", type=int, default=8, metavar="N",
                       help="search the whole frame for mosaics (with --mask: read each region's grid) 1 frame in "
                            "N; in between, each mosaic found is followed on a crop around it (default 8)")
    video.add_argument("--window", type=int, default=2,
                       help="smooth each followed mosaic's box over N frames either side (default 2)")
    video.add_argument("--bridge", type=int, default=4,
                       help="follow a mosaic N frames before and after it is found (at least --detect-every - 1; "
                            "default 4)")
    video.add_argument("--tolerance", type=float, default=6.0, metavar="LEVELS",
                       help="a block whose mean moved by at most this (0-255) since the previous frame keeps its "
                            "restoration, shifted by that change (default 6; 0: restore every frame afresh)")
    video.add_argument("--no-steady", action="store_true",
                       help="every frame on its own, as an image (slower; the restoration flickers)")
    add_precision_flag(p, what="the restorer")
    add_device_flag(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace):
    """The flags of `mosaicgan remove` as `jobs.RemoveOptions`."""
    from mosaicgan import jobs

    tracking = jobs.TrackingOptions(steady=not args.no_steady, detect_every=args.detect_every, window=args.window,
                                    bridge=args.bridge)
    return jobs.RemoveOptions(mask=args.mask, detector=args.detector, checkpoint=args.checkpoint, grid=args.grid,
                              grow=args.grow, feather=args.feather, quality=args.quality, save_mask=args.save_mask,
                              overwrite=args.overwrite, tracking=tracking, tolerance=args.tolerance,
                              encode=encode_options(args), start=args.start, duration=args.duration,
                              resume=args.resume, device=args.device or "auto", unlock=unlock_options(args),
                              report=args.report, precision=args.precision)


def unlock_options(args: argparse.Namespace):
    if args.unlock is None:
        return None
    from mosaicgan.infer.lock.options import UnlockOptions

    return UnlockOptions(args.unlock)


def say_unlocked(result, args: argparse.Namespace) -> None:
    from mosaicgan.cli.render import names

    key = result.info["unlocked_with"]
    written = [item for item in result.items if item.written]
    images = [item for item in written if item.kind == "image"]
    if images:
        print(f"put back the original pixels of {plural(len(images), 'image')} into {printable(result.out_dir)} with "
              f"key {key} (original pixels restored with a key, not synthesized)")
    for item in written:
        if item.kind == "video":
            print(f"wrote {printable(item.outputs[0])} ({plural(item.frames, 'frame')}, {item.frames_with_region} "
                  f"with their original pixels restored with key {key}; lossless)")
    renamed = [item.input for item in images if item.outputs[0].suffix.lower() != item.input.suffix.lower()]
    if renamed:
        print(f"{plural(len(renamed), 'JPEG')} written as PNG, so the original pixels stay exact: {names(renamed)}",
              file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from mosaicgan import jobs
    from mosaicgan.cli.render import ProgressBars, dropped_streams, names, say_resumable

    with ProgressBars(desc="remove", quiet=args.quiet) as bars:
        try:
            result = jobs.remove(args.inputs, out=args.out, options=options_from_args(args), progress=bars)
        except KeyboardInterrupt:
            bars.close()
            if args.resume:
                say_resumable(bars)
            raise
    if not result.primary:
        return result.exit_status  # under torchrun, rank 0 reports
    if args.report is not None:
        print(f"wrote the report {printable(args.report)}")
    if args.unlock is not None:
        dropped_streams(result)
        say_unlocked(result, args)
        return result.exit_status
    restorer = printable(result.info["restorer"])  # (a checkpoint's own name for itself)
    nothing = "no mosaic grid found inside the mask" if args.mask else "no mosaic found"
    images = [item for item in result.items if item.kind == "image"]
    if images:
        written = [item for item in images if item.written]
        masks = sum(len(item.outputs) - 1 for item in written)
        also = f" and {plural(masks, 'mask')}" if masks else ""
        print(f"restored {plural(len(written), 'image')}{also} into {printable(args.out)} with {restorer} "
              "(synthesized detail, not the original)")
        sys.stdout.flush()  # the summary first, then the warnings, in a terminal too
        if any(item.looks_like_face for item in images):
            print(FACE_WARNING, file=sys.stderr)
        missed = [item.input for item in images if item.status == jobs.NOTHING_FOUND]
        if missed:
            print(f"{nothing} in {plural(len(missed), 'image')}, not written: {names(missed)}", file=sys.stderr)
        skipped = sum(item.skipped_regions for item in images)
        if skipped:
            print(f"{plural(skipped, 'masked region')} showed no block grid and were left as they are "
                  "(give --grid)", file=sys.stderr)
        bare = [item for item in written if item.no_metadata]
        if bare:
            print(f"{plural(len(bare), 'output')} in a format without metadata (BMP, PPM): they cannot say "
                  "they were restored", file=sys.stderr)
    dropped_streams(result)
    videos = [item for item in result.items if item.kind == "video"]
    for item in videos:
        if item.written:
            print(f"wrote {printable(item.outputs[0])} ({plural(item.frames, 'frame')}, {item.frames_with_region} "
                  f"restored with {restorer}; synthesized detail, not the original)")
            if item.looks_like_face:
                sys.stdout.flush()  # the summary first, then the warning, as for images
                print(f"{printable(item.input.name)}: {FACE_WARNING}", file=sys.stderr)
    sys.stdout.flush()
    missed = [item.input for item in videos if not item.written]
    if missed:
        print(f"{nothing} in {plural(len(missed), 'video')}, not written: {names(missed)}", file=sys.stderr)
    return result.exit_status
