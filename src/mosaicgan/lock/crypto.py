"""The one place that imports the `cryptography` package, so that its absence is one line
naming the extra to install, wherever a lock feature is used."""

from __future__ import annotations

from types import ModuleType

from mosaicgan.errors import UserError

INSTALL = "pip install 'mosaicgan[privacy]'"


def need() -> ModuleType:
    """The `cryptography` package, or a UserError saying how to install it."""
    try:
        import cryptography
        from cryptography.hazmat.primitives.asymmetric import x25519  # noqa: F401  (the part we need)
    except ImportError:
        raise UserError(f"locking and unlocking need the 'cryptography' package: {INSTALL}") from None
    return cryptography


def available() -> bool:
    try:
        need()
    except UserError:
        return False
    return True
