"""`mosaicgan export`: a checkpoint's generator (or the restorer) as an ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan import choices


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a generator to ONNX",
                       description="Write the generator of a pix2pix or CycleGAN checkpoint (or a restorer "
                                   "checkpoint's network) as an ONNX file with dynamic batch, height and width. "
                                   "Needs the optional packages of `pip install 'mosaicgan[onnx]'`; with "
                                   "onnxruntime installed the file is checked against PyTorch.")
    p.add_argument("checkpoint", metavar="CKPT", help="a .safetensors checkpoint or a run folder")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="file format (default: onnx)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="the .onnx file to write")
    p.add_argument("--direction", choices=choices.DIRECTIONS, default="AtoB", help="CycleGAN: which generator")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.atomic import check_writable_file
    from mosaicgan.checkpoint import find_checkpoint
    from mosaicgan.errors import UserError, printable
    from mosaicgan.infer.export_onnx import export_onnx

    if args.out.suffix.lower() != ".onnx":
        raise UserError(f"--out {printable(args.out)}: give a file name ending in .onnx")
    check_writable_file(args.out, flag="--out")
    if args.out.exists() and not args.overwrite:
        raise UserError("--out exists (add --overwrite to replace it)", path=args.out)
    ckpt = find_checkpoint(args.checkpoint)
    exported = export_onnx(ckpt, out=args.out, direction=args.direction)
    shape = "x".join(str(d) for d in exported.example.shape)
    print(f"wrote {printable(args.out)} (input {exported.input_name!r}: batch, height and width dynamic)")
    if exported.max_diff is None:
        print("onnxruntime is not installed: parity with PyTorch not checked")
    else:
        print(f"onnxruntime matches PyTorch on a {shape} input: max |difference| {exported.max_diff:.1e}")
    return 0
