"""Atomic file writes: write a temporary file beside the target, then rename over it.

A write that fails for a reason the user can fix (a full disk, a read-only or unwritable
folder, a parent path that is a file) becomes a one-line UserError naming the target.

The temporary file is `.NAME.XXXXXXXX.tmp` beside NAME, and its writer holds an `flock` on it
while it writes: a process killed by SIGKILL (or a machine that lost power) leaves one behind,
and `remove_stale_temporaries` deletes those whose writer is gone (the kernel dropped its
lock), never one that another process (a torchrun peer) is writing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from mosaicgan.errors import UserError

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR)
# Writers that report a failed write(2) in their own words, without the errno: torch.save
# ("unexpected pos", "file write failed") and safetensors ("StorageFull", "No space left").
_WRITE_FAILED = ("unexpected pos", "file write failed", "write failed", "storagefull", "no space left")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_error(err: BaseException, path: Path) -> UserError | None:
    """The one-line error for a failed write of `path`, or None when `err` is not about writing."""
    code = getattr(err, "errno", None)
    if code in NO_SPACE:
        return UserError(f"no space left on device writing {path}")
    if code in NOT_ALLOWED:
        reason = "a parent is a file, not a folder" if code in (errno.ENOTDIR, errno.EEXIST) else err.strerror
        return UserError(f"cannot write to {path} ({reason})")
    text = str(err).lower()
    if isinstance(err, Exception) and any(marker in text for marker in _WRITE_FAILED):
        try:
            full = shutil.disk_usage(path.parent).free < 1 << 20
        except OSError:
            full = False
        if full or "no space" in text or "storagefull" in text:
            return UserError(f"no space left on device writing {path}")
        return UserError(f"cannot write to {path} ({str(err).strip().splitlines()[0]})")
    return None


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn the failures of a write to `path` that `write_error` knows into its UserError."""
    try:
        yield
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001  (re-raised unless it is a known write failure)
        user = write_error(err, Path(path))
        if user is None:
            raise
        raise user from None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path`.

    On any error the temporary file is removed and the old `path` (if any) is untouched,
    so an interrupted save never leaves a truncated checkpoint or image behind.

    A `path` that is a symbolic link is replaced by the new file, as a link: the rename puts
    the file where the link was, and what the link pointed to is never written (callers pass
    the path unresolved; see `infer.outputs`).
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        _lock(fd)
        with writing(path):
            yield Path(tmp)
            # mkstemp creates the file private (0600); give it the permissions a plain open() would.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _lock(fd: int) -> None:
    """Mark a temporary file as being written (see remove_stale_temporaries). On a file system
    without locks, nothing: such a file is never taken for stale."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


# What `atomic_path` names its temporary files: mkstemp's 8 characters between the target's
# name and ".tmp".
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temporaries(folder: str | Path, *, names: Iterable[str] | None = None) -> list[Path]:
    """Delete the temporary files `atomic_path` left in `folder` when its process was killed
    (of the targets `names` only, when given): those nobody holds a lock on. A temporary file
    another process is writing right now is locked, and left alone."""
    folder = Path(folder)
    wanted = None if names is None else set(names)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        found = _TEMPORARY.match(entry.name)
        if found is None or (wanted is not None and found["name"] not in wanted):
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, a link, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live writer holds it
        else:
            if os.path.isfile(entry) and not os.path.islink(entry):
                entry.unlink(missing_ok=True)
                removed.append(entry)
        finally:
            os.close(fd)
    return removed


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (made if missing), or None when they can."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "a parent is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "permission denied"
    return None


def check_writable_dir(path: str | Path, *, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be one or cannot be written.

    (Root passes the permission test everywhere; its writes still fail on a read-only file
    system, and `atomic_path` reports those.)
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} is an existing file, not a folder", path=path)
    reason = _unwritable(path)
    if reason:
        raise UserError(f"cannot write to {path} ({reason})")


def check_writable_file(path: str | Path, *, flag: str) -> None:
    """Refuse an output file path that is a folder or lies where nothing can be written."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} is a folder; give a file name", path=path)
    reason = _unwritable(path.parent)
    if reason:
        raise UserError(f"cannot write to {path} ({reason}; {flag} names another)")
