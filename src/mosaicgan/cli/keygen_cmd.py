"""`mosaicgan keygen`: a key pair for `add --lock-to` and `remove --unlock` (docs/privacy.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keygen", help="make a key pair to lock anonymized files to (add --lock-to, remove --unlock)",
        description="Write NAME.key (the private key, readable by you only) and NAME.pub (the public key) into "
                    "--out. `add --lock-to NAME.pub` seals the original pixels of every anonymized region into the "
                    "files it writes; only `remove --unlock NAME.key` puts them back. Keep the private key off the "
                    "machines that anonymize, and keep a copy somewhere safe: if it is lost, the originals in every "
                    "file locked to it are gone for good. Key files are never overwritten.")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for the two key files")
    p.add_argument("--name", default="mosaicgan", help="file name of the keys: NAME.key, NAME.pub (default mosaicgan)")
    p.add_argument("--passphrase", action="store_true",
                   help="encrypt the private key file with a passphrase (asked twice, or taken from "
                        "MOSAICGAN_KEY_PASSPHRASE); --unlock then reads it from that variable")
    p.set_defaults(func=run)


def _passphrase() -> bytes:
    import getpass
    import os

    from mosaicgan.errors import UserError
    from mosaicgan.lock.keys import PASSPHRASE_ENV

    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV].encode("utf-8")
    first = getpass.getpass("passphrase for the private key: ")
    if len(first) < 8:
        raise UserError("--passphrase: give at least 8 characters")
    if getpass.getpass("the same again: ") != first:
        raise UserError("--passphrase: the two passphrases differ; nothing written")
    return first.encode("utf-8")


def run(args: argparse.Namespace) -> int:
    from mosaicgan.lock.keys import generate_key_pair, show_fingerprint

    pair = generate_key_pair(args.out, name=args.name, passphrase=_passphrase() if args.passphrase else None)
    print(f"wrote {pair.private} (private key: unlocks; readable by you only)")
    print(f"wrote {pair.public} (public key: locks; give it to the machines that anonymize)")
    print(f"key {show_fingerprint(pair.fingerprint)}")
    print("keep a copy of the private key somewhere safe: without it the originals cannot be restored")
    return 0
