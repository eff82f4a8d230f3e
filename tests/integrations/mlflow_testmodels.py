"""Tiny models the MLflow tests save and load (a module of its own so pickles find them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Doubler:
    """Doubles column ``x``, times the ``factor`` of its configuration (1 by default)."""

    def __init__(self) -> None:
        self.factor = 1.0

    def configure(self, config: Mapping[str, Any]) -> None:
        self.factor = float(config.get("factor", 1.0))

    def predict(self, inputs: Any) -> list[float]:
        return [float(x) * 2 * self.factor for x in inputs["x"]]


class NoPredict:
    """Not a model: it has no ``predict``."""

    def fit(self) -> None:
        return None
