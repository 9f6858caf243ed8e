"""Pieces several subcommands share."""

from __future__ import annotations

import argparse

from tqdm import tqdm

# Exit status of a command that ran without error but found nothing to do (`add --faces` where no
# image has a face): scripts can tell it from success (0), bad input (2) and Ctrl-C (130).
NOTHING_DONE = 3


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")


def progress_bar(total: int, *, desc: str, quiet: bool = False, unit: str = "img") -> tqdm:
    # disable=None: tqdm turns itself off when stderr is not a terminal, so logs stay clean.
    return tqdm(total=total, desc=desc, unit=unit, disable=True if quiet else None, dynamic_ncols=True)


def plural(n: int, noun: str) -> str:
    """'1 image', '3 images': the count users read in every summary line."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
