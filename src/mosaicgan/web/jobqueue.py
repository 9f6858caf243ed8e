"""One job at a time per process (the CPU is the limit), the others wait in order.

A job is a callable `run(progress, cancelled) -> result`: it reports progress through
`progress(done, total, unit)` and polls `cancelled()` (the job layer's `cancel` hook: between
images and at every frame), raising on its own when told to stop. Cancelling a waiting job
removes it at once; cancelling the running one sets its flag, and the worker moves on to the
next job as soon as the running one sees it (at the next frame).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mosaicgan.errors import UserError, one_line
from mosaicgan.web.store import new_id

STATES = ("queued", "running", "done", "failed", "cancelled")


class QueueFull(UserError):
    pass


class Cancelled(Exception):
    """Raised by a job that saw its cancel flag (the job layer raises its own; both end a job as cancelled)."""


@dataclass
class Job:
    """What the jobs list shows. `done`/`total` count `unit`s (images or frames) of the whole
    job; `rate` is units per second since the job started running."""

    kind: str
    title: str
    run: Callable[[Callable[..., None], Callable[[], bool]], Any] = field(repr=False)
    inputs: tuple[str, ...] = ()
    id: str = field(default_factory=new_id)
    state: str = "queued"
    done: int = 0
    total: int | None = None
    unit: str = "image"
    error: str | None = None
    result: Any = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, done: int, total: int | None = None, unit: str | None = None) -> None:
        self.done, self.total = done, total
        if unit:
            self.unit = unit

    def public(self) -> dict[str, Any]:
        elapsed = (self.finished or time.time()) - self.started if self.started else 0.0
        rate = self.done / elapsed if elapsed > 0 and self.done else None
        eta = (self.total - self.done) / rate if rate and self.total and self.state == "running" else None
        return {"id": self.id, "kind": self.kind, "title": self.title, "state": self.state, "done": self.done,
                "total": self.total, "unit": self.unit, "error": self.error, "seconds": round(elapsed, 2),
                "rate": None if rate is None else round(rate, 3), "eta": None if eta is None else round(eta, 1),
                "cancelling": self.cancel_event.is_set() and self.state == "running"}


class JobQueue:
    """The worker thread and the jobs it has seen (kept until the server forgets them)."""

    def __init__(self, *, max_queued: int, on_finish: Callable[[Job], None] | None = None,
                 scrub: Callable[[str], str] = str) -> None:
        self.max_queued = max_queued
        self.on_finish = on_finish
        self.scrub = scrub  # a failed job's message as the page shows it
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[Job] = deque()
        self.current: Job | None = None
        self.cond = threading.Condition()
        self.closing = False
        self.worker = threading.Thread(target=self._work, name="mosaicgan-jobs", daemon=True)
        self.worker.start()

    def submit(self, job: Job) -> Job:
        with self.cond:
            if self.closing:
                raise UserError("the server is shutting down")
            if len(self.waiting) >= self.max_queued and self.current is not None:
                raise QueueFull(f"{len(self.waiting)} jobs are already waiting (the limit, --max-queued); "
                                "wait for one to finish or cancel one")
            self.jobs[job.id] = job
            self.waiting.append(job)
            self.cond.notify_all()
        return job

    def get(self, job_id: str) -> Job:
        with self.cond:
            job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def list(self) -> list[Job]:
        with self.cond:
            return sorted(self.jobs.values(), key=lambda j: j.created)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        with self.cond:
            job.cancel_event.set()
            if job in self.waiting:
                self.waiting.remove(job)
                self._end(job, "cancelled")
        return job

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the list (its files expire with the work folder's entry)."""
        with self.cond:
            job = self.jobs.get(job_id)
            if job is not None and job.state in ("done", "failed", "cancelled"):
                del self.jobs[job_id]

    def busy_inputs(self) -> set[str]:
        """Upload ids that a waiting or running job will read (not to be expired)."""
        with self.cond:
            jobs = list(self.waiting) + ([self.current] if self.current else [])
            return {i for job in jobs for i in job.inputs} | {job.id for job in jobs}

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing runs or waits (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.current is not None or self.waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Cancel everything, let the running job stop at its next frame."""
        with self.cond:
            self.closing = True
            for job in list(self.waiting):
                job.cancel_event.set()
                self._end(job, "cancelled")
            self.waiting.clear()
            if self.current is not None:
                self.current.cancel_event.set()
            self.cond.notify_all()
        self.worker.join(timeout)

    def _end(self, job: Job, state: str, *, error: str | None = None) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        if self.on_finish is not None:
            self.on_finish(job)
        self.cond.notify_all()

    def _work(self) -> None:
        while True:
            with self.cond:
                while not self.waiting and not self.closing:
                    self.cond.wait()
                if self.closing:
                    return
                job = self.current = self.waiting.popleft()
                job.state, job.started = "running", time.time()
            state, error = "done", None
            try:
                job.result = job.run(job.progress, job.cancel_event.is_set)
            except Exception as err:  # noqa: BLE001  (a job's failure is shown, the worker goes on)
                if job.cancel_event.is_set():  # the job layer's Cancelled, or what stopping left behind
                    state = "cancelled"
                elif isinstance(err, UserError):
                    state, error = "failed", self.scrub(one_line(err))
                else:
                    traceback.print_exc()
                    state, error = "failed", self.scrub(f"internal error: {type(err).__name__}: {one_line(err)}")
            with self.cond:
                self.current = None
                self._end(job, state, error=error)
