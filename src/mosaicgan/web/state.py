"""The server's state: its settings, the work folder, the uploads it holds and the job queue."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.web.jobqueue import Job, JobQueue
from mosaicgan.web.settings import ServeSettings
from mosaicgan.web.store import WorkStore, check_id, new_id


@dataclass
class Upload:
    id: str
    name: str
    path: Path
    info: dict

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, **self.info}


@dataclass
class Output:
    """One file a job wrote, as the page lists it."""

    name: str
    path: Path
    kind: str  # image | video | mask
    input: str | None = None  # the upload it came from
    regions: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # a video's tracks (tasks._track_view)

    def public(self, index: int) -> dict:
        return {"index": index, "name": self.name, "kind": self.kind, "input": self.input,
                "regions": self.regions, "notes": self.notes, **self.extra}


class WebState:
    def __init__(self, settings: ServeSettings) -> None:
        settings.check()
        self.settings = settings
        self.store = WorkStore(settings.work, keep_seconds=settings.keep_minutes * 60)
        self.uploads: dict[str, Upload] = {}
        self.queue = JobQueue(max_queued=settings.max_queued, scrub=self.store.scrub)
        # One inspection (face or mosaic finding for the review) at a time; an upload's cached
        # result is then read by every later request.
        self.inspect_lock = threading.Lock()
        self.stop = threading.Event()
        self.sweeper = threading.Thread(target=self._sweep_loop, name="mosaicgan-sweep", daemon=True)
        self.sweeper.start()

    def upload(self, upload_id: str) -> Upload:
        upload = self.uploads.get(check_id(upload_id, what="upload id"))
        if upload is None:
            raise KeyError(upload_id)
        self.store.touch("uploads", upload.id)
        return upload

    def job(self, job_id: str) -> Job:
        job = self.queue.get(check_id(job_id, what="job id"))
        self.store.touch("jobs", job.id)
        return job

    def job_folder(self) -> tuple[str, Path]:
        job_id = new_id()
        return job_id, self.store.folder("jobs", job_id, create=True)

    def outputs(self, job: Job) -> list[Output]:
        if job.state != "done" or not isinstance(job.result, dict):
            raise UserError(f"job {job.id[:8]} has no outputs ({job.state})")
        return job.result["outputs"]

    def sweep(self, *, now: float | None = None) -> list[tuple[str, str]]:
        """Delete uploads and job folders unused for longer than --keep-minutes (not those a
        waiting or running job reads)."""
        busy = self.queue.busy_inputs()
        gone = self.store.expired(busy={("uploads", i) for i in busy} | {("jobs", i) for i in busy}, now=now)
        for part, entry_id in gone:
            if part == "uploads":
                self.uploads.pop(entry_id, None)
            else:
                self.queue.forget(entry_id)
            self.store.remove(part, entry_id)
        return gone

    def _sweep_loop(self) -> None:
        period = min(60.0, max(1.0, self.store.keep_seconds / 4))
        while not self.stop.wait(period):
            self.sweep()

    def close(self) -> None:
        """Cancel the jobs, delete the session folder."""
        self.stop.set()
        self.queue.close()
        self.store.close()

    def remove_upload(self, upload_id: str) -> None:
        upload = self.upload(upload_id)
        if upload.id in self.queue.busy_inputs():
            raise UserError(f"{upload.name} is the input of a waiting or running job")
        self.uploads.pop(upload.id, None)
        self.store.remove("uploads", upload.id)

