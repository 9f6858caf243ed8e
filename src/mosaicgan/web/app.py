"""The HTTP routes of `mosaicgan serve` (FastAPI) and the static page.

Every route only checks its input, reads what the work folder holds, or hands a job to the
queue (tasks.py turns the page's request into a `mosaicgan.jobs` call): no route runs a job.
Errors are JSON `{"error": "one line"}`: 400 bad input, 403 refused (guard.py, a path outside
the work folder), 404 unknown id, 413 over a limit, 429 the queue is full.
"""

from __future__ import annotations

import importlib.resources
import os
import zipfile
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response

from mosaicgan import __version__
from mosaicgan.errors import UserError, one_line
from mosaicgan.web import inspect
from mosaicgan.web.guard import GuardMiddleware, allowed_hosts
from mosaicgan.web.jobqueue import Job, QueueFull
from mosaicgan.web.settings import ServeSettings
from mosaicgan.web.state import Upload, WebState
from mosaicgan.web.store import OutsideWork, check_name, new_id

STATIC = {"index.html": "text/html", "app.js": "text/javascript", "review.js": "text/javascript",
          "style.css": "text/css"}
CHUNK = 1 << 20


class TooLarge(UserError):
    pass


def static_file(name: str) -> bytes:
    return (importlib.resources.files("mosaicgan.web") / "static" / name).read_bytes()


def create_app(settings: ServeSettings, *, state: WebState | None = None) -> FastAPI:
    """The app for `settings` (its host and port are what Host and Origin must name)."""
    state = state or WebState(settings)
    app = FastAPI(title="mosaicgan", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = state
    app.add_middleware(GuardMiddleware, hosts=allowed_hosts(settings.host, settings.port))

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers={"cache-control": "no-store"})

    @app.exception_handler(UserError)
    async def user_error(request: Request, err: UserError) -> JSONResponse:
        status = 403 if isinstance(err, OutsideWork) else 413 if isinstance(err, TooLarge) else \
            429 if isinstance(err, QueueFull) else 400
        return error(status, state.store.scrub(one_line(err)))

    @app.exception_handler(KeyError)
    async def unknown(request: Request, err: KeyError) -> JSONResponse:
        return error(404, f"no such upload or job: {str(err.args[0])[:40] if err.args else ''}")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(400, f"bad request: {where}: {first.get('msg', 'invalid')}")

    # The page: one HTML file, its scripts and style, all from the package (nothing from a CDN).
    @app.get("/")
    def index() -> Response:
        return Response(static_file("index.html"), media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)  # none: the browser asks anyway

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise KeyError(name)
        return Response(static_file(name), media_type=f"{STATIC[name]}; charset=utf-8")

    @app.get("/api/info")
    def info() -> dict:
        from mosaicgan.web.tasks import describe

        s = state.settings
        return {"version": __version__, **describe(s),
                "limits": {"upload_mb": s.max_upload_mb, "megapixels": s.max_megapixels,
                           "video_seconds": s.max_video_seconds, "queued": s.max_queued,
                           "keep_minutes": s.keep_minutes}}

    # Uploads: the body is the file itself (no multipart spooling to a temporary folder
    # outside --work); written to uploads/ID/NAME, checked, deleted again if refused.
    @app.post("/api/uploads")
    async def upload(request: Request, name: str) -> dict:
        check_name(name)
        limit = state.settings.max_upload_bytes
        too_large = TooLarge(f"{name}: larger than the upload limit ({state.settings.max_upload_mb:g} MB, "
                             "--max-upload-mb); nothing was kept")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_large
        upload_id = new_id()
        folder = state.store.folder("uploads", upload_id, create=True)
        try:
            path, fd = state.store.create_file(folder, name)
            size = 0
            with os.fdopen(fd, "wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    fh.write(chunk)
            if size == 0:
                raise UserError(f"{name}: empty file; nothing was kept")
            s = state.settings
            info = await run_in_threadpool(inspect.probe, path, max_pixels=s.max_pixels,
                                           max_video_seconds=s.max_video_seconds)
        except UserError as err:
            state.store.remove("uploads", upload_id)
            if isinstance(err, (TooLarge, OutsideWork)):
                raise
            text = state.store.scrub(one_line(err))
            raise UserError(f"{text if text.startswith(name) else f'{name}: {text}'}; nothing was kept") from None
        except BaseException:
            state.store.remove("uploads", upload_id)
            raise
        item = state.uploads[upload_id] = Upload(upload_id, name, path, info)
        return item.public()

    @app.get("/api/uploads/{upload_id}")
    def upload_info(upload_id: str) -> dict:
        return state.upload(upload_id).public()

    @app.delete("/api/uploads/{upload_id}")
    def upload_delete(upload_id: str) -> dict:
        state.remove_upload(upload_id)
        return {"deleted": upload_id}

    @app.get("/api/uploads/{upload_id}/file")
    def upload_file(upload_id: str) -> FileResponse:
        item = state.upload(upload_id)
        return FileResponse(state.store.inside(item.path), filename=item.name, content_disposition_type="inline")

    @app.get("/api/uploads/{upload_id}/view")
    def upload_view(upload_id: str) -> FileResponse:
        item = state.upload(upload_id)
        return FileResponse(state.store.inside(item.path.parent / ".view.jpg"), media_type="image/jpeg")

    @app.get("/api/uploads/{upload_id}/key/{index}")
    def upload_key(upload_id: str, index: int) -> FileResponse:
        item = state.upload(upload_id)
        path = state.store.inside(item.path.parent / f".key-{index}.jpg")
        if not path.is_file():
            raise KeyError(f"key frame {index}")
        return FileResponse(path, media_type="image/jpeg")

    def inspected(what):
        with state.inspect_lock:
            return what()

    @app.get("/api/uploads/{upload_id}/faces")
    async def upload_faces(upload_id: str) -> dict:
        item = state.upload(upload_id)
        return await run_in_threadpool(inspected, lambda: inspect.faces(item.path, kind=item.info["kind"]))

    @app.get("/api/uploads/{upload_id}/mosaics")
    async def upload_mosaics(upload_id: str) -> dict:
        item = state.upload(upload_id)
        if item.info["kind"] != "image":
            raise UserError(f"{item.name}: mosaics are outlined on images (a video's are found by the job)")
        return await run_in_threadpool(inspected, lambda: inspect.mosaics(item.path))

    # Jobs: the request names uploads and options; tasks.py checks them and builds the call.
    @app.post("/api/jobs")
    async def job_submit(http: Request) -> dict:
        from mosaicgan.web.tasks import make_job

        try:
            request = await http.json()
        except ValueError:
            raise UserError("bad request: the body must be a JSON object") from None
        if not isinstance(request, dict):
            raise UserError("bad request: the body must be a JSON object")
        job_id, out_dir = state.job_folder()
        try:
            job = make_job(request, uploads=state.upload, out_dir=out_dir, job_id=job_id, settings=state.settings)
            state.queue.submit(job)
        except BaseException:
            state.store.remove("jobs", job_id)
            raise
        return job.public()

    @app.get("/api/jobs")
    def job_list() -> dict:
        return {"jobs": [job.public() for job in state.queue.list()]}

    @app.get("/api/jobs/{job_id}")
    def job_get(job_id: str) -> dict:
        job = state.job(job_id)
        outputs = [o.public(i) for i, o in enumerate(state.outputs(job))] if job.state == "done" else []
        return {**job.public(), "outputs": outputs,
                "not_written": job.result.get("not_written", []) if isinstance(job.result, dict) else []}

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str) -> dict:
        return state.queue.cancel(state.job(job_id).id).public()

    @app.delete("/api/jobs/{job_id}")
    def job_delete(job_id: str) -> dict:
        job = state.job(job_id)
        if job.state in ("queued", "running"):
            raise UserError("cancel the job first")
        state.queue.forget(job.id)
        state.store.remove("jobs", job.id)
        return {"deleted": job.id}

    def output_of(job: Job, index: int):
        outputs = state.outputs(job)
        if not 0 <= index < len(outputs):
            raise KeyError(f"output {index}")
        return outputs[index]

    @app.get("/api/jobs/{job_id}/outputs/{index}")
    def job_output(job_id: str, index: int, download: bool = False) -> FileResponse:
        out = output_of(state.job(job_id), index)
        return FileResponse(state.store.inside(out.path), filename=out.name,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/jobs/{job_id}/outputs/{index}/view")
    def job_output_view(job_id: str, index: int) -> FileResponse:
        out = output_of(state.job(job_id), index)
        view = state.store.inside(out.path.parent.parent / "views" / f"{index}.jpg")
        if not view.is_file():
            raise KeyError(f"view of output {index}")
        return FileResponse(view, media_type="image/jpeg")

    @app.get("/api/jobs/{job_id}/zip")
    def job_zip(job_id: str) -> FileResponse:
        job = state.job(job_id)
        outputs = state.outputs(job)
        archive = state.store.inside(Path(outputs[0].path).parent.parent / "results.zip") if outputs else None
        if archive is None:
            raise UserError("the job wrote no file")
        if not archive.is_file():
            write_zip(archive, [state.store.inside(o.path) for o in outputs])
        return FileResponse(archive, filename=f"mosaicgan-{job.kind}-{job.id[:8]}.zip")

    return app


def write_zip(archive: Path, files: list[Path]) -> Path:
    """The outputs in one zip (stored, not deflated: images and videos are compressed already)."""
    from mosaicgan.atomic import atomic_path

    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in files:
            zf.write(path, arcname=path.name)
    return archive
