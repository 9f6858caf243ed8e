"""The server's job queue: one job at a time, in order; cancel; failures shown in one line."""

from __future__ import annotations

import threading

import pytest

from mosaicgan.errors import UserError
from mosaicgan.web.jobqueue import Cancelled, Job, JobQueue, QueueFull


def stoppable(started: threading.Event | None = None, *, log: list | None = None, name: str = ""):
    """A job that works in steps until cancelled (as the job layer polls `cancel` per frame)."""
    def run(progress, cancelled):
        if log is not None:
            log.append(("start", name))
        if started is not None:
            started.set()
        step = 0
        while not cancelled():
            step += 1
            progress(step, None, "frame")
            threading.Event().wait(0.005)
        raise Cancelled
    return run


def quick(log: list, name: str, value=None):
    def run(progress, cancelled):
        log.append(("start", name))
        progress(1, 1, "image")
        log.append(("end", name))
        return value
    return run


def test_jobs_run_one_at_a_time_in_order_and_cancel_frees_the_worker():
    queue = JobQueue(max_queued=5)
    log: list = []
    started = threading.Event()
    first = queue.submit(Job(kind="add", title="long", run=stoppable(started, log=log, name="long")))
    second = queue.submit(Job(kind="add", title="a", run=quick(log, "a", value={"outputs": []})))
    third = queue.submit(Job(kind="add", title="b", run=quick(log, "b")))
    assert started.wait(10)
    assert (first.state, second.state, third.state) == ("running", "queued", "queued")
    queue.cancel(third.id)  # a waiting job goes at once, never runs
    assert third.state == "cancelled"
    queue.cancel(first.id)  # the running one stops at its next step; the worker moves on
    assert queue.wait_idle(10)
    assert (first.state, second.state, third.state) == ("cancelled", "done", "cancelled")
    assert log == [("start", "long"), ("start", "a"), ("end", "a")]
    assert second.result == {"outputs": []} and second.public()["done"] == 1
    queue.close()


def test_a_failed_job_shows_one_line_and_the_next_runs():
    queue = JobQueue(max_queued=5, scrub=lambda text: text.replace("/secret/work/", ""))
    log: list = []

    def bad_input(progress, cancelled):
        raise UserError("cannot decode image", path="/secret/work/face.jpg")

    def bug(progress, cancelled):
        raise ZeroDivisionError("division by zero")

    jobs = [queue.submit(Job(kind="add", title=t, run=r)) for t, r in
            (("bad", bad_input), ("bug", bug), ("ok", quick(log, "ok")))]
    assert queue.wait_idle(10)
    assert [j.state for j in jobs] == ["failed", "failed", "done"]
    assert jobs[0].error == "face.jpg: cannot decode image"
    assert jobs[1].error == "internal error: ZeroDivisionError: division by zero"
    queue.close()


def test_the_queue_refuses_jobs_beyond_its_limit():
    queue = JobQueue(max_queued=1)
    started = threading.Event()
    running = queue.submit(Job(kind="add", title="long", run=stoppable(started)))
    assert started.wait(10)
    queue.submit(Job(kind="add", title="waits", run=quick([], "w")))
    with pytest.raises(QueueFull, match="1 jobs are already waiting"):
        queue.submit(Job(kind="add", title="refused", run=quick([], "r")))
    assert len(queue.list()) == 2
    queue.close()
    assert running.state == "cancelled"


def test_progress_rate_and_eta_while_running():
    queue = JobQueue(max_queued=1)
    gate, seen = threading.Event(), threading.Event()
    snapshot = {}

    def run(progress, cancelled):
        progress(5, 20, "frame")
        threading.Event().wait(0.05)
        snapshot.update(job.public())
        seen.set()
        gate.wait(10)

    job = queue.submit(Job(kind="add", title="p", run=run))
    assert seen.wait(10)
    assert snapshot["done"] == 5 and snapshot["total"] == 20 and snapshot["unit"] == "frame"
    # The ETA is rounded to 0.1 s.
    assert snapshot["rate"] > 0 and snapshot["eta"] == pytest.approx(15 / snapshot["rate"], abs=0.06)
    gate.set()
    assert queue.wait_idle(10) and job.state == "done"
    queue.close()


def test_close_cancels_waiting_and_running_jobs():
    queue = JobQueue(max_queued=3)
    started = threading.Event()
    running = queue.submit(Job(kind="add", title="long", run=stoppable(started)))
    waiting = queue.submit(Job(kind="add", title="w", run=quick([], "w")))
    assert started.wait(10)
    queue.close()
    assert (running.state, waiting.state) == ("cancelled", "cancelled")
    with pytest.raises(UserError, match="shutting down"):
        queue.submit(Job(kind="add", title="late", run=quick([], "late")))
