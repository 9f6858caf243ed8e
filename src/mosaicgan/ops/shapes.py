"""Region shapes for synthetic masks: rectangles, ellipses and polygons.

`draw_shapes` is pure: explicit shape parameters in, a 0/1 mask out. `sample_shape` draws the
parameters with an explicit `torch.Generator`, so a data set builder can record the shapes it
used (`shape_to_dict`) and draw the same mask again (`shape_from_dict`, `draw_shapes`).

Coordinates are in pixels with the centre of pixel (row i, column j) at (x=j, y=i); a pixel is
inside a shape when its centre is. Angles are in degrees, counter-clockwise as seen on screen
(y grows downwards).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar, Union

import torch


@dataclass(frozen=True)
class Rect:
    """A rectangle of `width` x `height` centred on (cx, cy), turned by `angle`."""

    kind: ClassVar[str] = "rect"
    cx: float
    cy: float
    width: float
    height: float
    angle: float = 0.0


@dataclass(frozen=True)
class Ellipse:
    """An ellipse with semi-axes (rx, ry) centred on (cx, cy), turned by `angle`."""

    kind: ClassVar[str] = "ellipse"
    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0


@dataclass(frozen=True)
class Polygon:
    """A polygon through `points` ((x, y), ...), filled by the even-odd rule."""

    kind: ClassVar[str] = "polygon"
    points: tuple[tuple[float, float], ...]


Shape = Union[Rect, Ellipse, Polygon]
_KINDS = {cls.kind: cls for cls in (Rect, Ellipse, Polygon)}
SHAPE_KINDS = tuple(_KINDS)


def shape_to_dict(shape: Shape) -> dict:
    """Plain data (for JSON): the fields plus "kind"."""
    data = {"kind": shape.kind, **asdict(shape)}
    if isinstance(shape, Polygon):
        data["points"] = [list(p) for p in shape.points]
    return data


def shape_from_dict(data: dict) -> Shape:
    fields = dict(data)
    kind = fields.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {SHAPE_KINDS}")
    if kind == "polygon":
        fields["points"] = tuple((float(x), float(y)) for x, y in fields["points"])
    return _KINDS[kind](**fields)


def draw_shapes(
    shapes: Shape | list[Shape], *, height: int, width: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """The union of the shapes as a 0/1 float mask (1, H, W)."""
    if not isinstance(shapes, (list, tuple)):
        shapes = [shapes]
    ys = torch.arange(height, device=device, dtype=torch.float32)[:, None]
    xs = torch.arange(width, device=device, dtype=torch.float32)[None, :]
    inside = torch.zeros(height, width, dtype=torch.bool, device=device)
    for shape in shapes:  # a few shapes per mask; each one is drawn for all pixels at once
        inside |= _inside(shape, xs, ys)
    return inside.to(torch.float32)[None]


def _inside(shape: Shape, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    if isinstance(shape, Polygon):
        return _inside_polygon(shape.points, xs, ys)
    # Rotate pixel offsets into the shape's own axes (screen angle: y points down).
    a = math.radians(shape.angle)
    dx, dy = xs - shape.cx, ys - shape.cy
    u = dx * math.cos(a) - dy * math.sin(a)
    v = dx * math.sin(a) + dy * math.cos(a)
    if isinstance(shape, Rect):
        return (u.abs() <= shape.width / 2) & (v.abs() <= shape.height / 2)
    if isinstance(shape, Ellipse):
        return (u / shape.rx) ** 2 + (v / shape.ry) ** 2 <= 1
    raise TypeError(f"not a shape: {shape!r}")


def _inside_polygon(points: tuple[tuple[float, float], ...], xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    # Even-odd rule: count crossings of a ray going right from each pixel, all edges at once.
    p = torch.tensor(points, dtype=torch.float32, device=xs.device)  # (E, 2)
    if p.ndim != 2 or p.shape[0] < 3 or p.shape[1] != 2:
        raise ValueError(f"a polygon needs at least 3 (x, y) points, got {points!r}")
    x0, y0 = p[:, 0, None, None], p[:, 1, None, None]
    q = p.roll(-1, dims=0)
    x1, y1 = q[:, 0, None, None], q[:, 1, None, None]
    straddles = (y0 > ys) != (y1 > ys)  # horizontal edges never straddle, so no division by 0
    x_cross = x0 + (ys - y0) * (x1 - x0) / torch.where(y1 == y0, torch.ones_like(y1), y1 - y0)
    crossings = (straddles & (xs < x_cross)).sum(dim=0)
    return crossings % 2 == 1


def sample_shape(
    *,
    height: int,
    width: int,
    generator: torch.Generator,
    kinds: tuple[str, ...] = SHAPE_KINDS,
    size_range: tuple[float, float] = (0.15, 0.5),
    max_vertices: int = 9,
) -> Shape:
    """One random shape inside an image of `height` x `width`.

    Its size (the longer extent) is a fraction of the image's shorter side drawn from
    `size_range`; the centre is placed so the shape's bounding circle stays inside the image
    where that is possible. Polygons are star-shaped (vertices at increasing angles around the
    centre, at random radii), so they never cross themselves; they have 3..max_vertices vertices.
    """
    for kind in kinds:
        if kind not in _KINDS:
            raise ValueError(f"unknown shape kind {kind!r}; expected one of {SHAPE_KINDS}")
    lo, hi = size_range
    if not 0 < lo <= hi:
        raise ValueError(f"size_range must satisfy 0 < low <= high, got {size_range}")

    def uniform(a: float = 0.0, b: float = 1.0) -> float:
        return a + (b - a) * float(torch.rand((), generator=generator))

    kind = kinds[int(torch.randint(len(kinds), (), generator=generator))]
    size = uniform(lo, hi) * min(height, width)
    reach = size / 2  # radius of a circle around the centre that holds the shape
    cx = uniform(min(reach, width / 2), max(width - reach, width / 2))
    cy = uniform(min(reach, height / 2), max(height - reach, height / 2))
    angle = uniform(0.0, 180.0)
    if kind == "rect":
        # Its diagonal is `size`; the aspect stays between 1:3 and 3:1.
        t = math.atan(math.exp(uniform(-math.log(3), math.log(3))))
        return Rect(cx, cy, size * math.cos(t), size * math.sin(t), angle)
    if kind == "ellipse":
        return Ellipse(cx, cy, reach, reach * uniform(0.35, 1.0), angle)
    count = int(torch.randint(3, max_vertices + 1, (), generator=generator))
    steps = torch.rand(count, generator=generator) + 0.25  # spread the angles, none too close
    angles = (steps.cumsum(0) / steps.sum() * 2 * math.pi + math.radians(angle)).tolist()
    radii = (reach * (0.4 + 0.6 * torch.rand(count, generator=generator))).tolist()
    points = tuple((cx + r * math.cos(t), cy - r * math.sin(t)) for r, t in zip(radii, angles, strict=True))
    return Polygon(points)
