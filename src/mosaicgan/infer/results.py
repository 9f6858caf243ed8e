"""What happened to one input of a media job: the per-input record that the image and video
loops fill and that `mosaicgan.jobs` collects, the CLI prints and the web page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# An input's status. Nothing found is not an error: such an input is left out of --out (an
# untouched picture is never passed off as processed) and listed.
WRITTEN, NOTHING_FOUND, SHRUNK_AWAY = "written", "nothing_found", "shrunk_away"


@dataclass
class ItemResult:
    """input: the file; kind: "image" or "video"; status: WRITTEN, NOTHING_FOUND (faces, CAM or
    the mosaic finder found nothing) or SHRUNK_AWAY (a negative grow left no region);
    outputs: the files written (the output, then its mask where asked); regions: what found
    or made each region (images: the finder's or restorer's record, e.g. face boxes);
    frames, frames_with_region: videos; skipped_regions: masked regions left as they are
    (no block grid); looks_like_face: a restored region looks like a face; no_metadata: the
    output's format cannot say it was restored; dropped_streams: streams the output
    container could not hold. For the detection report (infer/report/record.py): size (width, height),
    mask_area (pixels the cover changed, images), fps and tracks (videos: `TrackLog.to_dict`),
    locked (--lock-to: {"sealed_bytes", "sidecar"}); notes: other things the user should be told
    about the output, a line each (a second video stream left out)."""

    input: Path
    kind: str
    status: str = WRITTEN
    outputs: list[Path] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    frames_with_region: int = 0
    skipped_regions: int = 0
    looks_like_face: bool = False
    no_metadata: bool = False
    dropped_streams: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None
    mask_area: int = 0
    fps: float = 0.0
    tracks: dict[str, Any] | None = None
    locked: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> bool:
        return self.status == WRITTEN

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (paths as strings)."""
        return {"input": str(self.input), "kind": self.kind, "status": self.status,
                "outputs": [str(p) for p in self.outputs], "regions": self.regions, "frames": self.frames,
                "frames_with_region": self.frames_with_region, "skipped_regions": self.skipped_regions,
                "looks_like_face": self.looks_like_face, "no_metadata": self.no_metadata,
                "dropped_streams": list(self.dropped_streams), "notes": list(self.notes),
                "size": list(self.size) if self.size else None,
                "mask_area": self.mask_area, "fps": self.fps,
                "locked": None if self.locked is None else {
                    k: v if v is None or isinstance(v, int) else str(v) for k, v in self.locked.items()}}
