"""The frame stage of `remove` on a video (see `video_pipeline`): find the mosaics, restore them.

Per frame, the image path does it all (`remove_core.remove_mosaics`: `find_mosaics` over the
whole frame, or the mask's regions with `estimate_grid`): that is `steady=False`, and the
baseline. Steadied (the default) does the same work once and then follows it:

- with a mask, each of its regions keeps the grid read in the first frame that shows one; the
  grid is read again every `detect_every` frames and replaced where a new one is read;
- without one, the whole frame is searched every `detect_every` frames; the boxes found go
  through `steady.Steadier` (tracks, bridged misses, also `bridge` frames before a mosaic is
  first found), and in the other frames each track's box is searched on a crop around it
  with the grid last found there (`find_mosaics(grids=...)`; where that grid finds nothing,
  e.g. a mosaic whose grid moves with it, with the grid `estimate_grid` reads on the crop). A track whose
  mosaic did not change since the previous frame (block means and a ring of blocks around
  it within the tolerance) keeps the previous frame's region without a search;
- `remove_temporal.StillRegions` keeps the restoration still where the mosaic is still;
- a restorer with a recipe head reads the recipe once for the video (the mean of its first
  frames' readings, `RecipeMemory`), so its reading does not flicker either.

Restored regions are checked for faces (`restored_faces.FaceWatch`: the first frame with
regions, then one such frame in `detect_every`), as an image's are; `result.faces` says so.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mosaicgan.errors import UserError
from mosaicgan.infer.remove.core import region_weights, remove_mosaics, split_regions
from mosaicgan.infer.remove.faces_seen import FaceWatch
from mosaicgan.infer.remove.restorer import Restorer
from mosaicgan.infer.remove.still import HeldRegion, StillRegions
from mosaicgan.infer.video.pipeline import Stage, VideoResult
from mosaicgan.infer.video.steady import Steadier, TrackingOptions
from mosaicgan.localize.boxes import box_iou
from mosaicgan.localize.mosaics.finder import DetectMosaics, find_mosaics
from mosaicgan.localize.mosaics.grid import estimate_grid
from mosaicgan.localize.mosaics.recipe import RecipeMemory
from mosaicgan.ops.grid import Grid
from mosaicgan.ops.masks import Box, mask_bbox


@dataclass(frozen=True)
class RemoveVideoOptions:
    """grid, grow, feather: as for images (`remove.files.RemoveOptions`). tracking: how
    mosaics are followed (`steady.TrackingOptions`; steady=False: every frame on its own, the
    image path; detect_every: search the whole frame, or read a mask region's grid, 1 frame in
    N). tolerance: levels (0-255) a block mean may move and still count as the same mosaic
    (`still`; 0: restore every frame afresh)."""

    grid: Grid | None = None
    grow: int = 0
    feather: int = 0
    tracking: TrackingOptions = TrackingOptions(window=2)
    tolerance: float = 6.0

    def check(self) -> None:
        if self.grow < 0 or self.feather < 0:
            raise UserError(f"--grow and --feather must be >= 0, got {self.grow} and {self.feather}")
        self.tracking.check()
        if self.tolerance < 0:
            raise UserError(f"--tolerance must be >= 0, got {self.tolerance}")


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 -> (3, H, W) float in [-1, 1]."""
    scale = 255.0 if frame.dtype == np.uint8 else 65535.0
    return torch.from_numpy(frame).permute(2, 0, 1).float().mul_(2.0 / scale).sub_(1.0)


def paste_back(frame: np.ndarray, out: torch.Tensor, applied: torch.Tensor) -> np.ndarray:
    """`frame` with the box of applied > 0 taken from `out` (elsewhere the input, bit for bit)."""
    box = mask_bbox(applied)
    if box is None:
        return frame
    scale = 255.0 if frame.dtype == np.uint8 else 65535.0
    crop = out[:, box.y0:box.y1, box.x0:box.x1].add(1.0).mul_(scale / 2.0).round_().clamp_(0, scale)
    frame = frame.copy()
    frame[box.y0:box.y1, box.x0:box.x1] = crop.permute(1, 2, 0).numpy().astype(frame.dtype)
    return frame


def restore_stage(*, restorer: Restorer, options: RemoveVideoOptions, mask: torch.Tensor | None, path: Path,
                  result: VideoResult, detect: DetectMosaics | None = None) -> Stage:
    """The frame stage of `remove`. mask: (H, W) in [0, 1] for every frame (None: find the
    mosaics). detect: how a whole frame is searched (`localize.mosaics.detector.mosaic_detector`;
    None: the classical finder); a followed mosaic is searched on a crop with its known grid."""
    result.seconds.setdefault("restore", 0.0)
    still = StillRegions(tolerance=options.tolerance)
    recipes = RecipeMemory()  # one reading of how the video was pixelated, its frames' mean
    watch = FaceWatch(every=options.tracking.detect_every)

    def look_for_faces(out: torch.Tensor, boxes) -> None:
        """out: a frame with restored regions; boxes: theirs (an iterable read only when checked)."""
        if watch.found:
            return
        t0 = time.perf_counter()
        watch.look(out, boxes)
        result.faces = watch.found
        result.add_time("faces", time.perf_counter() - t0)

    def restore(frame: torch.Tensor, soft: torch.Tensor, grid: Grid) -> torch.Tensor:
        recipe = recipes.estimate
        if restorer.reads_recipes and not recipes.settled:
            recipe = recipes.add(restorer.estimate_recipe(frame, (soft >= 0.5).float()[None], grid=grid))
        return restorer.restore(frame, soft[None], grid=grid, recipe=recipe)

    def finish(emit, pts: int, frame: np.ndarray, x: torch.Tensor, regions: list[tuple[torch.Tensor, Grid]]) -> None:
        t0 = time.perf_counter()
        held = [HeldRegion(m, region_weights(m, mask=mask, grow=options.grow, feather=options.feather),
                           options.grid or g) for m, g in regions]
        out, applied = still.restore(x, held, restore=restore)
        frame = paste_back(frame, out, applied)
        result.add_time("restore", time.perf_counter() - t0)
        if held:
            look_for_faces(out, (mask_bbox(h.mask) for h in held))
        emit(pts, frame, bool(held))

    def per_frame(frames, emit) -> None:
        for _, pts, frame in frames:
            t0 = time.perf_counter()
            x = to_tensor(frame)
            done = remove_mosaics(x, restorer=restorer, mask=mask, grid=options.grid, grow=options.grow,
                                  feather=options.feather, detect=detect)
            frame = paste_back(frame, done.frame, done.mask)
            result.add_time("restore", time.perf_counter() - t0)
            if done.restored:
                look_for_faces(done.frame, (r.box for r in done.restored))
            emit(pts, frame, bool(done.restored))

    def masked(frames, emit) -> None:
        parts = []
        for box, inside in split_regions(mask):
            part = torch.zeros(mask.shape, dtype=torch.bool)
            part[box.y0:box.y1, box.x0:box.x1] = inside
            parts.append(part)
        # A grid read under the mask counts once the next frame reads the same one: a mosaic
        # shows its grid frame after frame, while the grids read in a region without one (the
        # codec's blocks, texture) change from frame to frame. Without this, one chance read
        # in any frame was kept for the rest of the video: every frame "restored" where an
        # image of the same frame would be left alone (exit status 3).
        grids: list[Grid | None] = [options.grid] * len(parts)
        held = None  # (pts, frame, x, reads): a frame whose new reads wait for the next frame's
        count = 0

        def read(x: torch.Tensor) -> list[Grid | None]:
            t0 = time.perf_counter()
            reads = [estimate_grid(x, part) for part in parts]
            result.add_time("find", time.perf_counter() - t0)
            return reads

        def confirm(reads: list[Grid | None], by: list[Grid | None] | None) -> None:
            for k, g in enumerate(reads):
                if g is not None and (by is None or by[k] == g):
                    grids[k] = g

        def regions() -> list[tuple[torch.Tensor, Grid]]:
            return [(p, g) for p, g in zip(parts, grids, strict=True) if g is not None]

        for index, pts, frame in frames:
            count += 1
            x = to_tensor(frame)
            due = options.grid is None and (index % options.tracking.detect_every == 0 or None in grids
                                            or held is not None)
            reads = read(x) if due else None
            if held is not None:
                confirm(held[3], reads)
                finish(emit, *held[:3], regions())
                held = None
            if reads is not None and any(g is not None and g != grids[k] for k, g in enumerate(reads)):
                held = (pts, frame, x, reads)
                continue
            finish(emit, pts, frame, x, regions())
        if held is not None:
            if count == 1:
                confirm(held[3], None)  # a video of one frame: read as an image is
            finish(emit, *held[:3], regions())

    def stage(frames, emit) -> None:
        if not options.tracking.steady:
            per_frame(frames, emit)
        elif mask is not None:
            masked(frames, emit)
        else:
            _tracked(frames, emit=emit, finish=finish, still=still, options=options, result=result,
                     detect=detect or find_mosaics)

    return stage


def _tracked(frames, *, emit, finish, still: StillRegions, options: RemoveVideoOptions, result: VideoResult,
             detect: DetectMosaics, batch: int = 8) -> None:
    tracking = options.tracking
    every = tracking.detect_every
    steadier = None
    waiting: dict[int, tuple[int, np.ndarray]] = {}
    searched: dict[int, list] = {}  # frame -> mosaics the whole-frame search found there
    known: list[tuple[int, Box, Grid]] = []  # (frame, box, grid) of mosaics found lately
    keep = 2 * tracking.reach + tracking.window + every

    def regions_of(j: int, x: torch.Tensor, boxes: list[Box]) -> list[tuple[torch.Tensor, Grid]]:
        t0 = time.perf_counter()
        regions = []
        for f in searched.pop(j, []):
            # The region kept from the previous frame where the mosaic did not change: the
            # outline read afresh wobbles by a few pixels with the codec's noise.
            held = still.still_region(x, Box(*f.box))
            regions.append((held.mask, held.grid) if held is not None and held.grid == f.grid else (f.mask, f.grid))
        claimed = torch.zeros(x.shape[1:], dtype=torch.bool)
        for m, _ in regions:
            claimed |= m
        for box in boxes:
            if _covered(claimed, box):
                continue  # the whole-frame search of this frame has it
            held = still.still_region(x, box)
            if held is not None:
                found = [(held.mask, held.grid)]
            else:
                found = _search_crop(x, box, _grid_near(known, box))
            for m, g in found:
                if (m & ~claimed).sum() * 2 < m.sum():
                    continue  # another track's mosaic
                regions.append((m, g))
                claimed |= m
                known.append((j, mask_bbox(m), g))
        known[:] = [k for k in known if k[0] >= j - keep]
        result.add_time("find", time.perf_counter() - t0)
        return regions

    first = None
    while True:
        chunk = list(itertools.islice(frames, batch))
        if not chunk:
            break
        for i, pts, frame in chunk:
            first = i if first is None else first
            if steadier is None:
                height, width = frame.shape[:2]
                steadier = Steadier(window=tracking.window, bridge=tracking.reach,
                                    size=(width, height))
            boxes = None
            if i % every == 0 or not known and not searched and i == first:
                t0 = time.perf_counter()
                _, found = detect(to_tensor(frame))
                result.add_time("find", time.perf_counter() - t0)
                searched[i] = found
                boxes = [Box(*f.box) for f in found]
                known.extend((i, Box(*f.box), f.grid) for f in found)
            waiting[i] = (pts, frame)
            for j, steadied in steadier.push(i, boxes):
                pts_j, frame_j = waiting.pop(j)
                x = to_tensor(frame_j)
                finish(emit, pts_j, frame_j, x, regions_of(j, x, steadied))
    if steadier is not None:
        for j, steadied in steadier.flush():
            pts_j, frame_j = waiting.pop(j)
            x = to_tensor(frame_j)
            finish(emit, pts_j, frame_j, x, regions_of(j, x, steadied))


def _covered(claimed: torch.Tensor, box: Box) -> bool:
    area = max(1, (box.x1 - box.x0) * (box.y1 - box.y0))
    return int(claimed[box.y0:box.y1, box.x0:box.x1].sum()) * 2 >= area


def _grid_near(known: list[tuple[int, Box, Grid]], box: Box) -> Grid | None:
    """The grid of the latest mosaic found overlapping `box`."""
    best = None
    for t, b, g in known:
        score = box_iou(box, b)
        if score > 0.1 and (best is None or (t, score) > best[0]):
            best = ((t, score), g)
    return None if best is None else best[1]


def _search_crop(x: torch.Tensor, box: Box, grid: Grid | None) -> list[tuple[torch.Tensor, Grid]]:
    """Mosaics on a crop around `box` (a track's box): with `grid` first, then any grid."""
    height, width = x.shape[1:]
    block = max(grid.block) if grid is not None else 16
    margin = max(2 * block, (max(box.x1 - box.x0, box.y1 - box.y0)) // 6)
    x0, y0 = max(0, box.x0 - margin), max(0, box.y0 - margin)
    x1, y1 = min(width, box.x1 + margin), min(height, box.y1 + margin)
    crop = x[:, y0:y1, x0:x1]
    found = []
    if grid is not None:
        _, found = find_mosaics(crop, grids=[Grid(grid.block_h, grid.block_w, grid.offset_y - y0, grid.offset_x - x0)])
    if not found:
        # The grid moved (a censor tool that anchors its blocks to a moving box) or is not
        # known: the crop is mostly the mosaic, so its own grid estimate is the mosaic's; one
        # grid is checked instead of the whole search's candidates.
        local = estimate_grid(crop)
        if local is not None and local != grid:
            _, found = find_mosaics(crop, grids=[local])
    regions = []
    for f in found:
        m = torch.zeros(height, width, dtype=torch.bool)
        m[y0:y1, x0:x1] = f.mask
        g = f.grid
        regions.append((m, Grid(g.block_h, g.block_w, g.offset_y + y0, g.offset_x + x0)))
    return regions
