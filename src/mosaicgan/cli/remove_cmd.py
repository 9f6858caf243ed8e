"""`mosaicgan remove`: restore the mosaics in images and videos (found, or where a mask says)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicgan.choices import DEFAULT_MOSAIC_DETECTOR, MOSAIC_DETECTORS
from mosaicgan.cli.common import (NOTHING_DONE, add_device_flag, add_encode_flags, add_precision_flag, plural,
                                  progress_bar)

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
    p.add_argument("--detector", choices=MOSAIC_DETECTORS, default=DEFAULT_MOSAIC_DETECTOR,
                   help="how mosaics are found without --mask: 'net', the shipped detector network with each "
                        "region's grid read from its pixels, or 'grid', the classical block-grid detector "
                        f"(default {DEFAULT_MOSAIC_DETECTOR}; images only: videos use the grid detector, which "
                        "follows a mosaic from frame to frame)")
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


def run(args: argparse.Namespace) -> int:
    from mosaicgan.data.images import expand_inputs
    from mosaicgan.device import resolve_device
    from mosaicgan.infer.remove.core import mosaic_finder
    from mosaicgan.ranks import rank_device, ranks_from_env, share
    from mosaicgan.infer.remove.files import RemoveOptions, check_inputs, remove_files
    from mosaicgan.infer.remove.restorer import load_restorer
    from mosaicgan.infer.video.io import is_media_file

    options = RemoveOptions(mask=args.mask, grid=args.grid, grow=args.grow, feather=args.feather,
                            quality=args.quality, save_mask=args.save_mask, overwrite=args.overwrite)
    paths = expand_inputs(args.inputs)
    videos = [p for p in paths if is_media_file(p)]
    paths = [p for p in paths if p not in videos]
    if videos:
        out_dir, video_plan, video_options = _check_videos(videos, args, images=bool(paths))
    else:
        out_dir, video_plan = args.out, {}
    ranks = ranks_from_env()  # under torchrun each process restores its share of the images and videos
    mine = share(paths, ranks)
    plan = check_inputs(paths, out_dir=out_dir, options=options, mine=set(mine)) if paths else {}
    paths, videos = mine, share(videos, ranks)
    device = rank_device(resolve_device(args.device or "auto"), ranks)
    restorer = load_restorer(args.checkpoint, device=device, precision=args.precision)
    written = 0
    if paths:
        finder = None if args.mask else mosaic_finder(args.detector, device=device)
        with progress_bar(len(paths), desc="remove", quiet=args.quiet) as bar:
            result = remove_files(paths, restorer=restorer, out_dir=out_dir, options=options, plan=plan, progress=bar,
                                  finder=finder)
        written += len(result.written)
        _report_images(result, args, restorer)
    not_written = []
    for video in videos:
        done = _remove_video(video, video_plan[video], args, restorer=restorer, options=video_options)
        if done.written:
            written += 1
            print(f"wrote {video_plan[video]} ({plural(done.frames, 'frame')}, {done.frames_with_region} restored "
                  f"with {restorer.name}; synthesized detail, not the original)")
            if done.faces:
                sys.stdout.flush()  # the summary first, then the warning, as for images
                print(f"{video.name}: {FACE_WARNING}", file=sys.stderr)
        else:
            not_written.append(video)
    sys.stdout.flush()
    if not_written:
        what = "no mosaic grid found inside the mask" if args.mask else "no mosaic found"
        names = ", ".join(p.name for p in not_written[:10])
        print(f"{what} in {plural(len(not_written), 'video')}, not written: {names}", file=sys.stderr)
    return 0 if written or not (paths or videos) else NOTHING_DONE  # (a torchrun share may be empty)


def _check_videos(videos, args: argparse.Namespace, *, images: bool):
    """Everything about the videos that can be known wrong before anything is written."""
    from mosaicgan.atomic import check_writable_dir, check_writable_file
    from mosaicgan.errors import UserError
    from mosaicgan.infer.add.video import plan_video_outputs
    from mosaicgan.infer.remove.video import RemoveVideoOptions, check_remove_video

    if args.save_mask:
        raise UserError("--save-mask is for images; videos do not write masks")
    out_dir, plan = plan_video_outputs(videos, args.out, images=images, overwrite=args.overwrite)
    if out_dir == args.out:
        check_writable_dir(args.out)
    else:
        check_writable_file(args.out, flag="--out")
    from mosaicgan.infer.video.steady import TrackingOptions

    tracking = TrackingOptions(steady=not args.no_steady, detect_every=args.detect_every, window=args.window,
                               bridge=args.bridge)
    options = RemoveVideoOptions(grid=args.grid, grow=args.grow, feather=args.feather, tracking=tracking,
                                 tolerance=args.tolerance)
    for video in videos:
        check_remove_video(video, plan[video], options=options, mask=args.mask, encode=_encode(args),
                           start=args.start, duration=args.duration, resume=args.resume)
    return out_dir, plan, options


def _encode(args: argparse.Namespace):
    from mosaicgan.infer.video.io import EncodeOptions

    return EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset)


def _remove_video(video: Path, out: Path, args: argparse.Namespace, *, restorer, options):
    from mosaicgan.infer.remove.video import remove_mosaic_video

    try:
        with progress_bar(0, desc=video.name, quiet=args.quiet, unit="frame") as bar:
            done = remove_mosaic_video(video, out, restorer=restorer, options=options, mask=args.mask,
                                       encode=_encode(args), start=args.start, duration=args.duration,
                                       progress=bar, resume=args.resume)
    except KeyboardInterrupt:
        if args.resume:
            print(f"{video.name}: finished segments are kept; run the same command to continue", file=sys.stderr)
        raise
    for what in done.dropped_streams:
        print(f"{video.name}: the output container cannot hold {what}; left out", file=sys.stderr)
    return done


def _report_images(result, args: argparse.Namespace, restorer) -> None:
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
