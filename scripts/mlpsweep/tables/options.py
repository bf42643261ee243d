"""The `summary:` options of a sweep and the numbers they decide: direction, scale, decimals."""

from __future__ import annotations

import copy
import functools

import pandas as pd

from ..config import first_error, load_schema
from ..refusal import refusal
from ..registry import METRICS


@functools.lru_cache(maxsize=1)
def _options_schema() -> dict:
    return load_schema()["properties"]["summary"]


def options_with_defaults(options: dict | None) -> dict:
    """The `summary:` options with the schema's defaults filled in; ValueError if invalid."""
    filled = copy.deepcopy(dict(options or {}))
    error = first_error(filled, _options_schema(), prefix="summary")
    if error:
        key, problem, fix = error
        raise ValueError(refusal(None, problem, fix, key=key))
    return filled


def higher_is_better(metric: str, options: dict) -> bool:
    """The registry's direction; `higher_is_better: false` turns higher-is-better metrics around."""
    return METRICS[metric].higher_is_better and bool(options["higher_is_better"])


def scale_of(metric: str, options: dict) -> float:
    """100 for the registry's percent metrics when `percent` is set, else 1."""
    return 100.0 if options["percent"] and METRICS[metric].percent else 1.0


def fmt(value: float, metric: str, options: dict) -> str:
    """A metric's value as the tables show it: counts whole, others scaled, `decimals` places."""
    if value is None or pd.isna(value):
        return ""
    if METRICS[metric].unit in ("count", "epochs"):
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{value * scale_of(metric, options):.{options['decimals']}f}"
