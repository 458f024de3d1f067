"""The release gate: thresholds from `evals/gates.toml` applied to a run's metrics."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

DEFAULT_GATES = Path(__file__).resolve().parent / "gates.toml"


class Gate(BaseModel):
    """One threshold: the metric must be at least `min` or at most `max`."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Gate:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"gate {self.metric}: give exactly one of min or max")
        return self


class GateResult(BaseModel):
    """A gate's verdict on this run."""

    metric: str
    threshold: str
    value: float | None
    status: Literal["pass", "fail", "skipped"]


class GateFileError(ValueError):
    """The gates file cannot be read."""


def load_gates(path: Path = DEFAULT_GATES) -> list[Gate]:
    """Every gate of the file."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        return [Gate.model_validate(g) for g in raw.get("gate", [])]
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise GateFileError(f"gates file {path}: {exc}") from exc


def apply_gates(gates: list[Gate], metrics: dict[str, float | None]) -> list[GateResult]:
    """Check each gate; a metric this run did not compute is skipped, never passed."""
    results = []
    for gate in gates:
        threshold = f">= {gate.min:g}" if gate.min is not None else f"<= {gate.max:g}"
        value = metrics.get(gate.metric)
        if value is None:
            status: Literal["pass", "fail", "skipped"] = "skipped"
        elif gate.min is not None:
            status = "pass" if value >= gate.min else "fail"
        else:
            status = "pass" if gate.max is not None and value <= gate.max else "fail"
        results.append(GateResult(metric=gate.metric, threshold=threshold, value=value, status=status))
    return results
