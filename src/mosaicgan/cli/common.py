"""Pieces several subcommands share."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")


def progress_bar(total: int, *, desc: str, quiet: bool = False) -> tqdm:
    return tqdm(total=total, desc=desc, unit="img", disable=quiet or not sys.stderr.isatty() and total < 2,
                dynamic_ncols=True)
