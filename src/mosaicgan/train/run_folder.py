"""One training process per run folder, and no litter from saves that a kill cut short."""

from __future__ import annotations

import fcntl
import os
import re
import time
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


# Lock descriptors this process holds. A forked child (a DataLoader worker) would share the
# lock through its copy of the descriptor and keep it after a `kill -9` of the trainer, for
# the seconds the worker takes to notice: children close their copies at once.
_HELD: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)

# How long a start waits for a lock whose recorded holder has died (its children may hold it
# still: processes started by an older version, or by a spawn start method that copies it).
TAKEOVER_SECONDS = 10.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive `flock` on RUN_DIR/.lock for the life of a training process.

    The kernel drops the lock when the process ends however it ends (kill -9 included), so a
    lock file left by a dead run never blocks the next one. Forked children do not keep it
    (see _HELD); where the recorded holder is dead but the lock is still held (by what it
    started), the start waits up to TAKEOVER_SECONDS for it, then says which process is gone.
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
        if not self._take(fd):
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if holder.isdigit() and not _alive(int(holder)):
                raise UserError(f"the training that held this run folder (pid {holder}) has ended, but processes it "
                                f"started still hold its lock after {TAKEOVER_SECONDS:g} s; wait for them to exit "
                                "(or end them) and start again", path=self.path.parent)
            raise UserError(f"another mosaicgan process (pid {holder}) is training in this run folder",
                            path=self.path.parent)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        _HELD.add(fd)

    def _take(self, fd: int) -> bool:
        """The lock, at once; or, while its recorded holder is dead, once its children let go."""
        deadline = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                if not (holder.isdigit() and not _alive(int(holder))):
                    return False  # a live training holds it
                deadline = deadline or time.monotonic() + TAKEOVER_SECONDS
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.1)

    def release(self) -> None:
        if self.fd is not None:
            _HELD.discard(self.fd)
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
