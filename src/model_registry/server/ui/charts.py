"""Line charts of run metrics as inline SVG geometry, computed on the server.

A chart is a handful of numbers (the polyline's points, the axis ticks) that the template
writes into an ``<svg>``: no charting library, no script, nothing for the Content-Security-Policy
to allow. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chart", "Point", "line_chart"]

MAX_MARKERS = 200
"""Up to this many values, each gets a dot (with its step and value); beyond, only the line."""
WIDTH = 480
HEIGHT = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Point:
    """One logged value: its step, its value, and where it is drawn."""

    step: float
    value: float
    x: float
    y: float

    @property
    def step_label(self) -> str:
        """The step as written (``3``, not ``3.0``)."""
        return _label(self.step)


@dataclass(frozen=True)
class Chart:
    """The geometry of one metric's line chart.

    Attributes:
        name: The metric's name.
        points: The logged values in step order, with their drawing coordinates.
        polyline: The ``points`` attribute of the SVG polyline.
        x_ticks: ``(x, label)`` of the step axis.
        y_ticks: ``(y, label)`` of the value axis.
        width: The SVG width.
        height: The SVG height.
    """

    name: str
    points: tuple[Point, ...]
    polyline: str
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def markers(self) -> tuple[Point, ...]:
        """The points drawn as dots: all of them, or none when they would only blur the line."""
        return self.points if len(self.points) <= MAX_MARKERS else ()

    @property
    def left(self) -> int:
        """Where the plot area starts (the value axis)."""
        return _LEFT

    @property
    def bottom(self) -> int:
        """Where the plot area ends (the step axis)."""
        return self.height - _BOTTOM


def _label(value: float) -> str:
    return f"{value:.4g}"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high == low:
        return [low]
    return [low + (high - low) * i / count for i in range(count + 1)]


def line_chart(name: str, samples: Sequence[tuple[float, float]]) -> Chart:
    """Lay out ``(step, value)`` samples as a line chart.

    Args:
        name: The metric name (the chart's title).
        samples: The logged ``(step, value)`` pairs in any order; non-finite values are left
            out (they cannot be drawn).

    Returns:
        The chart geometry; a flat or single-point series is drawn in the middle.
    """
    finite = sorted(
        (s for s in samples if math.isfinite(s[0]) and math.isfinite(s[1])),
        key=lambda s: s[0],
    )
    if not finite:
        return Chart(name, (), "", (), ())
    steps = [s for s, _ in finite]
    values = [v for _, v in finite]
    lo_s, hi_s, lo_v, hi_v = min(steps), max(steps), min(values), max(values)
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM

    def x_of(step: float) -> float:
        return _LEFT + (plot_w / 2 if hi_s == lo_s else (step - lo_s) / (hi_s - lo_s) * plot_w)

    def y_of(value: float) -> float:
        frac = 0.5 if hi_v == lo_v else (value - lo_v) / (hi_v - lo_v)
        return _TOP + (1 - frac) * plot_h

    points = tuple(Point(s, v, round(x_of(s), 2), round(y_of(v), 2)) for s, v in finite)
    return Chart(
        name,
        points,
        " ".join(f"{p.x},{p.y}" for p in points),
        tuple((round(x_of(t), 2), _label(t)) for t in _ticks(lo_s, hi_s)),
        tuple((round(y_of(t), 2), _label(t)) for t in _ticks(lo_v, hi_v)),
    )
