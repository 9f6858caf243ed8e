"""One training process per run folder, and no litter from saves that a kill cut short."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

from mosaicgan.errors import UserError

LOCK_NAME = ".lock"

# Temporary files of the writes training makes (atomic_path: ".NAME.RANDOM.tmp"), and those
# safetensors' writer makes beside a checkpoint (".tmpXXXXXX", Rust's tempfile crate). Only
# training's own names: another command's write in progress (eval's JSON) is left alone.
_TEMPORARY = {
    "": re.compile(r"^\.(config\.toml|log\.jsonl)\.[A-Za-z0-9_]+\.tmp$"),
    "checkpoints": re.compile(r"^\.(resume\.pt|latest\.safetensors|epoch_\d+\.safetensors)\.[A-Za-z0-9_]+\.tmp$"
                              r"|^\.tmp[A-Za-z0-9]{6}$"),
    "samples": re.compile(r"^\.step_\d+\.png\.[A-Za-z0-9_]+\.tmp$"),
    "cache": re.compile(r"^\.[a-z]+-[^/]+\.u8(\.json)?\.[A-Za-z0-9_]+\.tmp$"),
}


class RunLock:
    """An exclusive `flock` on RUN_DIR/.lock for the life of a training process.

    The kernel drops the lock when the process ends however it ends (kill -9 included), so a
    lock file left by a dead run never blocks the next one.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise UserError("no such run folder", path=self.path.parent) from None
        except OSError as err:
            raise UserError(f"cannot write to this run folder ({err.strerror})", path=self.path.parent) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"another mosaicgan process (pid {holder}) is training in this run folder",
                            path=self.path.parent) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete what killed saves left in the run folder; only call it while holding the RunLock."""
    removed = []
    for sub, pattern in _TEMPORARY.items():
        folder = run_dir / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if pattern.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
