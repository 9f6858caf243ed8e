"""The page's job requests turned into `mosaicgan.jobs` calls: check the request (kind,
uploads, options), build the job layer's options from it as the CLI builds them from flags,
and hand the queue a callable that runs the job into the job's own folder. No job logic
lives here: what is found, covered, restored or written is the job layer's.

A request: {"kind": "add"|"remove"|"upscale"|"translate", "uploads": [ids], "options": {...}}.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mosaicgan import jobs
from mosaicgan.choices import COVER_STYLES
from mosaicgan.errors import UserError
from mosaicgan.jobs import review
from mosaicgan.web.jobqueue import Job
from mosaicgan.web.models import list_models, resolve_model
from mosaicgan.web.settings import ServeSettings
from mosaicgan.web.state import Output

KINDS = ("add", "remove", "upscale", "translate")
MAX_INPUTS = 1000


def describe(settings: ServeSettings) -> dict:
    """What the page offers: styles, models."""
    models = list_models(settings.models)
    return {"styles": list(COVER_STYLES), "kinds": list(KINDS), "translate_models": models["translate"],
            "upscale_models": models["upscale"]}


def _number(options: dict, key: str, *, low: float, high: float, default: Any = None) -> Any:
    value = options.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise UserError(f"bad option {key}: {str(value)[:40]!r} (a number from {low:g} to {high:g})")
    return value


def _boxes(options: dict, key: str, ids: list[str]) -> dict[str, list[tuple[int, int, int, int]]]:
    """{upload id: [(x, y, w, h), ...]} with whole, positive sizes."""
    raw = options.get(key) or {}
    if not isinstance(raw, dict):
        raise UserError(f"bad option {key}: an object of upload id -> boxes")
    boxes = {}
    for upload_id, items in raw.items():
        if upload_id not in ids:
            raise UserError(f"bad option {key}: {str(upload_id)[:40]!r} is not one of the job's uploads")
        if not isinstance(items, list) or len(items) > 1000:
            raise UserError(f"bad option {key}: a list of boxes")
        checked = []
        for box in items:
            if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                      for v in box)) or box[2] <= 0 or box[3] <= 0:
                raise UserError(f"bad option {key}: boxes are [x, y, w, h] in whole pixels, got {str(box)[:60]}")
            checked.append(tuple(box))
        boxes[upload_id] = checked
    return boxes


def make_job(request: dict, *, uploads, out_dir: Path, job_id: str, settings: ServeSettings) -> Job:
    """The queue's job for a page request. `uploads`: id -> Upload (KeyError for an unknown id)."""
    kind = request.get("kind")
    if kind not in KINDS:
        raise UserError(f"bad request: kind must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    ids = request.get("uploads")
    if not isinstance(ids, list) or not ids or len(ids) > MAX_INPUTS or not all(isinstance(i, str) for i in ids):
        raise UserError("bad request: uploads must be a list of upload ids (at least one)")
    if len(set(ids)) != len(ids):
        raise UserError("bad request: an upload is named twice")
    items = [uploads(i) for i in ids]
    options = request.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise UserError("bad request: options must be an object")
    build = {"add": _add, "remove": _remove, "upscale": _upscale, "translate": _translate}[kind]
    run = build(items, options, out_dir=out_dir / "out", settings=settings)
    names = ", ".join(u.name for u in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
    return Job(kind=kind, title=f"{kind}: {names}", run=run, inputs=tuple(ids), id=job_id,
               unit="frame" if any(u.info["kind"] == "video" for u in items) else "image")


class Progress:
    """The job layer's progress -> the queue's (done, total, unit), over the several job calls of
    one page job: images count on across calls, a video counts its own frames."""

    def __init__(self, report, *, images: int) -> None:
        self.report, self.images, self.offset = report, images, 0

    def __call__(self, event) -> None:
        if event.unit == "image":
            self.report(self.offset + event.done, self.images, "image")
        else:
            self.report(event.done, event.total, event.unit)

    def next_call(self, images: int) -> None:
        self.offset += images


def _images(items) -> int:
    return sum(u.info["kind"] == "image" for u in items)


def _single(job, items, options, *, out_dir: Path, nothing: str = "nothing found"):
    """The queue's callable for one job call over every upload."""
    def run(report, cancelled):
        out_dir.mkdir(parents=True, exist_ok=True)
        result = job([u.path for u in items], out=out_dir, options=options,
                     progress=Progress(report, images=_images(items)), cancel=cancelled)
        return _outputs(result.items, items, out_dir=out_dir, nothing=nothing)

    return run


def _outputs(results, items, *, out_dir: Path, nothing: str) -> dict:
    """The job's items as the page lists them, and a JPEG view of every image output."""
    from mosaicgan.web.inspect import write_view

    by_path = {u.path: u for u in items}
    outputs: list[Output] = []
    not_written = []
    for item in results:
        upload = by_path.get(Path(item.input))
        name = upload.name if upload else Path(item.input).name
        if not item.written:
            why = nothing if item.status == "nothing_found" else item.status.replace("_", " ")
            not_written.append(f"{name}: {why}, not written")
            continue
        notes = [f"the output container cannot hold {what}; left out" for what in item.dropped_streams]
        if item.looks_like_face:
            notes.append("a restored region looks like a face: it is synthesized, not the person's face")
        extra = _track_view(item, upload) if item.kind == "video" and item.tracks else {}
        for k, path in enumerate(item.outputs):
            outputs.append(Output(name=Path(path).name, path=Path(path), kind="mask" if k else item.kind,
                                  input=upload.id if upload else None, regions=item.regions, notes=notes,
                                  extra=extra))
    views = out_dir.parent / "views"
    views.mkdir(exist_ok=True)
    for index, out in enumerate(outputs):
        if out.kind == "image":
            write_view(review.picture(out.path), views / f"{index}.jpg")
    return {"outputs": outputs, "not_written": not_written}


def _track_view(item, upload) -> dict:
    """A video's tracks as the page shows them: each track's summary, and the boxes placed on
    the frames of the review's key frames (the nearest logged frame, within 3)."""
    from mosaicgan.web.inspect import cached_faces

    summaries = [{k: t[k] for k in ("id", "first_frame", "last_frame", "frames", "applied")}
                 for t in item.tracks["tracks"]]
    logged = {f["frame"]: f["boxes"] for f in item.tracks["frame_boxes"]}
    keyframes = (cached_faces(upload.path) or {}).get("keyframes", []) if upload else []
    on_keyframes = {}
    for key in keyframes:
        near = min(logged, key=lambda f: abs(f - key["frame"]), default=None)
        if near is not None and abs(near - key["frame"]) <= 3:
            on_keyframes[str(key["index"])] = [{"track": b["track"], "box": b["box"]} for b in logged[near]
                                               if b["track"] is not None]
    return {"tracks": summaries, "track_boxes": on_keyframes}


def _add(items, options: dict, *, out_dir: Path, settings: ServeSettings):
    ids = [u.id for u in items]
    style = options.get("style", "average")
    if style not in COVER_STYLES:
        raise UserError(f"bad option style: {str(style)[:40]!r} (one of {', '.join(COVER_STYLES)})")
    threshold = _number(options, "threshold", low=0.01, high=0.99, default=0.35)
    block = _number(options, "block", low=1, high=4096)
    keep, also = _boxes(options, "keep", ids), _boxes(options, "also", ids)
    tracks = _tracks(options, ids)
    mosaic = jobs.MosaicOptions(style=style, block=None if block is None else int(block))
    # One job call for the uploads as they are, one per upload with its own kept or added boxes
    # or kept tracks (a request's choices hold for every input of its call); one output folder.
    chosen = set(keep) | set(also) | set(tracks)
    plain = [u for u in items if u.id not in chosen]
    region = jobs.RegionRequest(kind="faces", face_threshold=threshold)
    calls = [(plain, region)] if plain else []
    calls += [([u], _chosen(region, keep=keep.get(u.id, []), also=also.get(u.id, []), tracks=tracks.get(u.id, [])))
              for u in items if u.id in chosen]

    def run(report, cancelled):
        out_dir.mkdir(parents=True, exist_ok=True)
        progress = Progress(report, images=_images(items))
        done = []
        for k, (group, request) in enumerate(calls):
            # A video's tracks come with the detection report (the page shows them on its key frames).
            videos = any(u.info["kind"] == "video" for u in group)
            result = jobs.add([u.path for u in group], out=out_dir,
                              options=jobs.AddOptions(region=request, mosaic=mosaic,
                                                      report=out_dir.parent / f"report-{k}.json" if videos else None),
                              progress=progress, cancel=cancelled)
            done += result.items
            progress.next_call(_images(group))
        return _outputs(done, items, out_dir=out_dir, nothing="no face found")

    return run


def _tracks(options: dict, ids: list[str]) -> dict[str, list[int]]:
    """{upload id: [track id, ...]}: a video's tracks left uncovered (add --keep-track)."""
    raw = options.get("keep_tracks") or {}
    if not isinstance(raw, dict):
        raise UserError("bad option keep_tracks: an object of upload id -> track ids")
    tracks = {}
    for upload_id, items in raw.items():
        if upload_id not in ids:
            raise UserError(f"bad option keep_tracks: {str(upload_id)[:40]!r} is not one of the job's uploads")
        if not isinstance(items, list) or len(items) > 10000 or not all(
                isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in items):
            raise UserError("bad option keep_tracks: track ids are whole numbers from 1")
        tracks[upload_id] = items
    return tracks


def _chosen(region, *, keep: list, also: list, tracks: list):
    """The request with the user's kept areas, added boxes and kept tracks (add --keep, --also,
    --keep-track)."""
    from dataclasses import replace

    return replace(region, keep=tuple(keep), also=tuple(jobs.Also(box=tuple(b)) for b in also),
                   keep_tracks=tuple(tracks))


def _remove(items, options: dict, *, out_dir: Path, settings: ServeSettings):
    return _single(jobs.remove, items, jobs.RemoveOptions(), out_dir=out_dir, nothing="no mosaic found")


def _images_only(items, kind: str) -> None:
    for u in items:
        if u.info["kind"] != "image":
            raise UserError(f"{u.name}: {kind} works on images")


def _upscale(items, options: dict, *, out_dir: Path, settings: ServeSettings):
    _images_only(items, "upscale")
    checkpoint = resolve_model(settings.models, options.get("model"), task="upscale")
    return _single(jobs.upscale, items, jobs.UpscaleOptions(checkpoint=checkpoint), out_dir=out_dir)


def _translate(items, options: dict, *, out_dir: Path, settings: ServeSettings):
    _images_only(items, "translate")
    checkpoint = resolve_model(settings.models, options.get("model"), task="translate")
    if checkpoint is None:
        raise UserError("translate needs a model: start the server with --models DIR and choose one")
    direction = options.get("direction", "AtoB")
    if direction not in ("AtoB", "BtoA"):
        raise UserError(f"bad option direction: {str(direction)[:20]!r} (AtoB or BtoA)")
    return _single(jobs.translate, items, jobs.TranslateOptions(checkpoint=checkpoint, direction=direction),
                   out_dir=out_dir)
