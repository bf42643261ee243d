"""Load and validate a sweep configuration; every refusal names file, key and fix."""

from __future__ import annotations

import copy
import difflib
import itertools
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
PATH_RE = re.compile(r"^[A-Za-z0-9_./-]+$")  # the results directory: no spaces or shell metacharacters
MODULE_RE = re.compile(r"^[A-Za-z0-9_.+/-]+$")  # Snakemake puts module names into a `module load` shell command
ACTIVATIONS = ("relu", "elu", "gelu", "selu", "tanh", "sigmoid", "swish", "silu", "leaky_relu", "linear")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam")
SKLEARN_DATASETS = ("digits", "wine", "breast_cancer", "iris")
FILE_FORMATS = ("csv", "tsv", "parquet", "npz")
DATASET_KEYS = {
    "synthetic": {
        "source": None,
        "n_samples": 1000,
        "n_features": 20,
        "n_classes": 2,
        "separation": 1.5,
        "noise": 1.0,
        "seed": 0,
        "class_names": None,
    },
    "sklearn": {"source": None, "name": None},
    "file": {"source": None, "path": None, "format": None, "label": None, "features": None, "x": "x", "y": "y", "class_names": None},
}


class ConfigError(ValueError):
    """A configuration that cannot run; the message says where and how to fix it."""


def _where(source: str, key: str) -> str:
    return f"{source}: key '{key}'" if key else f"{source}"


def _fail(source: str, key: str, problem: str, fix: str) -> None:
    raise ConfigError(f"{_where(source, key)}: {problem}. Fix: {fix}")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def load_schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' may override keys on purpose
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise _DuplicateKey(None, None, f"key '{key}' is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML config file, refusing unreadable or malformed files and duplicate keys clearly."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found. Fix: pass an existing file with --configfile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc}). Fix: check its permissions and encoding (UTF-8)") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc.problem}. Fix: keep one of them; names and keys must be unique") from None
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"{path}: unsupported YAML at line {exc.problem_mark.line + 1}: {exc.problem}. Fix: use plain YAML values (tags such as !!python/... are refused)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: malformed YAML{at}: {getattr(exc, 'problem', exc)}. Fix: correct the YAML syntax there") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(data).__name__}. Fix: start from config/config.yaml")
    return data


def _json_path(error: jsonschema.ValidationError) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (("." if parts else "") + str(p)))
    return "".join(parts)


def _schema_error_message(error: jsonschema.ValidationError, schema: dict) -> tuple[str, str, str]:
    key = _json_path(error)
    v = error.validator
    if v == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        bad = extra[0] if extra else "?"
        full = f"{key}.{bad}" if key else bad
        return full, f"unknown key '{bad}'{_suggest(bad, allowed)}", f"use one of: {', '.join(allowed)}"
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        full = f"{key}.{missing}" if key else missing
        return full, "required key is missing", f"add '{missing}' (see config/README.md)"
    if v == "enum":
        return key, f"value {error.instance!r} is not allowed{_suggest(error.instance, error.validator_value)}", f"use one of: {', '.join(map(str, error.validator_value))}"
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        if "number" in want and isinstance(error.instance, str) and _is_number(error.instance):
            return key, f"value {error.instance!r} was read as text (YAML needs a dot in exponent notation)", f"write it as a number with a dot, e.g. {float(error.instance):.1e}"
        return key, f"value {error.instance!r} has the wrong type", f"give a value of type {want}"
    if v == "pattern" or (v == "propertyNames"):
        return key, f"name {error.instance!r} is not allowed", "use only letters, digits, '_' and '-' (names become directory names)"
    if v in RANGE_WORDS:
        return key, f"value {error.instance!r} is out of range", f"give a value {RANGE_WORDS[v]} {error.validator_value}"
    if v in ("minItems", "minProperties"):
        return key, "is empty", "give at least one entry"
    if v == "uniqueItems":
        return key, f"has duplicates {error.instance!r}", "list each value once"
    return key, error.message, "see config/README.md"


RANGE_WORDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fill_defaults(instance: Any, schema: dict, root: dict) -> Any:
    """Insert schema `default:` values for absent keys, recursively."""
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        merged = {**root["$defs"][ref], **{k: v for k, v in schema.items() if k != "$ref"}}
        schema = merged
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                instance[key] = _fill_defaults(instance[key], sub, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in instance:
                if key not in schema.get("properties", {}):
                    instance[key] = _fill_defaults(instance[key], extra, root)
    return instance


def validate_config(raw: dict, source: str = "config") -> dict:
    """Return a validated copy of `raw` with defaults filled in, or raise ConfigError."""
    schema = load_schema()
    cfg = copy.deepcopy(raw)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
    if errors:
        key, problem, fix = _schema_error_message(errors[0], schema)
        _fail(source, key, problem, fix)
    cfg = _fill_defaults(cfg, schema, schema)
    _check_semantics(cfg, source)
    return cfg


def _check_semantics(cfg: dict, source: str) -> None:
    if not cfg["results"].strip().rstrip("/"):
        _fail(source, "results", f"{cfg['results']!r} names no directory (outputs would land in the file system root)", "give a directory such as results")
    if not PATH_RE.match(cfg["results"]):
        _fail(source, "results", f"{cfg['results']!r} has characters other than letters, digits and _ . - /", "choose a path without spaces or shell metacharacters, e.g. /scratch/me/sweep1")
    for i, module in enumerate(cfg["execution"]["env_modules"]):
        if not MODULE_RE.match(module):
            _fail(source, f"execution.env_modules[{i}]", f"{module!r} is not a module name (Snakemake passes it to a shell)", "give one module per entry, e.g. cuda/12.2 (letters, digits, _ . + - /)")
    for table in ("datasets", "architectures"):
        lower = {}
        for name in cfg[table]:
            if name.lower() in lower:
                _fail(source, table, f"names {lower[name.lower()]!r} and {name!r} differ only in case and would share a directory on macOS and Windows", "rename one of them")
            lower[name.lower()] = name
    for name, spec in cfg["datasets"].items():
        _check_dataset(name, spec, source)
    for name, arch in cfg["architectures"].items():
        key = f"architectures.{name}"
        if not arch["hidden"]:
            _fail(source, f"{key}.hidden", "needs at least one hidden layer width", "give a list such as [32, 64, 64]")
        for i, width in enumerate(arch["hidden"]):
            if width <= 0:
                _fail(source, f"{key}.hidden[{i}]", f"width {width} must be > 0", "use positive integers such as 32")
        if arch["activation"] not in ACTIVATIONS:
            _fail(source, f"{key}.activation", f"unknown activation {arch['activation']!r}{_suggest(arch['activation'], ACTIVATIONS)}", f"use one of: {', '.join(ACTIVATIONS)}")
    train = cfg["training"]
    for opt in [train["optimizer"], *cfg["grid"].get("optimizer", [])]:
        if opt not in OPTIMIZERS:
            key = "grid.optimizer" if opt != train["optimizer"] else "training.optimizer"
            _fail(source, key, f"unknown optimizer {opt!r}{_suggest(opt, OPTIMIZERS)}", f"use one of: {', '.join(OPTIMIZERS)}")
    for key, values in cfg["grid"].items():
        if len(set(map(repr, values))) != len(values):
            _fail(source, f"grid.{key}", f"has duplicate values {values!r}", "list each value once")
    split = cfg["split"]
    if split["validation"] + split["test"] >= 0.9:
        _fail(source, "split", f"validation + test = {split['validation'] + split['test']:.2f} leaves too little for training", "keep validation + test below 0.9")
    for i, rule in enumerate(cfg["exclude"]):
        for key, table in (("dataset", cfg["datasets"]), ("architecture", cfg["architectures"])):
            if key in rule and rule[key] not in table:
                _fail(source, f"exclude[{i}].{key}", f"{rule[key]!r} is not declared{_suggest(rule[key], table)}", f"use one of: {', '.join(table)}")
    if not _any_grid_point_left(cfg):
        _fail(source, "exclude", "the grid is empty after exclusions", "remove an exclude rule or add seeds, data sets or architectures")
    summary = cfg["summary"]
    if summary["best_by"] not in summary["metrics"] and summary["best_by"] not in ("test_accuracy",):
        _fail(source, "summary.best_by", f"{summary['best_by']!r} is not among summary.metrics", "add it to summary.metrics or choose one of them")
    for key, table in (("dataset_order", cfg["datasets"]), ("architecture_order", cfg["architectures"])):
        for item in summary[key]:
            if item not in table:
                _fail(source, f"summary.{key}", f"{item!r} is not declared{_suggest(item, table)}", f"use names from: {', '.join(table)}")


def _any_grid_point_left(cfg: dict) -> bool:
    """Whether some data set x architecture x grid point x seed escapes every exclude rule."""
    keys = list(cfg["grid"])
    for ds, arch, seed, *combo in itertools.product(cfg["datasets"], cfg["architectures"], cfg["seeds"], *cfg["grid"].values()):
        values = {**cfg["training"], **dict(zip(keys, combo)), "dataset": ds, "architecture": arch, "seed": seed}
        if not any(all(values.get(k) == v for k, v in rule.items()) for rule in cfg["exclude"]):
            return True
    return False


def _check_dataset(name: str, spec: dict, source: str) -> None:
    key = f"datasets.{name}"
    kind = spec["source"]
    allowed = DATASET_KEYS[kind]
    for k in spec:
        if k not in allowed:
            _fail(source, f"{key}.{k}", f"unknown key for source '{kind}'{_suggest(k, allowed)}", f"use one of: {', '.join(allowed)}")
    if kind == "synthetic":
        for k in ("n_samples", "n_features", "n_classes"):
            value = spec.get(k, allowed[k])
            if not isinstance(value, int) or isinstance(value, bool) or value < (2 if k != "n_features" else 1):
                _fail(source, f"{key}.{k}", f"{value!r} is not a valid count", f"give an integer >= {2 if k != 'n_features' else 1}")
        for k in ("separation", "noise"):
            value = spec.get(k, allowed[k])
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                _fail(source, f"{key}.{k}", f"{value!r} must be a number >= 0", "give a non-negative number")
        names = spec.get("class_names")
        n_classes = spec.get("n_classes", allowed["n_classes"])
        if names is not None and (not isinstance(names, list) or len(names) != n_classes):
            _fail(source, f"{key}.class_names", f"needs {n_classes} names", "give one name per class or leave it out")
    elif kind == "sklearn":
        if spec.get("name") not in SKLEARN_DATASETS:
            _fail(source, f"{key}.name", f"unknown scikit-learn data set {spec.get('name')!r}{_suggest(spec.get('name'), SKLEARN_DATASETS)}", f"use one of: {', '.join(SKLEARN_DATASETS)}")
    elif kind == "file":
        path = spec.get("path")
        if not isinstance(path, str) or not path:
            _fail(source, f"{key}.path", "a file source needs a path", "give the data file's path, relative to the working directory")
        fmt = spec.get("format") or file_format(path)
        if spec.get("format") is not None and fmt not in FILE_FORMATS:
            _fail(source, f"{key}.format", f"format {fmt!r} is not supported{_suggest(fmt, FILE_FORMATS)}", f"use one of: {', '.join(FILE_FORMATS)}")
        if fmt not in FILE_FORMATS:
            _fail(source, f"{key}.format", f"cannot tell the format of {path!r}", f"name the file *.csv, *.tsv, *.parquet or *.npz, or set format to one of: {', '.join(FILE_FORMATS)}")
        if Path(path).is_dir():
            _fail(source, f"{key}.path", f"{path!r} is a directory, not a data file", "give the path of the data file itself")
        if not Path(path).is_file():
            _fail(source, f"{key}.path", f"data file {path!r} does not exist (working directory {os.getcwd()})", "check the path; relative paths start at the directory snakemake runs in")
        if not os.access(path, os.R_OK):
            _fail(source, f"{key}.path", f"data file {path!r} is not readable", "fix its permissions (chmod a+r)")
        if fmt in ("csv", "tsv", "parquet"):
            label = spec.get("label")
            if not isinstance(label, str) or not label:
                _fail(source, f"{key}.label", "a table needs the name of its label column", "set label: <column name>")
            features = spec.get("features")
            if features is not None and (not isinstance(features, list) or not features or not all(isinstance(c, str) for c in features)):
                _fail(source, f"{key}.features", f"{features!r} is not a list of column names", "give a list such as [age, height], or leave features out to use all columns but the label")
            if features is not None and label in features:
                _fail(source, f"{key}.features", f"the label column {label!r} is listed as a feature (the model would see the answer)", "remove it from features")
            columns = table_columns(path, fmt)
            if columns is not None and label not in columns:
                _fail(source, f"{key}.label", f"label column {label!r} is not in {path}{_suggest(label, columns)}", f"use one of its columns: {', '.join(map(str, columns[:20]))}")
            if features is not None and columns is not None:
                for col in features:
                    if col not in columns:
                        _fail(source, f"{key}.features", f"column {col!r} is not in {path}{_suggest(col, columns)}", "name existing columns or leave features out to use all but the label")


def file_format(path: str) -> str | None:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"csv": "csv", "tsv": "tsv", "txt": "tsv", "parquet": "parquet", "pq": "parquet", "npz": "npz"}.get(suffix)


def table_columns(path: str, fmt: str) -> list[str] | None:
    """Column names of a table file, read cheaply; None when the file cannot be parsed here."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        import pandas as pd

        return [str(c) for c in pd.read_csv(path, sep="," if fmt == "csv" else "\t", nrows=0).columns]
    except Exception:  # the data module reports unparsable files per run, with the full reason
        return None


def load_config(path: str | os.PathLike) -> dict:
    """Read, validate and fill defaults of the YAML file at `path`."""
    return validate_config(read_yaml(path), source=str(path))
