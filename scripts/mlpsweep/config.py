"""Load and validate a sweep configuration; every refusal names file, key and fix."""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import registry
from .refusal import refusal, suggest

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
PATH_RE = re.compile(r"^[A-Za-z0-9_./-]+$")  # the results directory: no spaces or shell metacharacters
MODULE_RE = re.compile(r"^[A-Za-z0-9_.+/-]+$")  # Snakemake puts module names into a `module load` shell command
SWEEP_SECTIONS = ("training", "architecture", "dataset", "split")


class ConfigError(ValueError):
    """A configuration that cannot run; the message says where and how to fix it."""


def _fail(source: str, key: str, problem: str, fix: str) -> None:
    raise ConfigError(refusal(source, problem, fix, key=key))


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    _fill_from_registry(schema)
    return schema


def load_schema() -> dict:
    """The config schema with the registry's names (`x-registry`) and data source keys filled in."""
    return copy.deepcopy(_schema())


def _fill_from_registry(node) -> None:
    """Complete the schema from registry.py, so each option family is defined once."""
    if isinstance(node, dict):
        if "x-registry" in node:
            node["enum"] = registry.names(node["x-registry"])
        if node.pop("x-source-keys", False):
            node["allOf"] = [_source_schema(name, source) for name, source in registry.SOURCES.items()]
        for value in node.values():
            _fill_from_registry(value)
    elif isinstance(node, list):
        for value in node:
            _fill_from_registry(value)


def _source_schema(name: str, source: registry.Source) -> dict:
    return {
        "if": {"properties": {"source": {"const": name}}, "required": ["source"]},
        "then": {
            "x-source": name,
            "properties": {"source": {}, **copy.deepcopy(source.keys)},
            "required": ["source", *source.required],
            "additionalProperties": False,
        },
    }


def _with_defaults(validator_class):
    """jsonschema's validator that also fills in `default:` values (the jsonschema FAQ recipe,
    as snakemake.utils.validate(..., set_default=True) uses it)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


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
                raise _DuplicateKey(
                    None,
                    None,
                    f"key '{key}' is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML config file, refusing unreadable or malformed files and duplicate keys clearly."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(refusal(path, "config file not found", "pass an existing file with --configfile")) from None
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot read config file ({exc})"
        raise ConfigError(refusal(path, problem, "check its permissions and encoding (UTF-8)")) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(refusal(path, exc.problem, "keep one of them; names and keys must be unique")) from None
    except yaml.constructor.ConstructorError as exc:
        problem = f"unsupported YAML at line {exc.problem_mark.line + 1}: {exc.problem}"
        fix = "use plain YAML values (tags such as !!python/... are refused)"
        raise ConfigError(refusal(path, problem, fix)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = f"malformed YAML{at}: {getattr(exc, 'problem', exc)}"
        raise ConfigError(refusal(path, problem, "correct the YAML syntax there")) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problem = f"the top level must be a mapping of keys, not {type(data).__name__}"
        raise ConfigError(refusal(path, problem, "start from config/config.yaml"))
    return data


def _json_path(error: jsonschema.ValidationError) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else (("." if parts else "") + str(p)))
    return "".join(parts)


def _schema_error_message(error: jsonschema.ValidationError, bad: str | None = None) -> tuple[str, str, str]:
    key = _json_path(error)
    v = error.validator
    if v == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        bad = bad or (extra[0] if extra else "?")
        full = f"{key}.{bad}" if key else bad
        kind = f" for source '{error.schema['x-source']}'" if "x-source" in error.schema else ""
        return full, f"unknown key '{bad}'{kind}{suggest(bad, allowed)}", f"use one of: {', '.join(allowed)}"
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        full = f"{key}.{missing}" if key else missing
        return full, "required key is missing", f"add '{missing}' (see config/README.md)"
    if v == "enum":
        allowed = [str(c) for c in error.validator_value if c is not None]
        return (
            key,
            f"value {error.instance!r} is not allowed{suggest(error.instance, allowed)}",
            f"use one of: {', '.join(allowed)}",
        )
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        if "number" in want and isinstance(error.instance, str) and _is_number(error.instance):
            return (
                key,
                f"value {error.instance!r} was read as text (YAML needs a dot in exponent notation)",
                f"write it as a number with a dot, e.g. {float(error.instance):.1e}",
            )
        return key, f"value {error.instance!r} has the wrong type", _type_fix(error, key, want)
    if v == "pattern" or (v == "propertyNames"):
        return (
            key,
            f"name {error.instance!r} is not allowed",
            "use only letters, digits, '_' and '-' (names become directory names)",
        )
    if v in RANGE_WORDS:
        return (
            key,
            f"value {error.instance!r} is out of range",
            f"give a value {RANGE_WORDS[v]} {error.validator_value}",
        )
    if v in ("minItems", "minProperties"):
        return key, "is empty", "give at least one entry"
    if v == "uniqueItems":
        return key, f"has duplicates {error.instance!r}", "list each value once"
    return key, error.message, "see config/README.md"


def _type_fix(error: jsonschema.ValidationError, key: str, want: str) -> str:
    """What to write instead of a value of the wrong type: the schema's own hint (`x-type-fix`,
    `{key}` and `{value}` filled in), a one-item list for a single value where a list is wanted,
    else the type."""
    leaf = key.rsplit(".", 1)[-1] if key else "value"
    if "x-type-fix" in error.schema:
        return error.schema["x-type-fix"].format(key=leaf, value=error.instance)
    items = error.schema.get("items")
    single = not isinstance(error.instance, (list, dict)) and error.instance is not None
    if "array" in want and items and single and jsonschema.Draft202012Validator(items).is_valid(error.instance):
        return f"give a list, e.g. {leaf}: [{error.instance}]"
    return f"give a value of type {want}"


RANGE_WORDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate_config(raw: dict, source: str = "config") -> dict:
    """Return a validated copy of `raw` with defaults filled in, or raise ConfigError (every
    schema error of the config, one per line)."""
    cfg = copy.deepcopy(raw)
    errors = all_errors(cfg, _schema())
    if errors:
        raise ConfigError("\n".join(refusal(source, problem, fix, key=key) for key, problem, fix in errors))
    if isinstance(cfg["seeds"], int):
        cfg["seeds"] = list(range(cfg["seeds"]))  # `seeds: 3` is seeds 0, 1, 2: the same runs
    _check_semantics(cfg, source)
    return cfg


def first_error(instance, schema: dict, prefix: str = "") -> tuple[str, str, str] | None:
    """(key, problem, fix) of the first problem of `instance` under `schema`, filling in its
    defaults; None if it is valid. `prefix` is put before the key (e.g. 'grid.lr[1]')."""
    errors = all_errors(instance, schema, prefix)
    return errors[0] if errors else None


def all_errors(instance, schema: dict, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, problem, fix) of every problem of `instance` under `schema`, outer keys first,
    filling in its defaults; [] if it is valid. `prefix` as in first_error."""
    errors = sorted(
        _Validator(schema).iter_errors(instance),
        key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))),
    )
    found = []
    for error in errors:
        for key, problem, fix in _schema_error_messages(error):
            item = (f"{prefix}.{key}" if prefix and key else prefix or key), problem, fix
            if item not in found:
                found.append(item)
    return found


def _schema_error_messages(error: jsonschema.ValidationError) -> list[tuple[str, str, str]]:
    """One message per unknown key of an additionalProperties error, none for a missing key that
    an unknown key of the same mapping misspells (that key's message names it), else the error's one."""
    closed = error.schema.get("additionalProperties") is False
    if error.validator == "required" and isinstance(error.instance, dict) and closed:
        missing = error.message.split("'")[1] if "'" in error.message else ""
        unknown = [k for k in error.instance if k not in error.schema.get("properties", {})]
        if missing and suggest(missing, unknown):
            return []
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [_schema_error_message(error, bad) for bad in extra] or [_schema_error_message(error)]
    return [_schema_error_message(error)]


def _check_semantics(cfg: dict, source: str) -> None:
    if not cfg["results"].strip().rstrip("/"):
        _fail(
            source,
            "results",
            f"{cfg['results']!r} names no directory (outputs would land in the file system root)",
            "give a directory such as results",
        )
    if not PATH_RE.match(cfg["results"]):
        _fail(
            source,
            "results",
            f"{cfg['results']!r} has characters other than letters, digits and _ . - /",
            "choose a path without spaces or shell metacharacters, e.g. /scratch/me/sweep1",
        )
    for i, module in enumerate(cfg["execution"]["env_modules"]):
        if not MODULE_RE.match(module):
            _fail(
                source,
                f"execution.env_modules[{i}]",
                f"{module!r} is not a module name (Snakemake passes it to a shell)",
                "give one module per entry, e.g. cuda/12.2 (letters, digits, _ . + - /)",
            )
    for table in ("datasets", "architectures"):
        lower = {}
        for name in cfg[table]:
            if name.lower() in lower:
                _fail(
                    source,
                    table,
                    f"names {lower[name.lower()]!r} and {name!r} differ only in case"
                    " and would share a directory on macOS and Windows",
                    "rename one of them",
                )
            lower[name.lower()] = name
    for name, arch in cfg["architectures"].items():
        _check_architecture(f"architectures.{name}", arch, source)
    _check_split(cfg["split"], source)
    for name, spec in cfg["datasets"].items():
        _check_dataset(name, spec, cfg["split"], source)
    _check_sweep(cfg, source)
    _check_search(cfg, source)
    _check_exclude(cfg, source)
    summary = cfg["summary"]
    if summary["best_by"] not in summary["metrics"]:
        _fail(
            source,
            "summary.best_by",
            f"{summary['best_by']!r} is not among summary.metrics",
            "add it to summary.metrics or choose one of them",
        )
    if not summary["select_by"].startswith("val_"):
        _fail(
            source,
            "summary.select_by",
            f"{summary['select_by']!r} is not a validation metric (choosing on test rows would peek at them)",
            "use one of: " + ", ".join(m for m in registry.METRICS if m.startswith("val_")),
        )
    baseline = summary["compare"].get("baseline")
    if baseline is not None and baseline not in cfg["architectures"]:
        _fail(
            source,
            "summary.compare.baseline",
            f"{baseline!r} is not a declared architecture{suggest(baseline, cfg['architectures'])}",
            f"use one of: {', '.join(cfg['architectures'])} (a linear baseline is an architecture with hidden: [])",
        )
    for key, table in (("dataset_order", cfg["datasets"]), ("architecture_order", cfg["architectures"])):
        for item in summary[key]:
            if item not in table:
                _fail(
                    source,
                    f"summary.{key}",
                    f"{item!r} is not declared{suggest(item, table)}",
                    f"use names from: {', '.join(table)}",
                )


def _check_architecture(key: str, arch: dict, source: str) -> None:
    if not arch["hidden"] and arch.get("dropout", 0) > 0:  # hidden: [] is multinomial logistic regression
        _fail(
            source,
            key if key.endswith("dropout") or "[" in key else f"{key}.dropout",
            f"dropout {arch['dropout']} with hidden: [] (a linear model, logistic regression)"
            " has no hidden layer to drop units of",
            "set dropout to 0 for the linear architecture (its l2 is the ridge penalty); a swept architecture.dropout"
            " applies to every architecture, so give dropout in each MLP's own entry instead",
        )
    for i, width in enumerate(arch["hidden"]):
        if width <= 0:
            _fail(source, f"{key}.hidden[{i}]", f"width {width} must be > 0", "use positive integers such as 32")


def _check_split(split: dict, source: str, key: str = "split") -> None:
    method = registry.SPLIT_METHODS[split["method"]]
    if "test" in method.uses and split["validation"] + split["test"] >= 0.9:
        _fail(
            source,
            key,
            f"validation + test = {split['validation'] + split['test']:.2f} leaves too little for training",
            "keep validation + test below 0.9",
        )
    if method.grouped and not split["group"]:
        _fail(
            source,
            f"{key}.group" if key == "split" else key,
            f"method {split['method']!r} needs the column that holds each row's group (e.g. the subject)",
            "set split.group to that column's name (NPZ: an array name)",
        )
    if not method.grouped and split["group"]:
        grouped = ", ".join(m for m, spec in registry.SPLIT_METHODS.items() if spec.grouped)
        _fail(
            source,
            f"{key}.group" if key == "split" else key,
            f"method {split['method']!r} does not use groups",
            f"choose one of: {grouped}, or remove split.group",
        )
    if split.get("within") and method.grouped and not (split["group"] and split["group"] != split["within"]):
        _fail(
            source,
            f"{key}.within" if key == "split" else key,
            f"within-group decoding splits each group's own rows, but method {split['method']!r}"
            " splits the groups (cross-subject)",
            "use method kfold (or holdout) with split.within, set split.group to a column of runs or sessions within"
            " the group (folds over runs within subjects), or remove split.within to decode across groups",
        )


def _check_dataset(name: str, spec: dict, split: dict, source: str) -> None:
    key = f"datasets.{name}"
    kind = spec["source"]
    group = split["group"]
    if kind == "synthetic":
        names = spec["class_names"]
        if names is not None and len(names) != spec["n_classes"]:
            _fail(
                source,
                f"{key}.class_names",
                f"needs {spec['n_classes']} names",
                "give one name per class or leave it out",
            )
    if kind == "epochs":
        _check_epochs(key, spec, split, source)
        return
    group = group or split.get("within")
    if kind != "file":
        if group:
            _fail(
                source,
                "split.group" if split["group"] else "split.within",
                f"data set {name!r} (source {kind}) has no group column",
                "use a file source with a group column, or another split method",
            )
        return
    path = spec["path"]
    fmt = spec["format"] or file_format(path)
    if fmt is None:
        _fail(
            source,
            f"{key}.format",
            f"cannot tell the format of {path!r}",
            "name the file *.csv, *.tsv, *.parquet or *.npz, or set format to one of:"
            f" {', '.join(registry.FILE_FORMATS)}",
        )
    if Path(path).is_dir():
        _fail(
            source, f"{key}.path", f"{path!r} is a directory, not a data file", "give the path of the data file itself"
        )
    if not Path(path).is_file():
        _fail(
            source,
            f"{key}.path",
            f"data file {path!r} does not exist (working directory {os.getcwd()})",
            "check the path; relative paths start at the directory snakemake runs in",
        )
    if not os.access(path, os.R_OK):
        _fail(source, f"{key}.path", f"data file {path!r} is not readable", "fix its permissions (chmod a+r)")
    for option in ("sep", "drop"):
        if fmt not in ("csv", "tsv") and spec[option] and (option == "sep" or fmt == "npz"):
            kinds = "CSV and TSV files" if option == "sep" else "tables (CSV, TSV, Parquet)"
            _fail(source, f"{key}.{option}", f"applies to {kinds}, and {path!r} is {fmt}", f"remove {option}")
    if fmt == "npz":
        return  # array names are checked when the file is loaded (that reads it whole)
    label = spec["label"]
    if not label:
        _fail(source, f"{key}.label", "a table needs the name of its label column", "set label: <column name>")
    features = spec["features"]
    if features is not None and (not features or not all(isinstance(c, str) for c in features)):
        _fail(
            source,
            f"{key}.features",
            f"{features!r} is not a list of column names",
            "give a list such as [age, height], or leave features out to use all columns but the label",
        )
    if group and group == label:
        _fail(
            source,
            "split.group",
            f"the group column {group!r} is the label column of data set {name!r}"
            " (each group would hold one class, and no fold could be scored)",
            "set split.group to the column that holds each row's group, e.g. the subject",
        )
    if features is not None and spec["drop"]:
        problem = "features names the columns to use and drop the columns to leave out; both are given"
        _fail(source, f"{key}.drop", problem, "keep one: features, or drop (all other columns but the label)")
    for role, column in (("label", label), ("group", group)):
        if features is not None and column in features:
            why = (
                "the model would see the answer"
                if role == "label"
                else "the model would learn the group, not the condition"
            )
            _fail(
                source,
                f"{key}.features",
                f"the {role} column {column!r} is listed as a feature ({why})",
                "remove it from features",
            )
    sep = table_sep(spec, fmt)
    columns = table_columns(path, fmt, sep)
    if columns is None:
        return  # the data module reports unparsable files per run, with the full reason
    wrong = separator_mismatch(columns, sep, key)
    if wrong:
        _fail(source, f"{key}.sep", f"{path} {wrong[0]}", wrong[1])
    if label not in columns:
        _fail(
            source,
            f"{key}.label",
            f"label column {label!r} is not in {path}{suggest(label, columns)}",
            f"use one of its columns: {', '.join(map(str, columns[:20]))}",
        )
    if group and group not in columns:
        at = "split.group" if split["group"] else "split.within"
        _fail(
            source,
            at,
            f"group column {group!r} is not in {path} (data set {name!r}){suggest(group, columns)}",
            f"use one of its columns: {', '.join(map(str, columns[:20]))}",
        )
    for col in features or []:
        if col not in columns:
            _fail(
                source,
                f"{key}.features",
                f"column {col!r} is not in {path}{suggest(col, columns)}",
                "name existing columns or leave features out to use all but the label",
            )
    for col in spec["drop"] or []:
        if col not in columns:
            fix = f"name columns of the file: {', '.join(map(str, columns[:20]))}"
            _fail(source, f"{key}.drop", f"column {col!r} is not in {path}{suggest(col, columns)}", fix)


def _check_epochs(key: str, spec: dict, split: dict, source: str) -> None:
    """An epochs entry's keys on their own (its files' headers are checked when the grid is
    planned: mlpsweep.data.epochs.plan)."""
    path = spec["path"]
    within_runs = bool(split.get("within")) and split["group"] not in (None, split.get("within"))
    for at, column in (("split.group", None if within_runs else split["group"]), ("split.within", split.get("within"))):
        if column and column != "subject":
            _fail(
                source,
                at,
                f"data set {key.split('.', 1)[1]!r} (epochs) has one group column,"
                f" 'subject' (from the path's {{subject}}), not {column!r}",
                "set it to subject",
            )
        if column and "{subject}" not in path:
            _fail(
                source,
                f"{key}.path",
                f"{at} is 'subject', but {path!r} has no {{subject}} to take it from",
                "name one file per subject by a pattern,"
                " e.g. derivatives/sub-{subject}/eeg/sub-{subject}_task-x_epo.fif",
            )
    if spec["tmin"] is not None and spec["tmax"] is not None and spec["tmin"] >= spec["tmax"]:
        _fail(
            source, f"{key}.tmax", f"tmax {spec['tmax']} is not after tmin {spec['tmin']}", "give tmin < tmax (seconds)"
        )
    windows = spec["windows"]
    if (
        windows
        and spec["tmin"] is not None
        and spec["tmax"] is not None
        and windows["length"] > spec["tmax"] - spec["tmin"] + 1e-9
    ):
        _fail(
            source,
            f"{key}.windows.length",
            f"a window of {windows['length']} s is longer than the crop ({spec['tmin']} to {spec['tmax']} s)",
            "shorten the windows or widen tmin/tmax",
        )


# ---------------------------------------------------------------- swept keys


def sweep_target(key: str) -> tuple[str, tuple[str, ...]]:
    """(section, path inside one entry of it) of a grid, zip or exclude key:
    `learning_rate` and `training.learning_rate` -> ('training', ('learning_rate',)),
    `architecture.dropout` -> ('architecture', ('dropout',))."""
    parts = tuple(key.split("."))
    if parts[0] in SWEEP_SECTIONS:
        return parts[0], parts[1:]
    return "training", parts


def canonical_key(key: str) -> str:
    """Training keys are written bare: `training.epochs` and `epochs` are one key."""
    section, path = sweep_target(key)
    return ".".join(path) if section == "training" else key


def set_path(entry: dict, path: tuple[str, ...], value) -> None:
    for part in path[:-1]:
        entry = entry.setdefault(part, {})
    entry[path[-1]] = value


def _entries(cfg: dict, section: str) -> dict[str, dict]:
    """The config entries a swept key of `section` applies to, by their key in the config."""
    if section in ("training", "split"):
        return {section: cfg[section]}
    table = "datasets" if section == "dataset" else "architectures"
    return {f"{table}.{name}": spec for name, spec in cfg[table].items()}


def _sweepable(section: str, entry: dict) -> list[str]:
    """The keys of one entry of `section` that a grid may sweep."""
    schema = _schema()
    if section == "dataset":
        return list(registry.SOURCES[entry["source"]].sweepable)
    if section == "architecture":
        return list(schema["$defs"]["architecture"]["properties"])
    keys = [k for k in schema["properties"][section]["properties"] if k != "early_stopping"]
    if section == "training":
        keys += [f"early_stopping.{k}" for k in schema["$defs"]["early_stopping"]["properties"]]
    return keys


def _check_sweep(cfg: dict, source: str) -> None:
    seen = {}
    groups = [("grid", cfg["grid"])] + [(f"zip[{i}]", group) for i, group in enumerate(cfg["zip"])]
    for where, group in groups:
        lengths = {len(values) for values in group.values()}
        if where != "grid" and len(lengths) > 1:
            _fail(
                source,
                where,
                f"lists of different lengths ({', '.join(f'{k}: {len(v)}' for k, v in group.items())});"
                " zip pairs the i-th values",
                "give every key of a zip group the same number of values",
            )
        for key, values in group.items():
            at = f"{where}.{key}"
            name = canonical_key(key)
            if name in seen:
                _fail(source, at, f"sweeps the same key as {seen[name]}", "sweep each key in one place only")
            seen[name] = at
            if len(set(map(repr, values))) != len(values):
                _fail(source, at, f"has duplicate values {values!r}", "list each value once")
            _check_swept_values(cfg, source, at, key, values)


def _check_swept_values(cfg: dict, source: str, at: str, key: str, values: list) -> None:
    """That `key` (given at `at`) can be swept and each of `values` is valid there."""
    section, path = sweep_target(key)
    leaf = ".".join(path)
    for entry_key, entry in _entries(cfg, section).items():
        allowed = _sweepable(section, entry)
        if leaf not in allowed:
            what = {"training": "training", "split": "split"}.get(section) or (
                f"data set {entry_key.split('.', 1)[1]!r} (source {entry['source']})"
                if section == "dataset"
                else f"architecture {entry_key.split('.', 1)[1]!r}"
            )
            problem = f"'{leaf}' is not a key that {what} can sweep"
            home = _other_section(cfg, section, leaf) if len(path) == 1 else None
            if home:
                words = {"architecture": "an architecture", "dataset": "a data set", "split": "a split"}
                fix = f"write it as {home}.{leaf}"
                if home == "training":
                    fix = f"write it as {leaf} (training keys need no prefix)"
                _fail(source, at, f"{problem}; it is {words.get(home, 'a training')} key", fix)
            if not allowed:
                none = f"{problem}: no key of source {entry['source']} can be swept"
                _fail(source, at, none, _no_sweep_fix(entry_key, leaf))
            _fail(source, at, f"{problem}{suggest(leaf, allowed)}", f"use one of: {', '.join(allowed)}")
    for i, value in enumerate(values):
        probe = copy.deepcopy(cfg)
        for entry in _entries(probe, section).values():
            set_path(entry, path, value)
        error = first_error(probe, _schema())
        if error:
            fix = error[2]
            if fix.startswith("give a list, e.g."):  # a swept list key takes a list of lists
                fix = f"give each value as a list, e.g. {key}: [{', '.join(f'[{v}]' for v in values)}]"
            _fail(source, f"{at}[{i}]", error[1], fix)
        if section == "architecture":
            for arch in probe["architectures"].values():
                _check_architecture(f"{at}[{i}]", arch, source)
        if section == "split":
            _check_split(probe["split"], source, key=f"{at}[{i}]")


def _other_section(cfg: dict, section: str, leaf: str) -> str | None:
    """The section (architecture, dataset, split, training) whose entries can sweep `leaf`,
    where a key was written without it (or with another): `dropout` -> architecture."""
    for other in ("architecture", "dataset", "split", "training"):
        if other != section and any(leaf in _sweepable(other, entry) for entry in _entries(cfg, other).values()):
            return other
    return None


def _no_sweep_fix(entry_key: str, leaf: str) -> str:
    """What to do where a data source has no sweepable key: one data set per value."""
    name = entry_key.split(".", 1)[1]
    kinds = registry.SOURCES.items()
    sweepable = ", ".join(f"{kind} ({', '.join(spec.sweepable)})" for kind, spec in kinds if spec.sweepable)
    return (
        f"declare one data set per value instead (e.g. {name}_a and {name}_b under datasets, each with its own {leaf});"
        f" only these sources have keys a grid can sweep: {sweepable}"
    )


def _check_search(cfg: dict, source: str) -> None:
    """The `search:` section: a known distribution per key with a usable range or values, keys
    a grid could sweep and that no grid or zip sweeps too, samples given with a space."""
    search = cfg["search"]
    space, samples = search["space"], search["samples"]
    if space and not samples:
        _fail(
            source,
            "search.samples",
            "the search has a space but no samples",
            "set search.samples, e.g. 64 (a power of 2 for method sobol)",
        )
    if samples and not space:
        _fail(
            source,
            "search.space",
            f"{samples} samples of an empty space",
            "give the keys to sample under search.space, or remove search.samples",
        )
    swept = {canonical_key(k): "grid" for k in cfg["grid"]} | {
        canonical_key(k): f"zip[{i}]" for i, group in enumerate(cfg["zip"]) for k in group
    }
    kinds = registry.SEARCH_DISTRIBUTIONS
    for key, spec in space.items():
        at = f"search.space.{key}"
        if canonical_key(key) in swept:
            _fail(
                source,
                at,
                f"is sampled and also swept by {swept[canonical_key(key)]}",
                "sample or sweep each key, not both",
            )
        if len(spec) != 1:
            _fail(
                source,
                at,
                f"needs exactly one distribution, got {len(spec)} ({', '.join(map(str, spec)) or 'none'})",
                f"give one of: {', '.join(kinds)}, e.g. {{uniform: [0.0, 0.5]}}",
            )
        ((name, args),) = spec.items()
        if name not in kinds:
            _fail(
                source, f"{at}.{name}", f"unknown distribution{suggest(name, kinds)}", f"use one of: {', '.join(kinds)}"
            )
        if kinds[name] == "values":
            if not isinstance(args, list) or not args:
                _fail(
                    source,
                    f"{at}.{name}",
                    "choice needs at least one value",
                    "list the values to choose from, e.g. [16, 32, 64]",
                )
            if len(set(map(repr, args))) != len(args):
                _fail(source, f"{at}.{name}", f"has duplicate values {args!r}", "list each value once")
            _check_swept_values(cfg, source, f"{at}.{name}", key, args)
            continue
        number = int if name == "int_uniform" else (int, float)
        if (
            not isinstance(args, list)
            or len(args) != 2
            or not all(isinstance(a, number) and not isinstance(a, bool) for a in args)
        ):
            kind = "two integers" if name == "int_uniform" else "two numbers"
            _fail(
                source,
                f"{at}.{name}",
                f"{args!r} is not a range [low, high] of {kind}",
                f"give [low, high], e.g. {'[1, 8]' if name == 'int_uniform' else '[0.0, 0.5]'}",
            )
        low, high = args
        if not low < high:
            _fail(
                source,
                f"{at}.{name}",
                f"the range [{low}, {high}] is {'empty' if low == high else 'reversed'}",
                f"give low < high"
                f"""{
                    f", e.g. [{high}, {low}]"
                    if low > high
                    else "; a single value belongs in training: or the architecture, not in search:"
                }""",
            )
        if name == "log_uniform" and low <= 0:
            _fail(
                source,
                f"{at}.{name}",
                f"a log range must stay above 0, and [{low}, {high}] touches it",
                f"start the range above 0, e.g. [{high / 1000:g}, {high}], or use uniform",
            )
        _check_swept_values(
            cfg, source, f"{at}.{name}", key, [low, high] if name == "int_uniform" else [float(low), float(high)]
        )
        if name != "int_uniform":
            inner = low + (high - low) * 0.4142  # a value such a range draws that is not a whole number
            try:
                _check_swept_values(
                    cfg, source, f"{at}.{name}", key, [inner if not float(inner).is_integer() else inner + 0.5]
                )
            except ConfigError:
                _fail(
                    source,
                    f"{at}.{name}",
                    f"draws fractional values, and '{key}' takes whole numbers",
                    "use int_uniform or choice for it",
                )


def _check_exclude(cfg: dict, source: str) -> None:
    swept = {canonical_key(k) for k in cfg["grid"]} | {canonical_key(k) for group in cfg["zip"] for k in group}
    swept |= {canonical_key(k) for k in cfg["search"]["space"]}
    training = set(_sweepable("training", {}))
    for i, rule in enumerate(cfg["exclude"]):
        for key, table in (("dataset", cfg["datasets"]), ("architecture", cfg["architectures"])):
            if key in rule and rule[key] not in table:
                _fail(
                    source,
                    f"exclude[{i}].{key}",
                    f"{rule[key]!r} is not declared{suggest(rule[key], table)}",
                    f"use one of: {', '.join(table)}",
                )
        for key in rule:
            if key in ("dataset", "architecture", "seed"):
                continue
            name = canonical_key(key)
            if name not in swept and name not in training:
                allowed = ["dataset", "architecture", "seed", *sorted(swept)]
                _fail(
                    source,
                    f"exclude[{i}].{key}",
                    f"'{key}' is neither a swept key nor a training key{suggest(key, allowed)}",
                    f"use one of: {', '.join(allowed)}",
                )


def file_format(path: str) -> str | None:
    suffix = Path(path).suffix.lower().lstrip(".")
    return {"csv": "csv", "tsv": "tsv", "txt": "tsv", "parquet": "parquet", "pq": "parquet", "npz": "npz"}.get(suffix)


def table_sep(spec: dict, fmt: str) -> str:
    """The separator a CSV or TSV data file is read with: the entry's `sep`, else ',' or a tab."""
    return spec.get("sep") or ("," if fmt == "csv" else "\t")


SEPARATORS = (";", "\t", ",", "|")


def separator_mismatch(columns: list, sep: str, entry: str) -> tuple[str, str] | None:
    """(problem, fix) where a table read with `sep` has one column whose name holds another
    separator (a ';'-separated CSV read with ','), else None."""
    if len(columns) != 1:
        return None
    other = next((s for s in SEPARATORS if s != sep and s in str(columns[0])), None)
    if other is None:
        return None
    shown = '"\\t"' if other == "\t" else f"'{other}'"
    problem = f"reads as one column {str(columns[0])[:60]!r}: its values are separated by {shown}, not {sep!r}"
    return problem, f"set sep: {shown} in {entry}"


def table_columns(path: str, fmt: str, sep: str | None = None) -> list[str] | None:
    """Column names of a table file, read cheaply; None when the file cannot be parsed here."""
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        import pandas as pd

        return [str(c) for c in pd.read_csv(path, sep=sep or ("," if fmt == "csv" else "\t"), nrows=0).columns]
    except Exception:  # the data module reports unparsable files per run, with the full reason
        return None


def load_config(path: str | os.PathLike) -> dict:
    """Read, validate and fill defaults of the YAML file at `path`."""
    return validate_config(read_yaml(path), source=str(path))
