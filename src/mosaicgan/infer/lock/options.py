"""What --lock-to and --unlock ask for, checked before the first write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SIDECAR_SUFFIX = ".locked"
# Image formats whose files can hold the payload (lock/containers.py); others get a sidecar.
EMBEDS = ("PNG", "JPEG", "WEBP", "TIFF")
# Video containers that can hold it (a `uuid` box, lock/bmff.py); others get a sidecar.
VIDEO_EMBEDS = (".mp4", ".m4v", ".mov")


@dataclass(frozen=True)
class LockOptions:
    """to: the public key file (NAME.pub). sidecar: write the sealed originals beside each
    output as NAME.ext.locked even where the file could hold them (they survive platforms that
    strip metadata that way, as long as the sidecar travels with the file)."""

    to: Path
    sidecar: bool = False

    def recipient(self):
        """The loaded public key (a one-line UserError for a missing, private or foreign key)."""
        from mosaicgan.lock.keys import load_public_key

        return load_public_key(self.to, flag="--lock-to")


@dataclass(frozen=True)
class UnlockOptions:
    """key: the private key file (NAME.key); an encrypted one reads its passphrase from
    MOSAICGAN_KEY_PASSPHRASE."""

    key: Path

    def private_key(self):
        from mosaicgan.lock.keys import load_private_key

        return load_private_key(self.key, flag="--unlock")


def sidecar_path(path: Path) -> Path:
    """Where a file's sidecar lives: beside it, NAME.ext.locked."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def image_embeds(path: Path) -> bool:
    """Whether an image written under this name can hold the payload inside."""
    return Image.registered_extensions().get(path.suffix.lower(), "") in EMBEDS


def video_embeds(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EMBEDS


def needs_sidecar(path: Path, options: LockOptions | None, *, video: bool = False) -> bool:
    if options is None:
        return False
    return options.sidecar or not (video_embeds(path) if video else image_embeds(path))


def with_sidecar_names(names, options: LockOptions | None, *, video: bool = False):
    """An output plan's `names(input)` plus NAME.ext.locked where the output gets a sidecar, so
    the plan checks it like every output (never replaces an input, nor an existing file unasked)."""
    if options is None:
        return names

    def planned(path: Path) -> list[str]:
        outs = names(path)
        first = Path(outs[0])
        return outs + ([first.name + SIDECAR_SUFFIX] if needs_sidecar(first, options, video=video) else [])

    return planned

