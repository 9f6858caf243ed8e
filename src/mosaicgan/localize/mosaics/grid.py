"""The block grid of a mosaic that is already in an image: block size and grid offset.

A mosaic is flat inside each block and steps at the block lines. Its lines are 1-pixel
steps with flat pixels on both sides, repeated at a fixed spacing; natural edges are blurred
over a few pixels, textures have no single spacing, and flat areas have no steps at all. So
each axis is read on its own (rectangular blocks have two sizes, and the grid may sit at any
offset): count, per column, the rows where a clean step crosses it; fold those counts by each
candidate block size; the size and offset whose lines collect most of the steps is the grid.

Luma only: JPEG keeps luma at full resolution but halves colour (4:2:0), which smears colour
steps over two pixels. Everything here works on numpy arrays of luma in [0, 255].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mosaicgan.ops.grid import Grid

MIN_BLOCK = 3
MAX_BLOCK = 48
# A step must stand this far (in 0-255 levels) above both its neighbours' differences, and be
# at least twice theirs: JPEG ringing beside a block line stays well under that.
STEP_MIN = 2.0
STEP_RATIO = 2.0
# A block line is a run of steps along it, a block side long; JPEG's own 8x8 block edges in a
# textured area give steps that come and go from one pixel to the next.
RUN = 3


def luma(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor in [-1, 1] -> float32 (H, W) in [0, 255] (BT.601 luma for colour)."""
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected an image (C, H, W) with C in 1, 3, 4; got {tuple(image.shape)}")
    px = (image.detach().float().cpu().clamp(-1, 1).numpy() + 1.0) * 127.5
    if px.shape[0] == 1:
        return px[0]
    return (0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2]).astype(np.float32)


def step_votes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a block line could run: (votes_x (H, W), votes_y (H, W)), bool.

    votes_x[r, c]: between columns c-1 and c of row r the luma steps by at least STEP_MIN, and
    by at least STEP_RATIO times the differences just left and right of it (so a vertical line
    at x = c is a candidate grid line there). votes_y likewise for a horizontal line at y = r.
    """
    return _votes(y, axis=1), _votes(y, axis=0)


def _votes(y: np.ndarray, *, axis: int) -> np.ndarray:
    d = np.abs(np.diff(y, axis=axis))  # d[k] lies between k and k+1: a line at k + 1
    # The differences one step before and after each, with 0 beyond the image.
    pad = [(0, 0), (0, 0)]
    pad[axis] = (1, 1)
    dp = np.pad(d, pad)
    n = d.shape[axis]
    before = np.take(dp, np.arange(0, n), axis=axis)
    after = np.take(dp, np.arange(2, n + 2), axis=axis)
    neighbour = np.maximum(before, after)
    ok = (d >= STEP_MIN) & (d >= STEP_RATIO * neighbour) & (d - neighbour >= STEP_MIN)
    # A block line also runs straight: along it, the pixels on both sides stay (nearly) the
    # same for at least one more pixel, up or down. A natural edge's sides change along it.
    along = np.abs(np.diff(y, axis=1 - axis))
    if axis == 1:  # d[r, c]: columns c | c+1; along[r, c]: rows r | r+1
        side = np.maximum(along[:, :-1], along[:, 1:])  # (H-1, W-1): rows r | r+1 on both sides
        up = np.pad(side, ((1, 0), (0, 0)), constant_values=np.inf)
        down = np.pad(side, ((0, 1), (0, 0)), constant_values=np.inf)
    else:
        side = np.maximum(along[:-1, :], along[1:, :])
        up = np.pad(side, ((0, 0), (1, 0)), constant_values=np.inf)
        down = np.pad(side, ((0, 0), (0, 1)), constant_values=np.inf)
    straight = np.minimum(up, down)
    ok &= straight <= 0.5 * d
    ok = _in_runs(ok, along_axis=1 - axis, length=RUN)
    out = np.zeros(y.shape, dtype=bool)
    if axis == 1:
        out[:, 1:] = ok
    else:
        out[1:, :] = ok
    return out


def _in_runs(ok: np.ndarray, *, along_axis: int, length: int) -> np.ndarray:
    """ok where it is part of at least `length` consecutive True along `along_axis`."""
    n = ok.shape[along_axis]
    if n < length:
        return np.zeros_like(ok)
    def take(a: int, b: int) -> np.ndarray:
        return np.take(ok, np.arange(a, n - b), axis=along_axis)

    full = take(0, length - 1).copy()
    for k in range(1, length):
        full &= take(k, length - 1 - k)  # runs starting at each index
    out = np.zeros_like(ok)
    for k in range(length):  # every pixel a run covers
        sl = [slice(None), slice(None)]
        sl[along_axis] = slice(k, n - (length - 1 - k))
        out[tuple(sl)] |= full
    return out


@dataclass(frozen=True)
class AxisFit:
    """The best grid along one axis: lines at offset + k * block.
    share: the fraction of all step votes that fall on those lines (1.0 for a clean mosaic).
    lines: how many of those lines carry at least a fifth of the mean votes per line."""

    block: int
    offset: int
    share: float
    lines: int
    votes: float

    @property
    def lift(self) -> float:
        """share x block: how many times more votes the lines hold than lines placed at random."""
        return self.share * self.block


def fold(profile: np.ndarray, *, min_block: int = MIN_BLOCK,
         max_block: int = MAX_BLOCK) -> dict[int, tuple[int, float]]:
    """{block size b: (best offset, votes on its lines)} for every b that fits twice in the profile."""
    n = profile.shape[0]
    idx = np.arange(n)
    fits = {}
    for b in range(min_block, min(max_block, n // 2) + 1):
        folded = np.bincount(idx % b, weights=profile, minlength=b)
        phase = int(np.argmax(folded))
        fits[b] = (phase, float(folded[phase]))
    return fits


def fit_axis(profile: np.ndarray, *, min_block: int = MIN_BLOCK, max_block: int = MAX_BLOCK,
             top: int = 1) -> AxisFit | None | list[AxisFit]:
    """Block size and offset from votes per position (votes for a line at index i).

    For each block size b, the votes are folded modulo b and the best offset kept; b is
    scored by the votes its lines hold beyond what lines at a random offset would hold
    (total / b), which prefers b over its multiples (they hold only part of the lines) and
    over its divisors (their extra lines hold nothing). Noise can still favour a divisor, so
    a multiple of the winner whose lines hold nearly all the same votes is taken instead.
    top > 1: the `top` best sizes (a list, best first) rather than the best one.
    """
    total = float(profile.sum())
    fits = fold(profile, min_block=min_block, max_block=max_block) if total > 0 else {}
    if not fits:
        return [] if top > 1 else None
    ranked = sorted(fits, key=lambda b: fits[b][1] - total / b, reverse=True)
    out = [_consolidate(profile, fits, b, total) for b in ranked[:top]]
    return out if top > 1 else out[0]


def _consolidate(profile: np.ndarray, fits: dict[int, tuple[int, float]], best: int, total: float) -> AxisFit:
    phase, held = fits[best]
    for b in sorted(fits, reverse=True):  # the largest consistent multiple
        if b > best and b % best == 0:
            p, h = fits[b]
            if p % best == phase and h >= 0.85 * held:
                best, phase, held = b, p, h
                break
    at_lines = profile[phase::best]
    mean_line = held / max(len(at_lines), 1)
    lines = int((at_lines >= 0.2 * mean_line).sum()) if mean_line > 0 else 0
    return AxisFit(block=best, offset=phase, share=held / total, lines=lines, votes=held)


def estimate_grid(
    image: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    min_share: float = 0.4,
    min_lines: int = 2,
    min_block: int = MIN_BLOCK,
    max_block: int = MAX_BLOCK,
) -> Grid | None:
    """The block grid of the mosaic inside `mask` (the whole image when None), or None when
    the region shows no grid (not a block mosaic, e.g. a blur, or too few lines to tell).

    image: (C, H, W) in [-1, 1]. mask: (H, W), (1, H, W) in [0, 1]; pixels > 0.5 count.
    Offsets are in the image's coordinates, as `ops.mosaic.pixelate` takes them.
    """
    if mask is None:
        return grid_from_votes(*step_votes(luma(image)), min_share=min_share, min_lines=min_lines,
                               min_block=min_block, max_block=max_block)
    m = mask.detach().cpu().float().reshape(-1, *mask.shape[-2:])[0].numpy() > 0.5
    if m.shape != tuple(image.shape[-2:]):
        raise ValueError(f"mask is {m.shape[1]}x{m.shape[0]} but the image is {image.shape[-1]}x{image.shape[-2]}")
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return None
    # Only the region's box is read (a small region in a large photo costs what it costs), with
    # the offsets put back into the image's coordinates.
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    grid = grid_from_votes(*step_votes(luma(image[:, y0:y1, x0:x1])), inside=m[y0:y1, x0:x1], min_share=min_share,
                           min_lines=min_lines, min_block=min_block, max_block=max_block, square_prior=True)
    return None if grid is None else Grid(grid.block_h, grid.block_w, grid.offset_y + int(y0), grid.offset_x + int(x0))


def grid_from_votes(
    votes_x: np.ndarray,
    votes_y: np.ndarray,
    *,
    inside: np.ndarray | None = None,
    min_share: float = 0.4,
    min_lines: int = 2,
    min_block: int = MIN_BLOCK,
    max_block: int = MAX_BLOCK,
    square_prior: bool = False,
) -> Grid | None:
    """`estimate_grid` on precomputed votes, restricted to `inside` (bool (H, W)) when given.

    A vote counts only where the pixels on both sides of the step lie inside, so the region's
    own outline (mosaic against the original) votes for nothing.

    square_prior: where the region is known to be a mosaic (`remove --mask`), an axis that
    says little is read at the other axis's block size (`_square_when_unsure`)."""
    vx, vy = votes_x, votes_y
    if inside is not None:
        both_x = inside.copy()
        both_x[:, 1:] &= inside[:, :-1]
        both_y = inside.copy()
        both_y[1:, :] &= inside[:-1, :]
        vx, vy = vx & both_x, vy & both_y
    px, py = vx.sum(axis=0).astype(np.float64), vy.sum(axis=1).astype(np.float64)
    fx = fit_axis(px, min_block=min_block, max_block=max_block)
    fy = fit_axis(py, min_block=min_block, max_block=max_block)
    lines_x = lines_y = min_lines
    if square_prior:
        def ok(f: AxisFit | None) -> bool:
            return f is not None and f.share >= min_share and f.lines >= min_lines

        fx0, fy0 = fx, fy
        fx, fy = _square_when_unsure(px, fx0, fy0, ok=ok), _square_when_unsure(py, fy0, fx0, ok=ok)
        # An axis read at the other's size needs only one line of its own.
        lines_x, lines_y = (1 if fx is not fx0 else min_lines), (1 if fy is not fy0 else min_lines)
    for f, need in ((fx, lines_x), (fy, lines_y)):
        if f is None or f.share < min_share or f.lines < need:
            return None
    return Grid(fy.block, fx.block, offset_y=fy.offset, offset_x=fx.offset)


def _fit_at(profile: np.ndarray, block: int) -> AxisFit | None:
    """The best offset for lines every `block` px (no search over sizes)."""
    total = float(profile.sum())
    if total <= 0 or profile.shape[0] < block:
        return None
    folded = np.bincount(np.arange(profile.shape[0]) % block, weights=profile, minlength=block)
    phase = int(np.argmax(folded))
    held = float(folded[phase])
    mean_line = held / max(len(profile[phase::block]), 1)
    lines = int((profile[phase::block] >= 0.2 * mean_line).sum())
    return AxisFit(block=block, offset=phase, share=held / total, lines=lines, votes=held)


def _square_when_unsure(profile: np.ndarray, fit: AxisFit | None, other: AxisFit | None, *, ok) -> AxisFit | None:
    """Most mosaics have square blocks, and a small or re-encoded region may show too few lines
    on one axis to tell its size alone. Where the other axis is sure of its size b, this axis
    is read at b when (1) it found nothing convincing but its votes fall on lines every b px;
    or, when the other axis holds at least as many votes, (2) it chose a multiple of b (every
    other line faint, say) while the lines in between hold some votes, i.e. they are block
    lines too, or (3) it chose a divisor of b (noise lines between the block lines) while most
    of its votes lie on lines every b px. A truly rectangular mosaic has no votes between its
    lines and about half or less of them on the shorter side's lines, so it keeps its size; a
    region with no grid on either axis stays without one."""
    if other is None or not ok(other):
        return fit
    alt = _fit_at(profile, other.block)
    if alt is None:
        return fit
    if not ok(fit):
        # RUN votes per line on average: a few pixels of one line do not make a grid.
        return alt if alt.share >= 0.6 and alt.votes >= 2 * RUN else fit
    if other.votes < fit.votes or fit.block == other.block:
        return fit
    if fit.block % other.block == 0 and alt.offset == fit.offset % other.block:
        return alt if alt.votes - fit.votes >= max(2.0, 0.02 * alt.votes) else fit
    if other.block % fit.block == 0 and alt.offset % fit.block == fit.offset:
        return alt if alt.share >= 0.7 else fit
    return fit
