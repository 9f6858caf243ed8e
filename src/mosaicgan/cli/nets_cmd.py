"""`mosaicgan nets`: every registered network with its trainable parameter count."""

from __future__ import annotations

import argparse

from mosaicgan.choices import NET_KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nets", help="list the registered networks and their parameter counts",
                       description="List every registered network (name, trainable parameters for the "
                                   "default 3-channel setting, kind, summary).")
    p.add_argument("--kind", choices=NET_KINDS, help="only this kind")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.nets import count_parameters, get_net, list_nets

    for entry in list_nets(args.kind):
        params = count_parameters(get_net(entry.name, **entry.defaults))
        note = ""
        if entry.kind == "discriminator":
            # pix2pix's conditional D sees input and output stacked: 6 channels, batch norm.
            cond = count_parameters(get_net(entry.name, in_channels=6, norm="batch"))
            note = f" [as pix2pix D, 6-ch batch norm: {cond:,}]"
        print(f"{entry.name:<16} {params:>12,}  {entry.kind:<13} {entry.summary}{note}")
    return 0
