"""Bar charts drawn straight to PNG with Pillow, for the statistics picture of data preparation.

matplotlib would draw them too, but importing it takes about half a second of CPU: a third of
all the work of preparing a few hundred clips on two cores. These charts need only bars, a
frame, ticks and labels, which Pillow draws in a few milliseconds.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kurdish_tts.files import write_bytes_atomic

INK = (40, 40, 40)
GRID = (225, 225, 225)
MARK = (214, 39, 40)  # a threshold's line
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 48, 14, 28, 44  # pixels around each plot area


@dataclass(frozen=True)
class Panel:
    """One bar chart: bar i spans edges[i]..edges[i + 1] and is heights[i] tall; a vertical line at
    `marker`, when given (a filter's threshold)."""

    title: str
    xlabel: str
    edges: np.ndarray
    heights: np.ndarray
    color: tuple[int, int, int]
    marker: float | None = None


def histogram(values, title: str, xlabel: str, color: tuple[int, int, int], bins: int | np.ndarray = 30,
              marker: float | None = None) -> Panel:
    """`bins`: a number of equal bins over the values' range, or the bins' edges."""
    heights, edges = np.histogram(np.asarray(values, dtype=float), bins=bins)
    return Panel(title, xlabel, edges, heights, color, marker)


def bars(heights, title: str, xlabel: str, color: tuple[int, int, int]) -> Panel:
    """One bar per value, at 0, 1, 2, ..."""
    heights = np.asarray(heights, dtype=float)
    return Panel(title, xlabel, np.arange(len(heights) + 1, dtype=float), heights, color)


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """About `count` round values (steps of 1, 2 or 5 times a power of ten) within [low, high]."""
    if not high > low:
        return np.array([low])
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return np.arange(math.ceil(low / step) * step, high + step * 1e-9, step)


def tick_label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def save_panels(panels: list[Panel], path: Path, panel_size: tuple[int, int] = (347, 290)) -> None:
    """Draw the panels side by side and write the PNG atomically."""
    width, height = panel_size
    image = Image.new("RGB", (width * len(panels), height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    for i, panel in enumerate(panels):
        _draw_panel(draw, font, panel, (i * width + MARGIN_LEFT, MARGIN_TOP, (i + 1) * width - MARGIN_RIGHT, height - MARGIN_BOTTOM))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes_atomic(Path(path), buffer.getvalue())


def _draw_panel(draw: ImageDraw.ImageDraw, font, panel: Panel, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    x_low, x_high = float(panel.edges[0]), float(panel.edges[-1])
    y_high = max(float(panel.heights.max(initial=0)), 1.0) * 1.05

    def x_pixel(x):
        return left + (np.asarray(x, dtype=float) - x_low) / max(x_high - x_low, 1e-12) * (right - left)

    def y_pixel(y):
        return bottom - np.asarray(y, dtype=float) / y_high * (bottom - top)

    for y in nice_ticks(0, y_high):
        row = float(y_pixel(y))
        draw.line([(left, row), (right, row)], fill=GRID)
        _text(draw, font, (left - 5, row), tick_label(y), anchor="right")
    for x in nice_ticks(x_low, x_high):
        column = float(x_pixel(x))
        draw.line([(column, bottom), (column, bottom + 4)], fill=INK)
        _text(draw, font, (column, bottom + 6), tick_label(x), anchor="top")
    # the bars as one filled outline: a staircase over the edges, closed along the x axis
    xs, ys = x_pixel(panel.edges), y_pixel(panel.heights)
    outline = [(float(xs[0]), bottom)]
    for j, y in enumerate(ys):
        outline += [(float(xs[j]), float(y)), (float(xs[j + 1]), float(y))]
    outline.append((float(xs[-1]), bottom))
    draw.polygon(outline, fill=panel.color)
    if panel.marker is not None and x_low <= panel.marker <= x_high:
        column = float(x_pixel(panel.marker))
        draw.line([(column, top), (column, bottom)], fill=MARK, width=2)
    draw.rectangle(box, outline=INK)
    _text(draw, font, ((left + right) / 2, top - 20), panel.title, anchor="top")
    _text(draw, font, ((left + right) / 2, bottom + 24), panel.xlabel, anchor="top")


def _text(draw: ImageDraw.ImageDraw, font, at: tuple[float, float], text: str, anchor: str) -> None:
    """Text centred below `at` (anchor "top") or ending left of it, centred vertically ("right")."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    if anchor == "top":
        position = (at[0] - (x1 - x0) / 2 - x0, at[1] - y0)
    else:
        position = (at[0] - x1, at[1] - (y1 + y0) / 2)
    draw.text(position, text, fill=INK, font=font)
