"""Helpers of the MLflow tests: tiny models to save and load (in a module of their own, so
pickles find them by name) and the local MLflow description the fixtures hand out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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


@dataclass
class LocalMlflow:
    """A local MLflow: SQLite tracking store and artifact directory under ``root``."""

    root: Path
    tracking_uri: str
    experiment_id: str

    def config_file(self, name: str = "config.json", **config: Any) -> Path:
        """Write a model configuration JSON file and return its path."""
        path = self.root / name
        path.write_text(json.dumps(config), encoding="utf-8")
        return path


class Down:
    """A model whose ``predict`` always fails."""

    def predict(self, inputs: Any) -> list[float]:
        raise RuntimeError("model is down")


class DownWithFallback(Down):
    """Fails in ``predict``; its ``fallback_predict`` answers a constant per row."""

    def fallback_predict(self, inputs: Any) -> list[float]:
        return [-1.0 for _ in inputs["x"]]


class AllDown(Down):
    """Fails in ``predict`` and in ``fallback_predict``."""

    def fallback_predict(self, inputs: Any) -> list[float]:
        raise ArithmeticError("fallback is down too")
