"""`mosaicgan serve`: the local web page (mosaicgan/web/); this module only parses the flags."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from mosaicgan.web.settings import KEEP_MINUTES, MAX_MEGAPIXELS, MAX_QUEUED, MAX_UPLOAD_MB, MAX_VIDEO_SECONDS

    p = sub.add_parser(
        "serve", help="a local web page for add, remove, upscale and translate",
        description="Serve a web page on this machine for the everyday jobs (add with a review of the faces "
                    "found, remove, upscale, translate). It runs the same jobs as the commands. Needs the web "
                    "extra: pip install 'mosaicgan[web]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this machine only; another address lets anyone "
                        "who reaches it use the server, and a warning says so)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    p.add_argument("--models", type=Path, metavar="DIR",
                   help="a folder of checkpoints (.safetensors) offered to translate and upscale")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="folder for uploads and results; the server works in a folder of its own inside it, "
                        "deleted on exit (default: the system's temporary folder)")
    p.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_MB, metavar="MB",
                   help=f"largest file accepted (default {MAX_UPLOAD_MB})")
    p.add_argument("--max-megapixels", type=float, default=MAX_MEGAPIXELS, metavar="MP",
                   help=f"largest image or video frame (default {MAX_MEGAPIXELS:g})")
    p.add_argument("--max-video-seconds", type=float, default=MAX_VIDEO_SECONDS, metavar="SEC",
                   help=f"longest video (default {MAX_VIDEO_SECONDS:g})")
    p.add_argument("--max-queued", type=int, default=MAX_QUEUED, metavar="N",
                   help=f"jobs that may wait behind the running one (default {MAX_QUEUED})")
    p.add_argument("--keep-minutes", type=float, default=KEEP_MINUTES, metavar="MIN",
                   help=f"delete uploads and results this long after their last use (default {KEEP_MINUTES:g})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.errors import UserError

    try:
        from mosaicgan.web.server import Server, announce
    except ImportError as err:
        raise UserError(f"serve needs the web extra ({err.name} is missing): pip install 'mosaicgan[web]'") from None
    from mosaicgan.web.settings import ServeSettings

    settings = ServeSettings(work=args.work or Path(tempfile.gettempdir()), host=args.host, port=args.port,
                             models=args.models, max_upload_mb=args.max_upload_mb,
                             max_megapixels=args.max_megapixels, max_video_seconds=args.max_video_seconds,
                             max_queued=args.max_queued, keep_minutes=args.keep_minutes)
    server = Server(settings)
    announce(server)
    server.run()
    return 0
