"""`mosaicgan info FILE...`: what a file says about how mosaicgan made it."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print the provenance a restored image or video carries, and whether it is locked",
                       description="Print what an image or video written by `mosaicgan remove` says about itself: the "
                                   "mosaicgan "
                                   "version, the restorer, the regions, and that they are synthesized. A file locked "
                                   "by `add --lock-to` is said to be locked, with the fingerprint of the key that "
                                   "unlocks it (no key needed to see this). A file with neither is said to have none "
                                   "(exit status 1).")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=run)


def lock_line(path: Path, *, video: bool) -> str | None:
    """"locked: ..." for a locked file, None for any other (needs no key, nor the privacy extra)."""
    if video:
        from mosaicgan.infer.lock.video import video_lock_status as status
    else:
        from mosaicgan.infer.lock.still import lock_status as status
    found = status(path)
    if found is None:
        return None
    where = "inside the file" if found["where"] == "inside" else f"in {path.name}.locked beside it"
    if "error" in found:
        return f"  locked payload {where}, unreadable: {found['error']}"
    return (f"  locked: the original pixels of its regions are sealed {where} ({found['bytes']} bytes) to key "
            f"{found['fingerprint']}; `mosaicgan remove --unlock` with that private key puts them back")


def run(args: argparse.Namespace) -> int:
    from mosaicgan.errors import printable
    from mosaicgan.infer.provenance import format_record, read_provenance, read_video_provenance
    from mosaicgan.infer.video.decode import is_media_file

    missing = 0
    for path in args.files:
        video = is_media_file(path)
        record = read_video_provenance(path) if video else read_provenance(path)
        locked = lock_line(path, video=video)
        missing += record is None and locked is None
        if record is not None or locked is None:
            print(format_record(record, path))
        else:
            print(printable(f"{path}: anonymized by mosaicgan add"))
        if locked is not None:
            print(printable(locked))
    return 1 if missing else 0
