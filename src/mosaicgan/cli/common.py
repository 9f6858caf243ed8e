"""Pieces several subcommands share."""

from __future__ import annotations

import argparse

from mosaicgan.errors import NOTHING_DONE  # noqa: F401  (the commands' exit status, re-exported)


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")


def progress_bar(total: int, *, desc: str, quiet: bool = False, unit: str = "img"):
    """tqdm's bar on a terminal; a line every few seconds (done/total, rate, ETA) when stderr is
    not one (nohup, CI), so a long job is not silent (mosaicgan/progress.py)."""
    from mosaicgan.progress import progress_bar as make

    return make(total, desc=desc, quiet=quiet, unit=unit)


def plural(n: int, noun: str) -> str:
    """'1 image', '3 images': the count users read in every summary line."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def add_precision_flag(p: argparse.ArgumentParser, *, default: str = "auto", what: str = "the network") -> None:
    """--precision of an inference command: auto (bf16 where native, else fp32), fp32, bf16, fp16."""
    from mosaicgan.choices import INFER_PRECISIONS

    p.add_argument("--precision", choices=INFER_PRECISIONS, default=default,
                   help=f"arithmetic of {what}: auto (bf16 autocast where the device runs it natively: CPUs with "
                        "AVX512-BF16 or AMX, GPUs from Ampere on; else fp32), fp32, bf16, fp16 (CUDA only); "
                        f"weights stay as stored (default: {default})")


def add_generator_run_flags(p: argparse.ArgumentParser, *, precision: str = "auto") -> None:
    """--precision, --tile, --tile-overlap: how a generator runs (translate: auto; eval: fp32, the
    figures the literature compares)."""
    add_precision_flag(p, default=precision, what="the generator")
    p.add_argument("--tile", default="auto", metavar="N",
                   help="run images larger than N x N pixels in overlapping tiles (N: a multiple of the "
                        "network's size multiple, 256 for unet_256); 0: always whole images; auto: whole "
                        "images while they fit in half the free memory, else the largest tiles that do")
    p.add_argument("--tile-overlap", type=int, default=None, metavar="N",
                   help="pixels shared by neighbouring tiles, blended (default: a quarter of the tile)")


def generator_run_options(args: argparse.Namespace) -> dict:
    """The Translator keyword arguments of the flags of `add_generator_run_flags`."""
    from mosaicgan.errors import UserError

    tile = None
    if args.tile != "auto":
        try:
            tile = int(args.tile)
        except ValueError:
            raise UserError(f"--tile must be auto, 0 or a number of pixels, got {args.tile!r}") from None
    return {"precision": args.precision, "tile": tile, "overlap": args.tile_overlap}


def encode_options(args: argparse.Namespace):
    """The video encoder of the flags of `add_encode_flags`."""
    from mosaicgan.infer.video.encode import EncodeOptions

    return EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset)


def add_encode_flags(p: argparse.ArgumentParser, *, preset: str = "medium",
                     preset_note: str = "") -> argparse._ArgumentGroup:
    """The flags every video command takes (encoder, part of the video, --resume); returns the group."""
    video = p.add_argument_group("videos")
    video.add_argument("--codec", default=None,
                       help="video encoder (default libx264; libvpx-vp9 for .webm; also libx265, libsvtav1, mpeg4)")
    video.add_argument("--crf", type=int, default=18, help="encoder quality, lower is better (default 18)")
    video.add_argument("--preset", default=preset, help=f"x264/x265 speed preset (default {preset}{preset_note})")
    video.add_argument("--start", type=float, default=0.0, metavar="SEC", help="begin at this time (seconds)")
    video.add_argument("--duration", type=float, default=None, metavar="SEC", help="process this many seconds")
    video.add_argument("--resume", action="store_true",
                       help="work in segments of 250 frames kept in .NAME.resume/ beside the output, so that "
                            "rerunning the same command after an interruption continues where it stopped")
    return video
