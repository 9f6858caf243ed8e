"""What `mosaicgan serve` serves and its limits, from the flags (cli/serve_cmd.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mosaicgan.errors import UserError

# Defaults of the limits (the flags of `serve`). A request beyond one gets a one-line refusal
# in the page and leaves nothing in the work folder.
MAX_UPLOAD_MB = 1024  # one file
MAX_MEGAPIXELS = 50.0  # one image or video frame (a 50 MP phone photo passes; PIL's own limit is 89.5)
MAX_VIDEO_SECONDS = 600.0
MAX_QUEUED = 8  # jobs waiting behind the running one
KEEP_MINUTES = 60.0  # uploads and results are deleted this long after their last use


@dataclass(frozen=True)
class ServeSettings:
    """host, port: the served address (port 0: any free port, tests). models: a folder of
    checkpoints offered to translate and upscale (None: only the shipped models). work: the
    folder under which the server keeps its own session folder (uploads and results)."""

    work: Path
    host: str = "127.0.0.1"
    port: int = 8765
    models: Path | None = None
    max_upload_mb: float = MAX_UPLOAD_MB
    max_megapixels: float = MAX_MEGAPIXELS
    max_video_seconds: float = MAX_VIDEO_SECONDS
    max_queued: int = MAX_QUEUED
    keep_minutes: float = KEEP_MINUTES

    def check(self) -> None:
        if not 0 <= self.port < 65536:
            raise UserError(f"--port must lie in 0..65535, got {self.port}")
        for flag, value in (("--max-upload-mb", self.max_upload_mb), ("--max-megapixels", self.max_megapixels),
                            ("--max-video-seconds", self.max_video_seconds), ("--keep-minutes", self.keep_minutes)):
            if not value > 0:
                raise UserError(f"{flag} must be positive, got {value}")
        if self.max_queued < 0:
            raise UserError(f"--max-queued must be >= 0, got {self.max_queued}")
        if self.models is not None and not self.models.is_dir():
            raise UserError("no such folder", path=self.models)
        if self.work.exists() and not self.work.is_dir():
            raise UserError("--work must be a folder", path=self.work)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and the name localhost: reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
