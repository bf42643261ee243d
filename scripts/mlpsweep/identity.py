"""A run's identity: the canonical form of what changes its numbers, and its hash.

A finished run is trained again only when its identity changes. The canonical form leaves
out every key at its default value and every key that cannot change the run (momentum for
an optimizer without momentum, early-stopping settings with patience 0, the test share of a
cross-validated split, names and file paths), so a release that adds a key with a
backward-compatible default changes no identity, and results made by an earlier release
(whose stored config has the defaults of its day, or lacks the new keys) keep theirs:
`tests/test_upgrade.py` runs a sweep of release 0.1 again and checks nothing retrains.

Changing a default's value changes the meaning of configs that leave the key out; the
defaults are pinned by `tests/test_identity.py`, so doing so is a visible, deliberate act.
"""

from __future__ import annotations

import functools
import hashlib
import json

from . import registry
from .config import file_format, load_schema, table_sep

VERSION = 2  # of the canonical form; 1 was release 0.1's hash of the whole resolved config


@functools.lru_cache(maxsize=1)
def defaults() -> dict:
    """The default of every key that can be left out, by section (from the schema and registry)."""
    schema = load_schema()
    props = schema["properties"]

    def of(properties: dict) -> dict:
        return {k: v["default"] for k, v in properties.items() if "default" in v}

    return {
        "architecture": of(schema["$defs"]["architecture"]["properties"]),
        "training": {k: v for k, v in of(props["training"]["properties"]).items() if k != "early_stopping"},
        "early_stopping": of(schema["$defs"]["early_stopping"]["properties"]),
        "split": of(props["split"]["properties"]),
        "sources": {name: of(source.keys) for name, source in registry.SOURCES.items()},
    }


def _number(value):
    """1.0 and 1 are one value: integral floats are written as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_number(v) for v in value]
    return value


def _is_default(value, default) -> bool:
    return value == default and isinstance(value, bool) == isinstance(default, bool)  # True is not 1


def _without_defaults(entry: dict, known: dict) -> dict:
    return {
        key: _number(value) for key, value in entry.items() if not (key in known and _is_default(value, known[key]))
    }


def canonical(run_config: dict) -> dict:
    """The canonical form of a resolved run config (today's, or one stored by an earlier release)."""
    d = defaults()
    ds = dict(run_config["dataset"])
    source = ds.pop("source")
    source_keys = registry.SOURCES[source].keys
    name = ds.pop("name", None)
    if "name" in source_keys and name is not None:
        ds["name"] = name  # the scikit-learn data set, not the sweep's label
    if source == "file":
        # the file's bytes are fingerprinted separately; its format decides how they are read
        ds["format"] = ds.get("format") or file_format(ds.get("path", ""))
        ds.pop("path", None)
        assert ds["format"] in registry.FILE_FORMATS, ds
        if ds.get("sep") and ds["sep"] == table_sep({}, ds["format"]):
            ds.pop("sep")  # the format's own separator, written out: the same run
    if source == "epochs":
        ds.pop("path", None)  # every file's bytes are fingerprinted separately
        if ds.get("windows"):
            # a window's samples do not depend on the crop or the step: widening the crop or
            # adding windows leaves the finished windows' identities alone (the run's own
            # `window` start is part of its identity)
            ds.pop("tmin", None), ds.pop("tmax", None)
            ds["windows"] = {"length": _number(ds["windows"]["length"])}
    dataset = {
        "source": source,
        **_without_defaults(ds, {k: v for k, v in d["sources"][source].items() if k != "format"}),
    }

    arch = {k: v for k, v in run_config["architecture"].items() if k != "name"}
    architecture = _without_defaults(arch, d["architecture"])

    training = dict(run_config["training"])
    stopping = training.pop("early_stopping", {}) or {}
    optimizer = training.get("optimizer", d["training"]["optimizer"])
    for key in ("momentum",):
        if key not in registry.OPTIMIZERS[optimizer].uses:
            training.pop(key, None)
    canon_training = _without_defaults(training, d["training"])
    if stopping.get("patience", 0) > 0:
        canon_training["early_stopping"] = _without_defaults(stopping, d["early_stopping"])

    split = dict(run_config.get("split", {}))
    method = split.get("method", d["split"]["method"])
    for key in ("test", "folds", "group"):
        if key not in registry.SPLIT_METHODS[method].uses:
            split.pop(key, None)
    canon_split = _without_defaults(split, d["split"])

    out = {
        "dataset": dataset,
        "architecture": architecture,
        "training": canon_training,
        "split": canon_split,
        "seed": int(run_config["seed"]),
    }
    for key in ("fold", "permutation"):
        if run_config.get(key) is not None:
            out[key] = int(run_config[key])
    if run_config.get("subject") is not None:
        out["subject"] = str(run_config["subject"])
    if run_config.get("window") is not None:
        out["window"] = window_value(run_config["window"])
    return out


def window_value(start: float):
    """A window start as its identity holds it: seconds, to the microsecond."""
    return _number(round(float(start), 6) + 0.0)


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def text(run_config: dict) -> str:
    return _dumps(canonical(run_config))


def run_hash(run_config: dict) -> str:
    """16 hex digits of the SHA-256 of the canonical form."""
    return _digest(text(run_config))


def _digest(blob: str) -> str:
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CellHasher:
    """run_hash of the runs of one cell (same sections, other seed, fold or permutation),
    with the sections serialized once: planning 100,000 runs stays linear and cheap."""

    def __init__(self, sections: dict):
        form = canonical({**sections, "seed": 0})
        # sorted keys: architecture, dataset, [fold], [permutation], seed, split, [subject], training, [window]
        self.head = '{"architecture":' + _dumps(form["architecture"]) + ',"dataset":' + _dumps(form["dataset"])
        self.split = ',"split":' + _dumps(form["split"])
        self.training = ',"training":' + _dumps(form["training"])
        self.tail = self.split + self.training + "}"

    def __call__(
        self,
        seed: int,
        fold: int | None = None,
        permutation: int | None = None,
        subject: str | None = None,
        window: float | None = None,
    ) -> str:
        middle = (
            (f',"fold":{fold}' if fold is not None else "")
            + (f',"permutation":{permutation}' if permutation is not None else "")
            + f',"seed":{seed}'
        )
        if subject is None and window is None:
            return _digest(self.head + middle + self.tail)
        subject = "" if subject is None else ',"subject":' + _dumps(str(subject))
        window = "" if window is None else ',"window":' + _dumps(window_value(window))
        return _digest(self.head + middle + self.split + subject + self.training + window + "}")
