"""`mosaicgan add`: mosaic a region of images or videos (a mask, boxes, faces, or where a class is)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag, add_encode_flags, encode_options, plural
from mosaicgan.errors import UserError, printable

# The defaults of --faces (kept here as plain numbers so `--help` needs no torch import;
# infer.region_finder.RegionRequest has the same ones, and a test checks they agree).
FACE_THRESHOLD, FACE_MIN, FACE_GROW = 0.35, 10.0, 0.3
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
    p.add_argument("--style", choices=choices.COVER_STYLES, default="average",
                   help="block mean (default), block median, one random pixel per block, a Gaussian blur, or a "
                        "cover that keeps nothing of the region: solid (an opaque fill) or noise (random colours); "
                        "recognition models can see through mosaics and blur, not through solid or noise "
                        "(docs/privacy.md)")
    p.add_argument("--block", type=block_arg, default=None, metavar="N|auto",
                   help="block size in pixels, or auto (default): --block-fraction of the region's size; with "
                        "--faces also at most 8 blocks across a face")
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
    chosen = p.add_argument_group("choose regions (any of --mask, --box, --faces, --cam)")
    chosen.add_argument("--keep", action="append", metavar="x,y,w,h",
                        help="an area never changed, whatever grows into it; a face mostly inside it is left whole "
                             "(repeatable)")
    chosen.add_argument("--keep-track", action="append", metavar="ID",
                        help="videos: leave this track uncovered (its id from --report; the same settings give the "
                             "same ids; repeatable)")
    chosen.add_argument("--also", action="append", metavar="x,y,w,h[@START-END]",
                        help="also cover this box, e.g. a face the detector missed; in videos from frame START to "
                             "END (from 0, both included; START- to the end; an image is frame 0; repeatable)")
    private = p.add_argument_group("privacy (docs/privacy.md)")
    private.add_argument("--lock-to", type=Path, metavar="KEY.pub",
                         help="seal the original pixels of every covered region, losslessly, into each output "
                              "(or NAME.ext.locked beside it), encrypted to this public key (`mosaicgan keygen`); "
                              "only `remove --unlock KEY.key` puts them back")
    private.add_argument("--lock-sidecar", action="store_true",
                         help="--lock-to: always in NAME.ext.locked beside the output, not inside it")
    private.add_argument("--report", type=Path, metavar="FILE.json",
                         help="write what was found and done: every region (box, score, landmarks, area), per video "
                              "the tracks and every frame's boxes, the options and models")
    private.add_argument("--report-sheet", type=Path, metavar="FILE.png|.html",
                         help="a contact sheet of every face and track found, taken from the inputs: as sensitive "
                              "as the inputs")
    private.add_argument("--sheet-with-lock", action="store_true",
                         help="write --report-sheet beside --lock-to too (it shows the faces the lock seals)")
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
                            "and where a pan or zoom brings in new picture); faces are followed in the frames "
                            "between (searched near where the camera's motion took them), a new face is "
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


def options_from_args(args: argparse.Namespace):
    """The flags of `mosaicgan add` as `jobs.AddOptions`."""
    from mosaicgan import jobs
    from mosaicgan.infer.add.chosen import parse_also, parse_track, parse_xywh
    from mosaicgan.infer.add.regions import parse_box

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
    mosaic = jobs.MosaicOptions(style=args.style, block=args.block, block_fraction=args.block_fraction,
                                grow=grow_pixels, feather=args.feather, seed=args.seed)
    chosen = {"keep": tuple(parse_xywh(k, flag="--keep") for k in args.keep or ()),
              "also": tuple(parse_also(a) for a in args.also or ()),
              "keep_tracks": tuple(parse_track(k) for k in args.keep_track or ())}
    if args.lock_sidecar and args.lock_to is None:
        raise UserError("--lock-sidecar goes with --lock-to KEY.pub")
    if args.sheet_with_lock and args.report_sheet is None:
        raise UserError("--sheet-with-lock goes with --report-sheet")
    if args.mask is not None:
        region = jobs.RegionRequest(kind="mask", mask=args.mask, **chosen)
    elif args.box:
        region = jobs.RegionRequest(kind="boxes", boxes=tuple(parse_box(b) for b in args.box), **chosen)
    elif args.faces:
        region = jobs.RegionRequest(
            kind="faces", face_shape=args.face_shape or "ellipse",
            face_threshold=FACE_THRESHOLD if args.face_threshold is None else args.face_threshold,
            min_face=FACE_MIN if args.min_face is None else args.min_face,
            face_grow=FACE_GROW if args.grow is None else args.grow, face_flip=not args.no_mirror, **chosen)
    else:
        region = jobs.RegionRequest(kind="cam", cam_class=args.cam, classifier=args.classifier,
                                    threshold=args.threshold, min_prob=args.min_prob, **chosen)
    tracking = jobs.TrackingOptions(steady=not args.no_steady, window=args.window, bridge=args.bridge,
                                    detect_every=args.detect_every)
    video = jobs.AddVideoOptions(tracking=tracking, detect_side=args.detect_side, follow=not args.no_follow,
                                 follow_every=args.follow_every)
    return jobs.AddOptions(region=region, mosaic=mosaic, video=video, encode=encode_options(args), start=args.start,
                           duration=args.duration, resume=args.resume, save_mask=args.save_mask,
                           overwrite=args.overwrite, device=args.device or "auto", lock=lock_options(args),
                           report=args.report, report_sheet=args.report_sheet, sheet_with_lock=args.sheet_with_lock)


def lock_options(args: argparse.Namespace):
    if args.lock_to is None:
        return None
    from mosaicgan.infer.lock.options import LockOptions

    return LockOptions(args.lock_to, sidecar=args.lock_sidecar)


def say_locked(result, args: argparse.Namespace) -> None:
    """Where the originals went with --lock-to, and the report files."""
    locked = [item for item in result.items if item.written and item.locked]
    if locked:
        from mosaicgan.infer.lock.options import LockOptions
        from mosaicgan.lock.keys import fingerprint, public_raw, show_fingerprint

        key = show_fingerprint(fingerprint(public_raw(LockOptions(args.lock_to).recipient())))
        sidecars = sum(1 for item in locked if item.locked.get("sidecar"))
        where = "inside each file" if not sidecars else (
            "in NAME.ext.locked beside each file" if sidecars == len(locked) else
            f"inside the files, and in NAME.ext.locked beside {plural(sidecars, 'file')} whose format has no place")
        print(f"sealed the original pixels of the regions of {plural(len(locked), 'file')} to key {key}, {where}; "
              f"`mosaicgan remove --unlock KEY.key` puts them back")
    if args.report is not None:
        print(f"wrote the report {printable(args.report)}")
    if args.report_sheet is not None:
        print(f"wrote the contact sheet {printable(args.report_sheet)} "
              "(thumbnails of the faces found: keep it private)")


def run(args: argparse.Namespace) -> int:
    from mosaicgan import jobs
    from mosaicgan.cli.render import LISTED, ProgressBars, dropped_streams, names, say_resumable, write_listing

    options = options_from_args(args)
    with ProgressBars(desc="add", quiet=args.quiet) as bars:
        try:
            result = jobs.add(args.inputs, out=args.out, options=options, progress=bars)
        except KeyboardInterrupt:
            bars.close()
            if args.resume:
                say_resumable(bars)
            raise
    if not result.primary:
        return result.exit_status  # under torchrun, rank 0 reports
    images = [item for item in result.items if item.kind == "image"]
    if images:
        written = [item for item in images if item.written]
        masks = sum(len(item.outputs) - 1 for item in written)
        also = f" and {plural(masks, 'mask')}" if masks else ""
        print(f"wrote {plural(len(written), 'image')}{also} to {printable(result.out_dir)}")
    dropped_streams(result)
    for item in result.items:
        if item.kind == "video" and item.written:
            print(f"wrote {printable(item.outputs[0])} ({plural(item.frames, 'frame')}, "
                  f"{item.frames_with_region} with a mosaic)")
    say_locked(result, args)
    missed = [item.input for item in result.with_status(jobs.NOTHING_FOUND)]
    if missed:
        what = "no face" if args.faces else f"no region of {result.info.get('class_label')!r}"
        noun = "file" if any(item.kind == "video" for item in result.items) else "image"
        more = ""
        if len(missed) > LISTED:
            listing = write_listing(result.out_dir / ("no_face_found.txt" if args.faces else "no_region_found.txt"),
                                    missed)
            more = f" and {len(missed) - LISTED} more (all listed in {printable(listing)})"
        listed = ", ".join(printable(p.name) for p in missed[:LISTED])
        print(f"{what} found in {plural(len(missed), noun)}, not written: {listed}{more}", file=sys.stderr)
    shrunk = [item.input for item in result.with_status(jobs.SHRUNK_AWAY)]
    if shrunk:
        print(f"--grow {options.mosaic.grow} shrank the region to nothing in {plural(len(shrunk), 'image')}, "
              f"not written: {names(shrunk)}", file=sys.stderr)
    return result.exit_status
