"""The `mosaicgan` command. Each subcommand lives in its own module with `register(subparsers)`;
this module only lists them, parses, and turns a UserError into one line and exit status 2."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading

from mosaicgan import __version__
from mosaicgan.errors import NOTHING_DONE, NothingFound, ReportedElsewhere, UserError, one_line, printable


def build_parser() -> argparse.ArgumentParser:
    # Imported here so that `mosaicgan --help` stays quick to reach the parser.
    from mosaicgan.cli import (
        add_cmd,
        demo_cmd,
        eval_cmd,
        examples_cmd,
        export_cmd,
        info_cmd,
        keygen_cmd,
        make_pairs_cmd,
        nets_cmd,
        remove_cmd,
        serve_cmd,
        train_cmd,
        translate_cmd,
        upscale_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="mosaicgan",
        description="GAN image-to-image translation (pix2pix, CycleGAN) and mosaic tools.",
    )
    parser.add_argument("--version", action="version", version=f"mosaicgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (nets_cmd, train_cmd, translate_cmd, upscale_cmd, eval_cmd, export_cmd, add_cmd, remove_cmd, info_cmd,
                   keygen_cmd, make_pairs_cmd, demo_cmd, examples_cmd, serve_cmd):
        module.register(sub)
    return parser


# Comma lists of numbers that start with a minus, e.g. a box partly off the left edge.
# (argparse already takes a single negative number as a value.)
_NUMBER_LIST = re.compile(r"-\d+(\.\d+)?(,-?\d+(\.\d+)?)+")


def attach_negative_values(argv: list[str]) -> list[str]:
    """`--box -5,0,20,20` -> `--box=-5,0,20,20`: argparse would read the value as an option."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _NUMBER_LIST.fullmatch(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


class Terminated(KeyboardInterrupt):
    """SIGTERM (a `kill`, a service manager, a container stopping), raised where the command is,
    as Ctrl-C raises KeyboardInterrupt: the same clean-up runs (temporary files removed, a
    resumable video's finished segments kept), then exit status 143."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    # Training installs its own handlers (a checkpoint first) while it trains; every other
    # command stops on SIGTERM as on Ctrl-C. (Only the main thread may set handlers.)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except Terminated:
        print("mosaicgan: terminated (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except ReportedElsewhere as err:
        return err.status  # another process of this torchrun job printed the line
    except NothingFound as err:
        print(f"mosaicgan: {printable(one_line(err))}", file=sys.stderr)
        return NOTHING_DONE
    except UserError as err:
        print(f"mosaicgan: error: {printable(one_line(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mosaicgan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mosaicgan nets | head`: the reader left; stop quietly, as other Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:
        # A write failure that no writer turned into a UserError (a full disk, a read-only
        # folder): still one line, naming the file when the system told which.
        from mosaicgan.atomic import NO_SPACE, NOT_ALLOWED

        if err.errno not in NO_SPACE + NOT_ALLOWED:
            raise
        where = f"{printable(err.filename)}: " if err.filename else ""
        print(f"mosaicgan: error: {where}{err.strerror}", file=sys.stderr)
        return 2
