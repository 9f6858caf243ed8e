"""`mosaicgan examples`: list the generative-modelling examples, or run one into a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from mosaicgan.errors import UserError, printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "examples", help="list or run the small generative-modelling examples",
        description="Without NAME, list the examples (name, then a summary). With NAME, run that "
                    "example and write NAME.png (its figure) and NAME.json (the numbers behind "
                    "it) into --out.")
    p.add_argument("name", nargs="?", metavar="NAME", help="example to run (omit to list them)")
    p.add_argument("--out", type=Path, metavar="DIR", help="folder for the figure and its JSON")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.examples import get_example, list_examples

    if args.name is None:
        if args.out is not None:
            raise UserError("--out needs an example NAME; run 'mosaicgan examples' to list them")
        entries = list_examples()
        width = max(len(e.name) for e in entries)
        for entry in entries:
            print(f"{entry.name:<{width}}  {entry.summary}")
        return 0

    entry = get_example(args.name)
    if args.out is None:
        raise UserError(f"give --out DIR to say where example {entry.name!r} writes its figure")
    from mosaicgan.atomic import check_writable_dir

    check_writable_dir(args.out)
    result = entry.run(out_dir=args.out, seed=args.seed)
    for key, value in result["headline"].items():
        print(f"{entry.name}: {key} = {_format(value)}")
    for path in result["files"].values():
        print(f"wrote {printable(path)}")
    return 0


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_format(v)}" for k, v in value.items())
    return str(value)
