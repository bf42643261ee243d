"""Points of a random or Sobol search over ranges (`search:`), each a grid point of its own.

Pure: the `search:` section of a validated config gives the same points, in the same order,
on every machine. A point is `{canonical key: value}` with its label `s000`, `s001`, ...:
the label of the i-th point depends on i alone (three digits, more only past s999), and the
i-th point on the seed, the method and the space alone, so raising `samples` keeps every
earlier point, its label and its finished runs, and adds new ones.

Sampled floats are rounded to `digits` significant digits before they enter a run's config
(and so its identity and its directory), so they are the same on every machine.
"""

from __future__ import annotations

import math

import numpy as np

from .config import canonical_key
from .refusal import refusal

LABEL_DIGITS = 3


def label(index: int) -> str:
    """The directory label of the index-th point: s000 ... s999, s1000, ..."""
    return f"s{index:0{LABEL_DIGITS}d}"


def is_active(search: dict) -> bool:
    """Whether a sweep samples points at all (no `search:` section samples none)."""
    return bool(search.get("space")) and search.get("samples", 0) > 0


def distribution(spec: dict) -> tuple[str, list]:
    """(name, arguments) of one key's distribution, e.g. ('log_uniform', [1e-4, 0.1])."""
    ((name, args),) = spec.items()
    return name, args


def round_significant(value: float, digits: int) -> float:
    """`value` to `digits` significant digits (as its shortest decimal text says it)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")


def unit_points(method: str, samples: int, dims: int, seed: int) -> np.ndarray:
    """samples x dims numbers in [0, 1): a scrambled Sobol sequence or independent uniforms.

    Prefix-stable: the first n rows are the same whatever `samples` >= n is. Sobol draws the
    next power of two and keeps the prefix (its first n points do not depend on how many are
    drawn), so SciPy's balance warning is said once, at planning (`warnings_of`).
    """
    if samples <= 0 or dims <= 0:
        return np.zeros((max(samples, 0), max(dims, 0)))
    if method == "sobol":
        from scipy.stats import qmc  # imported when a sweep samples, not to plan every grid

        engine = qmc.Sobol(dims, scramble=True, rng=seed)
        return engine.random_base2(max(0, math.ceil(math.log2(samples))))[:samples]
    # One generator per point, seeded by (seed, index): the i-th point never depends on how many are drawn.
    return np.array([np.random.default_rng([seed, i]).random(dims) for i in range(samples)])


def transform(u: float, spec: dict, digits: int):
    """The value of one key at u in [0, 1) under its distribution."""
    name, args = distribution(spec)
    if name == "choice":
        return args[min(int(u * len(args)), len(args) - 1)]
    low, high = args
    if name == "int_uniform":
        return int(min(low + math.floor(u * (high - low + 1)), high))
    if name == "log_uniform":
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    return min(max(round_significant(value, digits), float(low)), float(high))


def sample(search: dict) -> list[tuple[str, dict]]:
    """(label, {canonical key: value}) of every point of the search, in label order; [] for none."""
    if not is_active(search):
        return []
    space = search["space"]
    keys = list(space)
    units = unit_points(search["method"], search["samples"], len(keys), search["seed"])
    return [
        (label(i), {canonical_key(k): transform(float(u), space[k], search["digits"]) for k, u in zip(keys, row)})
        for i, row in enumerate(units)
    ]


def keys(search: dict) -> list[str]:
    """The canonical keys a search samples, in the order of `space` ([] for none)."""
    return [canonical_key(k) for k in search.get("space", {})] if is_active(search) else []


def log_keys(search: dict) -> list[str]:
    """The sampled keys drawn on a log scale (plotted on a log axis)."""
    return (
        [canonical_key(k) for k, spec in search.get("space", {}).items() if distribution(spec)[0] == "log_uniform"]
        if is_active(search)
        else []
    )


def warnings_of(search: dict, source: str = "config") -> list[str]:
    """What to warn about at planning: a Sobol search whose sample count is not a power of 2."""
    n = search.get("samples", 0)
    if is_active(search) and search["method"] == "sobol" and n & (n - 1):
        lower, upper = 1 << (n.bit_length() - 1), 1 << n.bit_length()
        problem = f"{n} is not a power of 2; the balance properties of Sobol' points require n to be a power of 2"
        problem += " (SciPy)"
        return [refusal(source, problem, f"use {lower} or {upper} samples, or method: random", key="search.samples")]
    return []
