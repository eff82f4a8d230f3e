"""The metric chart geometry (pure): points in step order, scaled into the plot area."""

from __future__ import annotations

import math

from model_registry.server.ui.charts import HEIGHT, MAX_MARKERS, WIDTH, line_chart


def test_points_are_sorted_by_step_and_span_the_plot_area() -> None:
    chart = line_chart("loss", [(3, 0.3), (1, 0.9), (2, 0.5)])

    assert [(p.step, p.value) for p in chart.points] == [(1, 0.9), (2, 0.5), (3, 0.3)]
    xs = [p.x for p in chart.points]
    ys = [p.y for p in chart.points]
    assert xs == sorted(xs) and xs[0] == chart.left and xs[-1] < WIDTH
    assert ys == sorted(ys)  # falling values go down the page (growing y)
    assert ys[-1] == chart.bottom
    assert chart.polyline == " ".join(f"{p.x},{p.y}" for p in chart.points)
    assert chart.x_ticks[0][1] == "1" and chart.x_ticks[-1][1] == "3"


def test_a_single_or_flat_series_is_drawn_in_the_middle_and_non_finite_values_are_dropped() -> None:
    flat = line_chart("acc", [(1, 0.5), (2, 0.5), (3, math.nan), (4, math.inf)])
    single = line_chart("one", [(7, 1.0)])

    assert [p.step for p in flat.points] == [1, 2]
    assert {p.y for p in flat.points} == {flat.points[0].y}
    assert 0 < flat.points[0].y < HEIGHT
    assert len(single.points) == 1 and 0 < single.points[0].x < WIDTH
    assert line_chart("none", []).points == ()


def test_a_long_series_is_drawn_as_a_line_without_a_dot_per_value() -> None:
    short = line_chart("loss", [(i, 1 / (i + 1)) for i in range(MAX_MARKERS)])
    long = line_chart("loss", [(i, 1 / (i + 1)) for i in range(MAX_MARKERS + 1)])

    assert short.markers == short.points
    assert long.markers == ()
    assert len(long.polyline.split()) == MAX_MARKERS + 1
