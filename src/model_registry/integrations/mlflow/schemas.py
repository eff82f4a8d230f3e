"""The data schemas of a prediction: what goes into an adapter and what comes out.

:class:`Outputs` is what every adapter's ``predict`` returns: the prediction itself plus
:class:`OutputMetadata` saying which model produced it, how (the model, its fallback method, or
the chat client) and how long it took, so a serving endpoint can report it as it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd  # type: ignore[import-untyped]

__all__ = ["Inputs", "OutputMetadata", "Outputs", "Source"]

#: How a prediction was made: the model's ``predict``, the model's ``fallback_predict``, or
#: the configured chat completion client.
Source = Literal["model", "fallback", "llm"]


@dataclass(frozen=True)
class Inputs:
    """The inputs of one prediction.

    Attributes:
        data: What the model's ``predict`` receives (a ``DataFrame`` when MLflow applied a
            signature, else as given).
    """

    data: Any

    @classmethod
    def of(cls, value: Any) -> Inputs:
        """Wrap ``value`` as :class:`Inputs` (an :class:`Inputs` is returned as it is)."""
        return value if isinstance(value, Inputs) else cls(value)

    def records(self) -> Any:
        """The inputs as JSON-ready values (a ``DataFrame`` becomes a list of row objects)."""
        if isinstance(self.data, pd.DataFrame):
            return self.data.to_dict(orient="records")
        if isinstance(self.data, pd.Series):
            return self.data.tolist()
        return self.data

    def to_prompt(self) -> str:
        """The inputs as text for a chat model: their JSON form (``str()`` for the rest)."""
        return json.dumps(self.records(), default=str)


@dataclass(frozen=True)
class OutputMetadata:
    """How a prediction was made.

    Attributes:
        model: Who predicted: the model's class name, or the chat model's name for ``"llm"``.
        source: ``"model"``, ``"fallback"`` or ``"llm"``.
        latency_ms: Time the successful attempt took, in milliseconds.
        errors: What failed before it, one ``"what: ErrorType: message"`` line per attempt.
    """

    model: str
    source: Source
    latency_ms: float
    errors: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outputs:
    """The result of a prediction: the prediction and its metadata.

    Attributes:
        prediction: What the model (or its fallback) returned.
        metadata: Which model produced it, how, and how long it took.
    """

    prediction: Any
    metadata: OutputMetadata

    def to_dict(self) -> dict[str, Any]:
        """The outputs as plain values, e.g. for a JSON response."""
        return {"prediction": self.prediction, "metadata": asdict(self.metadata)}
