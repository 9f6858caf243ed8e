"""Just enough plotting for the examples, drawn with Pillow (matplotlib is not a dependency).

`Axes` is one framed panel that maps data coordinates to pixels, with ticks, labels, a title
and a legend; curves, histogram bars and scatter points are drawn on a layer the size of the
plot area, so anything outside the limits is clipped rather than drawn over the frame.
`side_by_side` and `stack` arrange finished panels into one figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Colour-blind-safe colours (Okabe-Ito), so two series never differ by red/green alone.
BLUE = (0, 114, 178)
ORANGE = (230, 159, 0)
GREEN = (0, 158, 115)
VERMILION = (213, 94, 0)
PURPLE = (204, 121, 167)
SKY = (86, 180, 233)
GREY = (150, 150, 150)
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)


@lru_cache(maxsize=None)
def font(size: int = 13) -> ImageFont.ImageFont:
    """Pillow's bundled font at `size` (a bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1, or no FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def text_size(text: str, *, size: int = 13) -> tuple[int, int]:
    left, top, right, bottom = font(size).getbbox(text)
    return right - left, bottom - top


def nice_ticks(lo: float, hi: float, *, max_ticks: int = 6) -> list[float]:
    """Round tick positions (steps of 1, 2, 2.5 or 5 times a power of ten) inside [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, max_ticks)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    # Rounding to the step's decimals removes float noise such as 0.30000000000000004.
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return [round(i * step, decimals) for i in range(first, last + 1)]


def format_tick(value: float, ticks: Sequence[float]) -> str:
    """A tick label with as many decimals as the tick spacing needs, and no '-0'."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


class Axes:
    """One plot panel of `width` x `height` pixels showing data in `xlim` x `ylim`."""

    # Room for the y tick labels and label, the title, and the x tick labels and label.
    default_margins = (62, 30, 14, 46)

    def __init__(
        self,
        *,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        width: int = 440,
        height: int = 330,
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
        legend_at: str = "top-right",
        xticks: Sequence[float] | None = None,
        yticks: Sequence[float] | None = None,
        margins: tuple[int, int, int, int] | None = None,
    ) -> None:
        """`margins` (left, top, right, bottom) in pixels; smaller ones suit small panels
        without axis labels."""
        if not (xlim[1] > xlim[0] and ylim[1] > ylim[0]):
            raise ValueError(f"empty axis limits: x {xlim}, y {ylim}")
        self.xlim = (float(xlim[0]), float(xlim[1]))
        self.ylim = (float(ylim[0]), float(ylim[1]))
        self.width, self.height = width, height
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        if legend_at not in ("top-right", "top-left", "bottom-right", "bottom-left"):
            raise ValueError(f"legend_at must name a corner, got {legend_at!r}")
        self.legend_at = legend_at
        self.xticks = None if xticks is None else list(xticks)
        self.yticks = None if yticks is None else list(yticks)
        left, top, right, bottom = margins or self.default_margins
        self.margin_left, self.margin_top, self.margin_right, self.margin_bottom = left, top, right, bottom
        self.plot_w = width - self.margin_left - self.margin_right
        self.plot_h = height - self.margin_top - self.margin_bottom
        self._layer = Image.new("RGB", (self.plot_w, self.plot_h), WHITE)
        self._draw = ImageDraw.Draw(self._layer)
        self._legend: list[tuple[str, tuple[int, int, int], str]] = []

    # -- data to pixels (within the plot-area layer) ------------------------------------
    def to_px(self, xs, ys) -> tuple[np.ndarray, np.ndarray]:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        px = (xs - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (self.plot_w - 1)
        # Pixel rows grow downwards, data y grows upwards.
        py = (self.ylim[1] - ys) / (self.ylim[1] - self.ylim[0]) * (self.plot_h - 1)
        return px, py

    # -- marks ----------------------------------------------------------------------------
    def line(self, xs, ys, *, color=BLUE, width: int = 2, label: str | None = None) -> Axes:
        px, py = self.to_px(xs, ys)
        # Far-off points would overflow Pillow's integer coordinates; the layer clips the rest.
        px = np.clip(px, -10 * self.plot_w, 11 * self.plot_w)
        py = np.clip(py, -10 * self.plot_h, 11 * self.plot_h)
        if len(px) > 1:
            self._draw.line(list(zip(px.tolist(), py.tolist(), strict=True)), fill=color, width=width, joint="curve")
        if label:
            self._legend.append((label, color, "line"))
        return self

    def bars(self, edges, heights, *, color=SKY, outline=None, gap: float = 0.0,
             label: str | None = None) -> Axes:
        """Histogram bars: `heights[i]` spans `edges[i]` to `edges[i + 1]`, less a `gap`
        (a fraction of each bar's width, split between its sides) for bars of categories."""
        edges = np.asarray(edges, dtype=np.float64)
        heights = np.asarray(heights, dtype=np.float64)
        if len(edges) != len(heights) + 1:
            raise ValueError(f"{len(edges)} edges for {len(heights)} bars")
        inset = 0.5 * gap * np.diff(edges)
        left, top = self.to_px(edges[:-1] + inset, heights)
        right, base = self.to_px(edges[1:] - inset, np.zeros_like(heights))
        for x0, x1, y0, y1 in zip(left, right, top, base, strict=True):
            if y1 - y0 >= 0.5:
                self._draw.rectangle([x0, y0, max(x0, x1 - 1), y1], fill=color, outline=outline)
        if label:
            self._legend.append((label, color, "box"))
        return self

    def scatter(self, xs, ys, *, color=BLUE, radius: float = 1.6, label: str | None = None) -> Axes:
        px, py = self.to_px(xs, ys)
        inside = (px > -radius) & (px < self.plot_w + radius) & (py > -radius) & (py < self.plot_h + radius)
        for x, y in zip(px[inside].tolist(), py[inside].tolist(), strict=True):
            self._draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=color)
        if label:
            self._legend.append((label, color, "dot"))
        return self

    def circle(self, x: float, y: float, r: float, *, color=GREY, width: int = 1) -> Axes:
        """A circle of data radius `r` (x units) around (x, y), e.g. a mode's acceptance radius."""
        (cx,), (cy,) = self.to_px([x], [y])
        rx = r / (self.xlim[1] - self.xlim[0]) * (self.plot_w - 1)
        ry = r / (self.ylim[1] - self.ylim[0]) * (self.plot_h - 1)
        self._draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=color, width=width)
        return self

    def hline(self, y: float, *, color=GREY, width: int = 1, label: str | None = None) -> Axes:
        return self.line(self.xlim, (y, y), color=color, width=width, label=label)

    def vline(self, x: float, *, color=GREY, width: int = 1, label: str | None = None) -> Axes:
        return self.line((x, x), self.ylim, color=color, width=width, label=label)

    def note(self, text: str, *, corner: str = "bottom-right", color=BLACK) -> Axes:
        """A short text in a corner of the plot area (a number the reader should see)."""
        w, h = text_size(text, size=12)
        x = 6 if "left" in corner else self.plot_w - w - 6
        y = 4 if "top" in corner else self.plot_h - h - 8
        self._draw.rectangle([x - 3, y - 1, x + w + 3, y + h + 5], fill=WHITE)
        self._draw.text((x, y), text, fill=color, font=font(12))
        return self

    # -- finishing ------------------------------------------------------------------------
    def render(self) -> Image.Image:
        img = Image.new("RGB", (self.width, self.height), WHITE)
        img.paste(self._layer, (self.margin_left, self.margin_top))
        draw = ImageDraw.Draw(img)
        x0, y0 = self.margin_left, self.margin_top
        x1, y1 = x0 + self.plot_w - 1, y0 + self.plot_h - 1
        draw.rectangle([x0 - 1, y0 - 1, x1 + 1, y1 + 1], outline=BLACK)

        xticks = self.xticks or nice_ticks(*self.xlim, max_ticks=max(3, self.plot_w // 60))
        for value in xticks:
            (px,), _ = self.to_px([value], [self.ylim[0]])
            draw.line([x0 + px, y1 + 1, x0 + px, y1 + 5], fill=BLACK)
            label = format_tick(value, xticks)
            w, _ = text_size(label, size=12)
            draw.text((x0 + px - w / 2, y1 + 7), label, fill=BLACK, font=font(12))
        yticks = self.yticks or nice_ticks(*self.ylim, max_ticks=max(3, self.plot_h // 50))
        for value in yticks:
            _, (py,) = self.to_px([self.xlim[0]], [value])
            draw.line([x0 - 5, y0 + py, x0 - 1, y0 + py], fill=BLACK)
            label = format_tick(value, yticks)
            w, h = text_size(label, size=12)
            draw.text((x0 - 8 - w, y0 + py - h / 2 - 2), label, fill=BLACK, font=font(12))

        if self.title:
            w, _ = text_size(self.title, size=14)
            draw.text(((self.width - w) / 2 + (self.margin_left - self.margin_right) / 2, 8),
                      self.title, fill=BLACK, font=font(14))
        if self.xlabel:
            w, _ = text_size(self.xlabel, size=13)
            draw.text((x0 + (self.plot_w - w) / 2, self.height - 20), self.xlabel, fill=BLACK, font=font(13))
        if self.ylabel:
            w, h = text_size(self.ylabel, size=13)
            label_img = Image.new("RGB", (w + 4, h + 8), WHITE)
            ImageDraw.Draw(label_img).text((2, 0), self.ylabel, fill=BLACK, font=font(13))
            label_img = label_img.rotate(90, expand=True)
            img.paste(label_img, (4, int(y0 + (self.plot_h - label_img.height) / 2)))
        if self._legend:
            self._draw_legend(draw, x0, y0, x1, y1)
        return img

    def _draw_legend(self, draw: ImageDraw.ImageDraw, x0: int, y0: int, x1: int, y1: int) -> None:
        rows = [(label, color, kind, text_size(label, size=12)) for label, color, kind in self._legend]
        row_h = max(16, max(h for *_, (_, h) in rows) + 6)
        box_w = 28 + max(w for *_, (w, _) in rows)
        box_h = row_h * len(rows) + 4
        left = x1 - box_w - 6 if "right" in self.legend_at else x0 + 6
        y = y0 + 6 if "top" in self.legend_at else y1 - box_h - 6
        draw.rectangle([left, y, left + box_w, y + box_h], fill=WHITE, outline=GREY)
        for label, color, kind, _ in rows:
            cy = y + 2 + row_h / 2
            if kind == "line":
                draw.line([left + 5, cy, left + 21, cy], fill=color, width=3)
            elif kind == "box":
                draw.rectangle([left + 7, cy - 5, left + 19, cy + 5], fill=color)
            else:
                draw.ellipse([left + 10, cy - 3, left + 16, cy + 3], fill=color)
            draw.text((left + 25, cy - row_h / 2 + 2), label, fill=BLACK, font=font(12))
            y += row_h


def side_by_side(panels: Sequence[Axes | Image.Image], *, title: str = "", gap: int = 8) -> Image.Image:
    """Panels left to right on one white canvas, with an optional title above them."""
    images = [p.render() if isinstance(p, Axes) else p for p in panels]
    title_h = text_size(title, size=16)[1] + 18 if title else 0
    width = sum(im.width for im in images) + gap * (len(images) + 1)
    height = max(im.height for im in images) + title_h + 2 * gap
    canvas = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(canvas)
    if title:
        w, _ = text_size(title, size=16)
        draw.text(((width - w) / 2, gap), title, fill=BLACK, font=font(16))
    x = gap
    for im in images:
        canvas.paste(im, (x, title_h + gap))
        x += im.width + gap
    return canvas


def stack(rows: Sequence[Image.Image], *, gap: int = 4) -> Image.Image:
    """Figures top to bottom, left-aligned, on one white canvas."""
    width = max(im.width for im in rows)
    canvas = Image.new("RGB", (width, sum(im.height for im in rows) + gap * (len(rows) - 1)), WHITE)
    y = 0
    for im in rows:
        canvas.paste(im, (0, y))
        y += im.height + gap
    return canvas
