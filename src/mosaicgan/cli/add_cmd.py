"""`mosaicgan add`: mosaic a region of images or videos (a mask, boxes, faces, or where a class is)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import NOTHING_DONE, add_device_flag, add_encode_flags, plural, progress_bar
from mosaicgan.errors import UserError

# The defaults of --faces (kept here as plain numbers so `--help` needs no torch import;
# infer.region_finder.RegionRequest has the same ones, and a test checks they agree).
FACE_THRESHOLD, FACE_MIN, FACE_GROW = 0.35, 10.0, 0.3
LISTED = 10  # inputs named on stderr; a longer list goes to a file
# --detect-every (video): whole-frame searches at least this often; faces are also searched at cuts
# and pans (infer/add/face_track.py) and followed between. AddVideoOptions has the same default.
DETECT_EVERY = 16


def block_arg(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels or 'auto', got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "add", help="mosaic (pixelate) a region of images",
        description="Mosaic a region of each image and write the result under --out with the same file name "
                    "(inputs are never overwritten). The region comes from one of --mask, --box, --faces or "
                    "--cam. Images where --faces or --cam find nothing are not written, and are listed.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--mask", type=Path, metavar="FILE|DIR",
                       help="mask image (white = region) of the images' size, or a folder of NAME.png / "
                            "NAME_mask.png masks, one per image or video NAME.ext (a video's is used for every "
                            "frame)")
    where.add_argument("--box", action="append", metavar="x,y,w,h",
                       help="a box in pixels: left, top, width, height (repeatable)")
    where.add_argument("--faces", action="store_true",
                       help="every face the shipped CenterFace detector finds, from --min-face pixels up to the "
                            "whole image, each masked over the whole head (see --grow, --face-shape)")
    where.add_argument("--cam", metavar="CLASS",
                       help="where a classifier sees CLASS (name or index; class activation map)")
    p.add_argument("--classifier", type=Path, metavar="CKPT",
                   help="--cam: a checkpoint from `mosaicgan train classifier` (default: shipped ImageNet MobileNetV2)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="--cam: region where the map reaches this fraction of its peak (default 0.5)")
    p.add_argument("--min-prob", type=float, default=0.0,
                   help="--cam: leave out images where the classifier gives CLASS a lower probability "
                        "(default 0: every image gets the region where its class map peaks)")
    p.add_argument("--face-threshold", type=float, default=None, metavar="T",
                   help=f"--faces: detector score a face needs, in (0, 1) (default {FACE_THRESHOLD}; lower finds "
                        "more faces and more false ones)")
    p.add_argument("--min-face", type=float, default=None, metavar="N",
                   help=f"--faces: smallest face searched for, in pixels (default {FACE_MIN:g}; faces under 16 "
                        "are proposed at 16 and confirmed at full scale, and need a score of 0.7)")
    p.add_argument("--face-shape", choices=choices.FACE_SHAPES, default=None,
                   help="--faces: mask each head as an ellipse (default) or a box")
    p.add_argument("--no-mirror", action="store_true",
                   help="--faces: score faces on the image only, not also on its mirror image: half the detector's "
                        "work; on the benchmark photos as many faces found (33/34) and more false mosaics (12 "
                        "instead of 2 on 292 photos)")
    p.add_argument("--style", choices=choices.MOSAIC_STYLES, default="average",
                   help="block mean (default), block median, one random pixel per block, or a Gaussian blur")
    p.add_argument("--block", type=block_arg, default=None, metavar="N|auto",
                   help="block size in pixels, or auto (default): --block-fraction of the region's size")
    p.add_argument("--block-fraction", type=float, default=0.1,
                   help="auto block size = this x the square root of the region's area (default 0.1, "
                        "about 10 blocks across a compact region)")
    p.add_argument("--grow", type=float, default=None, metavar="N|F",
                   help="grow (or, negative, shrink) the region by N pixels (default 0); with --faces, grow each "
                        f"face's box by F times its size on every side (default {FACE_GROW}: hair line to chin, "
                        "ear to ear)")
    p.add_argument("--feather", type=int, default=0, help="soft edge of N pixels outside the region")
    p.add_argument("--seed", type=int, default=0, help="seed of the random style's picks")
    p.add_argument("--save-mask", action="store_true", help="also write NAME_mask.png: the mask as applied")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name already in --out")
    # x264 "faster" rather than "medium": 1.5x less encoding CPU (a third of a 720p crowd's time),
    # 0.13-0.15 dB lower PSNR and 2% smaller files at --crf 18 on the crowd clips (docs/performance.md).
    video = add_encode_flags(p, preset="faster", preset_note="; medium: a little better quality for 1.5x the CPU")
    video.add_argument("--window", type=int, default=4,
                       help="faces/CAM: smooth each region over N frames either side (default 4)")
    video.add_argument("--bridge", type=int, default=4,
                       help="faces/CAM: keep a region N frames before and after it is seen, so up to 2N missed "
                            "frames in a row stay covered (default 4)")
    video.add_argument("--detect-every", type=int, default=DETECT_EVERY, metavar="N",
                       help="faces/CAM: search the whole frame at least 1 frame in N (faces: also at every cut, "
                            "and when a pan or zoom brought in a fifth of the frame); faces are followed in the "
                            "frames between (searched near where the camera's motion took them), a new face is "
                            f"covered from the search before the one that first finds it (default {DETECT_EVERY}, "
                            "1 searches every frame)")
    video.add_argument("--no-follow", action="store_true",
                       help="faces: do not follow faces between whole-frame searches; their boxes are "
                            "interpolated instead (cheaper; a fast face that turns can leave its box)")
    video.add_argument("--follow-every", type=int, default=2, metavar="N",
                       help="faces: follow them in 1 frame of N between whole-frame searches, the steadied "
                            "boxes fill the others (default 2; 1 follows in every frame)")
    video.add_argument("--detect-side", type=int, default=0, metavar="PX",
                       help="faces/CAM: search frames scaled to this long side (default 0: full size; 640 on a "
                            "720p video is about 3x faster but misses faces under about 32 pixels)")
    video.add_argument("--no-steady", action="store_true",
                       help="faces/CAM: each frame's own region, no tracking or smoothing")
    add_device_flag(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.atomic import check_writable_dir, check_writable_file
    from mosaicgan.data.images import expand_inputs
    from mosaicgan.infer.add.files import AddResult, add_mosaic_files, check_inputs
    from mosaicgan.infer.add.video import (AddVideoOptions, add_mosaic_video, check_video, plan_video_outputs,
                                           provenance_tags)
    from mosaicgan.infer.video.io import EncodeOptions, is_media_file
    from mosaicgan.infer.add.core import MosaicOptions
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest, parse_box
    from mosaicgan.device import resolve_device
    from mosaicgan.ranks import rank_device, ranks_from_env, share

    if args.cam is None and args.classifier is not None:
        raise UserError("--classifier goes with --cam CLASS")
    face_flags = {"--face-threshold": args.face_threshold, "--min-face": args.min_face, "--face-shape": args.face_shape,
                  "--no-mirror": args.no_mirror or None}
    for flag, value in face_flags.items():
        if value is not None and not args.faces:
            raise UserError(f"{flag} goes with --faces")
    grow_pixels = 0
    if args.grow is not None and not args.faces:
        if args.grow != int(args.grow):
            raise UserError(f"--grow takes whole pixels here (a fraction of the face size only with --faces), "
                            f"got {args.grow}")
        grow_pixels = int(args.grow)
    options = MosaicOptions(style=args.style, block=args.block, block_fraction=args.block_fraction,
                            grow=grow_pixels, feather=args.feather, seed=args.seed)
    if args.mask is not None:
        request = RegionRequest(kind="mask", mask=args.mask)
    elif args.box:
        request = RegionRequest(kind="boxes", boxes=tuple(parse_box(b) for b in args.box))
    elif args.faces:
        request = RegionRequest(
            kind="faces", face_shape=args.face_shape or "ellipse",
            face_threshold=FACE_THRESHOLD if args.face_threshold is None else args.face_threshold,
            min_face=FACE_MIN if args.min_face is None else args.min_face,
            face_grow=FACE_GROW if args.grow is None else args.grow, face_flip=not args.no_mirror)
    else:
        request = RegionRequest(kind="cam", cam_class=args.cam, classifier=args.classifier, threshold=args.threshold,
                                min_prob=args.min_prob)
    paths = expand_inputs(args.inputs)
    videos = [p for p in paths if is_media_file(p)]
    paths = [p for p in paths if p not in videos]
    ranks = ranks_from_env()  # under torchrun each process takes its share of the images and videos
    finder = RegionFinder(request, device=rank_device(resolve_device(args.device or "auto"), ranks))
    out_dir, video_plan = plan_video_outputs(videos, args.out, images=bool(paths), overwrite=args.overwrite)
    if out_dir == args.out:
        check_writable_dir(args.out)
    else:
        check_writable_file(args.out, flag="--out")
    mine = share(paths, ranks)
    plan = check_inputs(paths, finder=finder, out_dir=out_dir, options=options, save_mask=args.save_mask,
                        overwrite=args.overwrite, mine=set(mine))
    paths, videos = mine, share(videos, ranks)
    encode = EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset)
    from mosaicgan.infer.video.steady import TrackingOptions

    steady = AddVideoOptions(tracking=TrackingOptions(steady=not args.no_steady, window=args.window,
                                                      bridge=args.bridge, detect_every=args.detect_every),
                             detect_side=args.detect_side, follow=not args.no_follow, follow_every=args.follow_every)
    if args.save_mask and videos:
        raise UserError("--save-mask is for images; videos do not write masks")
    for video in videos:
        check_video(video, video_plan[video], finder=finder, options=options, encode=encode, video=steady,
                    start=args.start, duration=args.duration, resume=args.resume)
    result = AddResult()
    if paths:
        with progress_bar(len(paths), desc="add", quiet=args.quiet) as bar:
            result = add_mosaic_files(paths, finder=finder, out_dir=out_dir, options=options,
                                      save_mask=args.save_mask, progress=bar, plan=plan)
        masks = f" and {plural(len(result.masks), 'mask')}" if result.masks else ""
        print(f"wrote {plural(len(result.written), 'image')}{masks} to {out_dir}")
    for video in videos:
        tags = provenance_tags(request=request, options=options, video=steady)
        try:
            with progress_bar(0, desc=video.name, quiet=args.quiet, unit="frame") as bar:
                done = add_mosaic_video(video, video_plan[video], finder=finder, options=options, encode=encode,
                                        video=steady, start=args.start, duration=args.duration, metadata=tags,
                                        progress=bar, resume=args.resume)
        except KeyboardInterrupt:
            if args.resume:
                print(f"{video.name}: finished segments are kept; run the same command to continue", file=sys.stderr)
            raise
        for what in done.dropped_streams:
            print(f"{video.name}: the output container cannot hold {what}; left out", file=sys.stderr)
        if done.written:
            result.written.append(video_plan[video])
            print(f"wrote {video_plan[video]} ({plural(done.frames, 'frame')}, "
                  f"{done.frames_with_region} with a mosaic)")
        else:
            result.no_region.append(video)
    if result.no_region:
        what = "no face" if args.faces else f"no region of {finder.class_label!r}"
        names = ", ".join(p.name for p in result.no_region[:LISTED])
        noun = "file" if videos else "image"
        more = ""
        if len(result.no_region) > LISTED:
            listing = write_listing(out_dir / ("no_face_found.txt" if args.faces else "no_region_found.txt"),
                                    result.no_region)
            more = f" and {len(result.no_region) - LISTED} more (all listed in {listing})"
        print(f"{what} found in {plural(len(result.no_region), noun)}, not written: {names}{more}", file=sys.stderr)
    if result.shrunk_away:
        names = ", ".join(p.name for p in result.shrunk_away[:LISTED])
        more = f" and {len(result.shrunk_away) - LISTED} more" if len(result.shrunk_away) > LISTED else ""
        print(f"--grow {grow_pixels} shrank the region to nothing in {plural(len(result.shrunk_away), 'image')}, "
              f"not written: {names}{more}", file=sys.stderr)
    return 0 if result.written or not (paths or videos) else NOTHING_DONE  # (a torchrun share may be empty)


def write_listing(path: Path, inputs: list[Path]) -> Path:
    """Every input path, one a line, written atomically."""
    from mosaicgan.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{p}\n" for p in inputs))
    return path
