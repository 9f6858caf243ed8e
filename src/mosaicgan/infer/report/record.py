"""The detection report (`add --report FILE.json`, `remove --report`): what was found in every
input and what was done with it, as one schema-versioned JSON document.

The schema is `mosaicgan/schemas/report.schema.json` (JSON Schema 2020-12; docs/privacy.md
describes it). This module only turns what a job knows per item (a region finder's info, a
video's track log, the outputs written) into that document and writes it atomically; it finds
nothing itself. A report names the inputs and where their faces are, so it is as sensitive as
the list of inputs: it holds no pixels (the contact sheet does: `sheet.py`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from mosaicgan import __version__
from mosaicgan.atomic import atomic_path

FORMAT = "mosaicgan-report"
VERSION = 1
SCHEMA_FILE = "report.schema.json"


def load_schema() -> dict:
    import importlib.resources

    return json.loads((importlib.resources.files("mosaicgan") / "schemas" / SCHEMA_FILE).read_text("utf-8"))


@lru_cache(maxsize=16)
def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_entry(path: str | Path) -> dict[str, str]:
    """{"file": its name, "sha256": its digest} for a weights file."""
    return {"file": Path(path).name, "sha256": _sha256(str(path))}


def shipped_models(region_kind: str) -> dict[str, dict[str, str]]:
    """The shipped networks `add` uses for a region kind (faces: CenterFace; cam: MobileNetV2)."""
    if region_kind == "faces":
        from mosaicgan.localize.faces.centerface import shipped_detector_path

        return {"face_detector": model_entry(shipped_detector_path())}
    return {}


def _plain(value: Any) -> Any:
    """Options as JSON: paths as strings, tuples as lists, dataclasses as dicts."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _cut(box, size: tuple[int, int]) -> list[int]:
    x0, y0, x1, y1 = (int(v) for v in box)
    width, height = size
    return [max(0, x0), max(0, y0), min(width, x1), min(height, y1)]


def region_entries(info: dict | None, *, size: tuple[int, int]) -> list[dict]:
    """A region finder's info (`RegionFinder.find` + `compose`) as the report's regions."""
    if not info:
        return []
    kind = info.get("kind")
    entries: list[dict] = []
    if kind == "faces":
        for face in info.get("faces", []):
            entries.append({"kind": "face", "box": _cut(face["box"], size), "score": face["score"],
                            "landmarks": face["landmarks"], "mask_area": face["area"], "applied": face["applied"]})
    elif kind == "boxes":
        for x, y, w, h in info.get("boxes", []):
            box = _cut((x, y, x + w, y + h), size)
            entries.append({"kind": "box", "box": box, "score": None, "applied": True,
                            "mask_area": max(0, box[2] - box[0]) * max(0, box[3] - box[1])})
    elif kind == "mask":
        entries.append({"kind": "mask", "box": None, "applied": True, "mask_file": info.get("mask_file", "")})
    elif kind == "cam":
        entries.append({"kind": "cam", "box": None, "applied": True, "class": info.get("class"),
                        "probability": info.get("prob")})
    elif kind == "random":
        entries += [{"kind": "random", "box": None, "applied": True} for _ in info.get("shapes", [])]
    for also in info.get("also", []):
        box = _cut(also["box"], size)
        entries.append({"kind": "also", "box": box, "score": None, "frames": also["frames"], "applied": True,
                        "mask_area": max(0, box[2] - box[0]) * max(0, box[3] - box[1])})
    return entries


def restored_entries(regions: list[dict], *, applied: bool = True) -> list[dict]:
    """`remove`'s regions (`RegionResult.to_dict`) as the report's regions."""
    return [{"kind": "mosaic", "box": [int(v) for v in r["box"]], "grid": r.get("grid"),
             "found_by": r.get("found_by", ""), "applied": applied} for r in regions]


def image_item(path: Path, *, status: str, outputs: list[Path], size: tuple[int, int], regions: list[dict],
               mask_area: int = 0, keep: list | None = None, notes: list[str] | None = None,
               locked: Any = None) -> dict:
    """One image's entry. regions: from `region_entries` or `restored_entries`. locked: the
    `infer.lock.still.Locked` written for it, if any."""
    item = {"input": str(path), "kind": "image", "status": status, "outputs": [str(p) for p in outputs],
            "width": int(size[0]), "height": int(size[1]), "regions": regions, "mask_area": int(mask_area)}
    if keep:
        item["keep"] = [[int(v) for v in b] for b in keep]
    if notes:
        item["notes"] = list(notes)
    if locked is not None:
        item["sealed_bytes"] = int(locked.sealed_bytes)
        item["sidecar"] = None if locked.sidecar is None else str(locked.sidecar)
    return item


def video_item(path: Path, *, status: str, outputs: list[Path], size: tuple[int, int], fps: float, frames: int,
               frames_with_region: int, tracks: dict | None = None, regions: list[dict] | None = None,
               keep: list | None = None, notes: list[str] | None = None, sealed_bytes: int | None = None,
               sidecar: Path | None = None) -> dict:
    """One video's entry. tracks: `TrackLog.to_dict()` ({"tracks": [...], "frame_boxes": [...]})."""
    item = {"input": str(path), "kind": "video", "status": status, "outputs": [str(p) for p in outputs],
            "width": int(size[0]), "height": int(size[1]), "fps": round(float(fps), 6), "frames": int(frames),
            "frames_with_region": int(frames_with_region)}
    if tracks is not None:
        item.update(tracks)
    if regions is not None:
        item["regions"] = regions
    if keep:
        item["keep"] = [[int(v) for v in b] for b in keep]
    if notes:
        item["notes"] = list(notes)
    if sealed_bytes is not None:
        item["sealed_bytes"] = int(sealed_bytes)
        item["sidecar"] = None if sidecar is None else str(sidecar)
    return item


def build_report(*, command: str, items: list[dict], options: Any, models: dict[str, dict] | None = None,
                 lock: dict | None = None) -> dict:
    """The whole report. options: the job's options (dataclasses, dicts). lock: {"key":
    fingerprint, "operation": "lock" | "unlock", "sidecar": bool} or None."""
    applied = sum(1 for item in items for r in item.get("regions", []) if r["applied"])
    applied += sum(1 for item in items for t in item.get("tracks", []) if t["applied"])
    faces = sum(1 for item in items for r in item.get("regions", []) if r["kind"] == "face")
    faces += sum(len(item.get("tracks", [])) for item in items)
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"format": FORMAT, "version": VERSION, "command": command, "mosaicgan": __version__, "created": created,
            "options": _plain(options), "models": models or {}, "lock": lock, "items": items,
            "summary": {"inputs": len(items), "written": sum(item["status"] == "written" for item in items),
                        "regions": applied, "faces": faces}}


def write_report(report: dict, path: str | Path) -> Path:
    """Write the report as JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def check_report_path(path: str | Path, *, flag: str = "--report") -> None:
    """Before any work: a .json name in a folder that can be written."""
    from mosaicgan.atomic import check_writable_file
    from mosaicgan.errors import UserError

    path = Path(path)
    if path.suffix.lower() != ".json":
        raise UserError(f"{flag} writes JSON; give a name ending in .json", path=path)
    check_writable_file(path, flag=flag)


def _probe_size(path: Path, kind: str) -> tuple[int, int]:
    if kind == "video":
        from mosaicgan.infer.video.decode import VideoInput

        with VideoInput(path) as src:
            return src.info.width, src.info.height
    from mosaicgan.data.images import probe_image

    return probe_image(path)


def report_item(item: Any, *, command: str) -> dict:
    """One `infer.results.ItemResult` as the report's entry. command: "add" (regions from the
    region finder) or "remove" (regions restored, or put back with a key)."""
    size = item.size or _probe_size(Path(item.input), item.kind)
    if command == "add":
        info = item.regions[0] if item.regions else None
        regions = region_entries(info, size=size)
        keep = (info or {}).get("keep")
    elif item.regions and item.regions[0].get("kind") == "locked":
        regions, keep = list(item.regions), None
    else:
        regions, keep = restored_entries(item.regions), None
    locked = item.locked or {}
    if item.kind == "image":
        from types import SimpleNamespace

        lock = SimpleNamespace(**locked) if locked else None
        return image_item(Path(item.input), status=item.status, outputs=item.outputs, size=size, regions=regions,
                          mask_area=item.mask_area, keep=keep, notes=item.dropped_streams, locked=lock)
    return video_item(Path(item.input), status=item.status, outputs=item.outputs, size=size, fps=item.fps,
                      frames=item.frames, frames_with_region=item.frames_with_region, tracks=item.tracks,
                      regions=regions if command == "remove" else None, keep=keep, notes=item.dropped_streams,
                      sealed_bytes=locked.get("sealed_bytes"), sidecar=locked.get("sidecar"))
