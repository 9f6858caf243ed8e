"""The work folder: every file the server writes lives in its own session folder under --work
(uploads/ID/NAME, jobs/ID/out/...), which is deleted on shutdown, and each upload or job
folder once it has not been used for `keep_seconds`.

No request names a path: requests carry random ids (checked against `ID_PATTERN`) and
file names that may not hold a path (`check_name`); every path handed out is resolved and
must lie inside the session folder with no symbolic link on the way (`inside`), so a link
planted in the folder, `..`, or an absolute name can neither read nor write elsewhere.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

from mosaicgan.errors import UserError

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
MAX_NAME_BYTES = 200
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


class OutsideWork(UserError):
    """A path that would lie outside the session folder (or pass a symbolic link)."""


def new_id() -> str:
    return secrets.token_hex(16)


def check_id(value: str, *, what: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise UserError(f"not a valid {what}: {str(value)[:40]!r}")
    return value


def check_name(name: str) -> str:
    """A file name as sent by the browser, refused unless it is one plain name (no folder,
    no `..`, not hidden, no control characters)."""
    if not name or name in (".", "..") or name.startswith(".") or _BAD_NAME.search(name) or ".." in name:
        raise UserError(f"file name refused: {name[:80]!r} (a plain file name, without a folder or '..')")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise UserError(f"file name longer than {MAX_NAME_BYTES} bytes: {name[:40]!r}...")
    return name


class WorkStore:
    """The session folder and the age of what is in it."""

    def __init__(self, work: Path, *, keep_seconds: float) -> None:
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        # A folder of its own, so that shutting down deletes only what this server wrote.
        self.root = Path(tempfile.mkdtemp(prefix="mosaicgan-serve-", dir=work)).resolve()
        for part in ("uploads", "jobs"):
            (self.root / part).mkdir()
        self.keep_seconds = keep_seconds
        self.used: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def folder(self, part: str, entry_id: str, *, create: bool = False) -> Path:
        """uploads/ID or jobs/ID; a fresh folder with `create` (the id is new)."""
        if part not in ("uploads", "jobs"):
            raise ValueError(part)
        path = self.root / part / check_id(entry_id)
        if create:
            path.mkdir(mode=0o700)
        self.touch(part, entry_id)
        return self.inside(path)

    def touch(self, part: str, entry_id: str) -> None:
        with self.lock:
            self.used[(part, entry_id)] = time.monotonic()

    def inside(self, path: Path) -> Path:
        """`path` if it lies inside the session folder with no symbolic link on the way there;
        OutsideWork otherwise."""
        path = Path(os.path.abspath(path))
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            raise OutsideWork("refused: a path outside the work folder") from None
        current = self.root
        for part in relative.parts:
            if part in ("..", "."):
                raise OutsideWork("refused: a path outside the work folder")
            current = current / part
            if current.is_symlink():
                raise OutsideWork("refused: a symbolic link in the work folder")
        return path

    def create_file(self, folder: Path, name: str) -> tuple[Path, int]:
        """A new file NAME in `folder` (inside the session), opened for writing: (path, fd).
        O_EXCL | O_NOFOLLOW: never an existing file, never through a link."""
        path = self.inside(folder / check_name(name))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        return path, fd

    def scrub(self, text: str) -> str:
        """A message as the page shows it: the session folder's paths cut down to the file
        names the user gave (uploads/ID/face.jpg -> face.jpg), no server path."""
        root = re.escape(str(self.root))
        text = re.sub(root + r"/(uploads|jobs)/[0-9a-f]{32}/(out/|views/)?", "", text)
        return text.replace(str(self.root), "(work folder)")

    def remove(self, part: str, entry_id: str) -> None:
        with self.lock:
            self.used.pop((part, entry_id), None)
        shutil.rmtree(self.root / part / check_id(entry_id), ignore_errors=True)

    def expired(self, *, busy: set[tuple[str, str]] = frozenset(), now: float | None = None) -> list[tuple[str, str]]:
        """Entries unused for longer than `keep_seconds`, except `busy` ones (a job's inputs)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            return [key for key, used in self.used.items() if now - used > self.keep_seconds and key not in busy]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
