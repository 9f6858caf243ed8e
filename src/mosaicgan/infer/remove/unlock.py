"""`remove --unlock KEY` over image files: the original pixels of the anonymized regions put back
from the payload sealed into each file (`infer/lock/still.py`). Nothing is detected or
synthesized, and no restorer is loaded.

Every input is opened with the key before the first file is written, so a wrong key, another
file's payload, a truncated or altered payload, or a file that is not locked stops the run with
one line naming the file, and an untouched --out. Outputs keep the input's name and format
(lossless), except that a JPEG becomes NAME.png, and say in their metadata that their regions
hold original pixels restored with a key (`mosaicgan info`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.infer.lock.options import UnlockOptions
from mosaicgan.infer.lock.still import unlock_image, unlocked_name, write_unlocked
from mosaicgan.infer.outputs import plan_outputs
from mosaicgan.lock.keys import fingerprint, public_raw, show_fingerprint


@dataclass
class UnlockResult:
    written: list[Path] = field(default_factory=list)
    regions: dict[Path, int] = field(default_factory=dict)  # input -> regions put back
    key: str = ""  # the key's fingerprint


def check_unlock(paths: list[Path], *, out_dir: str | Path, options: UnlockOptions, overwrite: bool = False,
                 mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """The key loads, every image opens with it, outputs neither replace an input nor collide.
    Returns the output plan."""
    key = options.private_key()
    out = Path(out_dir).resolve()
    for path in paths:
        if path.resolve().parent == out:
            raise UserError("--out is the folder this input is in; choose another folder (inputs are never "
                            "overwritten)", path=out_dir)
    plan = plan_outputs(paths, out, names=lambda p: [unlocked_name(p)], overwrite=overwrite, mine=mine)
    for path in paths if mine is None else [p for p in paths if p in mine]:
        unlock_image(path, private_key=key)
    return plan


def unlock_files(paths: list[Path], *, out_dir: str | Path, options: UnlockOptions,
                 plan: dict[Path, list[Path]] | None = None, progress=None) -> UnlockResult:
    """Unlock every image of `paths` into `out_dir` (`plan`: what `check_unlock` returned)."""
    if plan is None:
        plan = check_unlock(paths, out_dir=out_dir, options=options)
    key = options.private_key()
    shown = show_fingerprint(fingerprint(public_raw(key)))
    result = UnlockResult(key=shown)
    for path in paths:
        unlocked = unlock_image(path, private_key=key)
        result.written.append(write_unlocked(unlocked, plan[path][0], fingerprint=shown, source=path.name))
        result.regions[path] = unlocked.patches
        if progress is not None:
            progress.update(1)
    return result
