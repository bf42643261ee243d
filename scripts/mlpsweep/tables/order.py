"""The order of the tables' rows: configured data sets and architectures first, the rest in
natural order (lr0.01 before lr0.1, h8 before h16)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .runs import KEYS


def natural_key(text: str):
    """A sort key that orders the numbers inside a text by value."""
    return [
        float(t) if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", t) else t
        for t in re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", str(text))
        if t
    ]


def order_of(values: pd.Series, preferred: list[str]) -> list[str]:
    """The distinct values: the preferred ones first, the rest in natural order."""
    distinct = values.unique().tolist()
    head = [v for v in preferred if v in distinct]
    return head + sorted((v for v in distinct if v not in head), key=natural_key)


def rank(values: pd.Series, order: list[str]) -> np.ndarray:
    """Each value's place in `order`."""
    return pd.Categorical(values, categories=order).codes


def cell_ranks(frame: pd.DataFrame, options: dict) -> dict[str, np.ndarray]:
    """_dataset, _architecture, _hparams: each row's cell in table order, as sort columns."""
    preferred = {"dataset": options["dataset_order"], "architecture": options["architecture_order"], "hparams": []}
    return {f"_{k}": rank(frame[k], order_of(frame[k], preferred[k])) for k in KEYS}


def sort_runs(runs: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Data sets and architectures in the configured order, then natural order; real runs
    of a cell by seed and fold, its permutation runs after them."""
    keys = cell_ranks(runs, options)
    keyed = runs.assign(**keys, _p=runs["permutation"].fillna(0), _f=runs["fold"].fillna(-1))
    order = keyed.sort_values([*keys, "_p", "seed", "_f"], kind="stable").index
    return runs.loc[order].reset_index(drop=True)


def real_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs a cell's statistics are made of: all but the label-permutation runs."""
    return runs[runs["permutation"].isna()]
