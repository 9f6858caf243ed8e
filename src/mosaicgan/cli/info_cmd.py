"""`mosaicgan info FILE...`: what a file says about how mosaicgan made it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print the provenance a restored image or video carries",
                       description="Print what an image or video written by `mosaicgan remove` says about itself: the "
                                   "mosaicgan "
                                   "version, the restorer, the regions, and that they are synthesized. A file with "
                                   "no such metadata is said to have none (exit status 1).")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.infer.provenance import format_record, read_provenance, read_video_provenance
    from mosaicgan.infer.video.io import is_media_file

    missing = 0
    for path in args.files:
        record = read_video_provenance(path) if is_media_file(path) else read_provenance(path)
        missing += record is None
        print(format_record(record, path))
    return 1 if missing else 0
