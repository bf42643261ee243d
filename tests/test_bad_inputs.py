"""The bad-input corpus: every broken config is refused before any job starts, every broken
data set fails only its own runs, and each message names the file, the key or column, and the fix."""

from __future__ import annotations

import ast
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, run_snakemake, tiny_config, write_config
from mlpsweep.config import ConfigError, load_config, validate_config
from mlpsweep.data import DataError, load_dataset
from mlpsweep.grid import expand_runs
from mlpsweep.rundir import RUN_DIR_RE
from mlpsweep.training import DataCache, train_runs

SOURCE = "sweep.yaml"


def refusal(cfg: dict) -> str:
    """The message the Snakefile's checks (validate_config, then expand_runs) refuse `cfg` with."""
    with pytest.raises(ConfigError) as err:
        expand_runs(validate_config(cfg, source=SOURCE), source=SOURCE)
    return str(err.value)


def assert_names(message: str, key: str, problem: str, fix: str, source: str = SOURCE) -> None:
    """The message says where (file and key), what is wrong, and how to fix it: exactly."""
    assert message == f"{source}: key '{key}': {problem}. Fix: {fix}", message


def with_dataset(name: str, spec: dict) -> dict:
    return tiny_config(datasets={name: spec})


def with_training(**training) -> dict:
    return tiny_config(training={"epochs": 2, **training})


def with_architecture(name: str, spec: dict) -> dict:
    return tiny_config(architectures={name: spec})


# ---------------------------------------------------------------- config values (validate_config)

EPOCHS = "e/sub-{subject}_epo.fif"  # never read: these configs are refused by their keys alone
NO_SWEEP = "'{key}' is not a key that data set '{name}' (source {source}) can sweep: no key of source {source} can be"
NO_SWEEP += " swept"
ONE_PER_VALUE = (
    "declare one data set per value instead (e.g. {name}_a and {name}_b under datasets, each with its own {key});"
    " only these sources have keys a grid can sweep:"
    " synthetic (n_samples, n_features, n_classes, separation, noise, seed)"
)

# id -> (config, key, problem, fix)
CONFIG_CASES = {
    "unknown_top_key_close": (
        tiny_config(seed=[0]),
        "seed",
        "unknown key 'seed' (did you mean 'seeds'?)",
        "use one of: results, datasets, architectures, split, training, grid, zip, search, seeds, exclude, execution, summary",
    ),
    "unknown_training_key_close": (
        with_training(learnin_rate=0.1),
        "training.learnin_rate",
        "unknown key 'learnin_rate' (did you mean 'learning_rate'?)",
        "use one of: optimizer, learning_rate, momentum, batch_size, epochs, eval_batch_size, early_stopping, class_weight",
    ),
    "unknown_architecture_key_close": (
        with_architecture("small", {"hiden": [8]}),
        "architectures.small.hiden",
        "unknown key 'hiden' (did you mean 'hidden'?)",
        "use one of: hidden, activation, dropout, l2, batch_norm",
    ),
    "unknown_dataset_key_close": (
        with_dataset("g", {"source": "synthetic", "n_sample": 300}),
        "datasets.g.n_sample",
        "unknown key 'n_sample' for source 'synthetic' (did you mean 'n_samples'?)",
        "use one of: source, n_samples, n_features, n_classes, separation, noise, seed, class_names",
    ),
    "unknown_key_far": (
        tiny_config(colour="blue"),
        "colour",
        "unknown key 'colour'",
        "use one of: results, datasets, architectures, split, training, grid, zip, search, seeds, exclude, execution, summary",
    ),
    "required_key_missing": (
        {k: v for k, v in tiny_config().items() if k != "seeds"},
        "seeds",
        "required key is missing",
        "add 'seeds' (see config/README.md)",
    ),
    "epochs_text": (
        with_training(epochs="five"),
        "training.epochs",
        "value 'five' has the wrong type",
        "give a value of type integer",
    ),
    "batch_size_float": (
        with_training(batch_size=2.5),
        "training.batch_size",
        "value 2.5 has the wrong type",
        "give a value of type integer",
    ),
    "epochs_boolean": (
        with_training(epochs=True),
        "training.epochs",
        "value True has the wrong type",
        "give a value of type integer",
    ),
    "exponent_read_as_text": (
        with_training(learning_rate="1e-3"),
        "training.learning_rate",
        "value '1e-3' was read as text (YAML needs a dot in exponent notation)",
        "write it as a number with a dot, e.g. 1.0e-03",
    ),
    "epochs_zero": (with_training(epochs=0), "training.epochs", "value 0 is out of range", "give a value >= 1"),
    "learning_rate_negative": (
        with_training(learning_rate=-0.1),
        "training.learning_rate",
        "value -0.1 is out of range",
        "give a value > 0",
    ),
    "momentum_one": (with_training(momentum=1.0), "training.momentum", "value 1.0 is out of range", "give a value < 1"),
    "dropout_one": (
        with_architecture("small", {"hidden": [8], "dropout": 1.0}),
        "architectures.small.dropout",
        "value 1.0 is out of range",
        "give a value < 1",
    ),
    "split_leaves_no_training": (
        tiny_config(split={"validation": 0.5, "test": 0.45}),
        "split",
        "validation + test = 0.95 leaves too little for training",
        "keep validation + test below 0.9",
    ),
    "seed_negative": (tiny_config(seeds=[-1]), "seeds[0]", "value -1 is out of range", "give a value >= 0"),
    "seeds_duplicate": (tiny_config(seeds=[0, 0]), "seeds", "has duplicates [0, 0]", "list each value once"),
    "seeds_empty": (tiny_config(seeds=[]), "seeds", "is empty", "give at least one entry"),
    "datasets_empty": (tiny_config(datasets={}), "datasets", "is empty", "give at least one entry"),
    "dataset_not_a_mapping": (
        with_dataset("g", "iris"),
        "datasets.g",
        "value 'iris' has the wrong type",
        "give a value of type object",
    ),
    "linear_with_dropout": (
        with_architecture("small", {"hidden": [], "dropout": 0.2}),
        "architectures.small.dropout",
        "dropout 0.2 with hidden: [] (a linear model, logistic regression) has no hidden layer to drop units of",
        "set dropout to 0 for the linear architecture (its l2 is the ridge penalty); a swept architecture.dropout applies to every architecture, so give dropout in each MLP's own entry instead",
    ),
    "linear_with_swept_dropout": (
        with_architecture("small", {"hidden": []}) | {"grid": {"architecture.dropout": [0.0, 0.3]}},
        "grid.architecture.dropout[1]",
        "dropout 0.3 with hidden: [] (a linear model, logistic regression) has no hidden layer to drop units of",
        "set dropout to 0 for the linear architecture (its l2 is the ridge penalty); a swept architecture.dropout applies to every architecture, so give dropout in each MLP's own entry instead",
    ),
    "hidden_zero_width": (
        with_architecture("small", {"hidden": [8, 0]}),
        "architectures.small.hidden[1]",
        "width 0 must be > 0",
        "use positive integers such as 32",
    ),
    "hidden_as_text": (
        with_architecture("small", {"hidden": "32,64"}),
        "architectures.small.hidden",
        "value '32,64' has the wrong type",
        "give a value of type array",
    ),
    "activation_typo": (
        with_architecture("small", {"hidden": [8], "activation": "rellu"}),
        "architectures.small.activation",
        "value 'rellu' is not allowed (did you mean 'relu'?)",
        "use one of: relu, elu, gelu, selu, tanh, sigmoid, swish, silu, leaky_relu, linear",
    ),
    "optimizer_typo": (
        with_training(optimizer="adamm"),
        "training.optimizer",
        "value 'adamm' is not allowed (did you mean 'adam'?)",
        "use one of: sgd, adam, adamw, rmsprop, adagrad, nadam",
    ),
    "grid_optimizer_typo": (
        tiny_config(grid={"optimizer": ["sgd", "rmsprob"]}),
        "grid.optimizer[1]",
        "value 'rmsprob' is not allowed (did you mean 'rmsprop'?)",
        "use one of: sgd, adam, adamw, rmsprop, adagrad, nadam",
    ),
    "grid_duplicate_values": (
        tiny_config(grid={"learning_rate": [0.1, 0.1]}),
        "grid.learning_rate",
        "has duplicate values [0.1, 0.1]",
        "list each value once",
    ),
    "grid_empty_list": (
        tiny_config(grid={"learning_rate": []}),
        "grid.learning_rate",
        "is empty",
        "give at least one entry",
    ),
    "source_typo": (
        with_dataset("g", {"source": "synthetik"}),
        "datasets.g.source",
        "value 'synthetik' is not allowed (did you mean 'synthetic'?)",
        "use one of: synthetic, sklearn, file, epochs",
    ),
    "sklearn_name_typo": (
        with_dataset("g", {"source": "sklearn", "name": "irs"}),
        "datasets.g.name",
        "value 'irs' is not allowed (did you mean 'iris'?)",
        "use one of: digits, wine, breast_cancer, iris",
    ),
    "synthetic_one_class": (
        with_dataset("g", {"source": "synthetic", "n_classes": 1}),
        "datasets.g.n_classes",
        "value 1 is out of range",
        "give a value >= 2",
    ),
    "grid_empty_after_exclusions": (
        tiny_config(exclude=[{"seed": 0}, {"seed": 1}]),
        "exclude",
        "the grid is empty after exclusions",
        "remove an exclude rule or add seeds, data sets or architectures",
    ),
    "exclude_undeclared_dataset": (
        tiny_config(exclude=[{"dataset": "goodbda"}]),
        "exclude[0].dataset",
        "'goodbda' is not declared (did you mean 'goodbad'?)",
        "use one of: goodbad, iris",
    ),
    "best_by_not_tabulated": (
        tiny_config(summary={"best_by": "test_loss"}),
        "summary.best_by",
        "'test_loss' is not among summary.metrics",
        "add it to summary.metrics or choose one of them",
    ),
    "results_empty": (
        tiny_config(results=""),
        "results",
        "'' names no directory (outputs would land in the file system root)",
        "give a directory such as results",
    ),
    "results_root": (
        tiny_config(results="/"),
        "results",
        "'/' names no directory (outputs would land in the file system root)",
        "give a directory such as results",
    ),
    "results_shell_characters": (
        tiny_config(results="out $(id)"),
        "results",
        "'out $(id)' has characters other than letters, digits and _ . - /",
        "choose a path without spaces or shell metacharacters, e.g. /scratch/me/sweep1",
    ),
    "grid_unknown_training_key": (
        tiny_config(grid={"learnin_rate": [0.1]}),
        "grid.learnin_rate",
        "'learnin_rate' is not a key that training can sweep (did you mean 'learning_rate'?)",
        "use one of: optimizer, learning_rate, momentum, batch_size, epochs, eval_batch_size, class_weight, early_stopping.patience, early_stopping.monitor, early_stopping.min_delta, early_stopping.restore_best_weights",
    ),
    "grid_architecture_key_unknown": (
        tiny_config(grid={"architecture.dropuot": [0.1]}),
        "grid.architecture.dropuot",
        "'dropuot' is not a key that architecture 'small' can sweep (did you mean 'dropout'?)",
        "use one of: hidden, activation, dropout, l2, batch_norm",
    ),
    "grid_dataset_key_missing_for_a_source": (
        tiny_config(grid={"dataset.n_samples": [100, 200]}),
        "grid.dataset.n_samples",
        NO_SWEEP.format(key="n_samples", name="iris", source="sklearn"),
        ONE_PER_VALUE.format(name="iris", key="n_samples"),
    ),
    "grid_epochs_decim": (
        tiny_config(datasets={"odd": {"source": "epochs", "path": EPOCHS}}, grid={"dataset.decim": [1, 2]}),
        "grid.dataset.decim",
        NO_SWEEP.format(key="decim", name="odd", source="epochs"),
        ONE_PER_VALUE.format(name="odd", key="decim"),
    ),
    "grid_architecture_key_without_prefix": (
        tiny_config(grid={"dropout": [0.0, 0.5]}),
        "grid.dropout",
        "'dropout' is not a key that training can sweep; it is an architecture key",
        "write it as architecture.dropout",
    ),
    "grid_training_key_with_architecture_prefix": (
        tiny_config(grid={"architecture.learning_rate": [0.1]}),
        "grid.architecture.learning_rate",
        "'learning_rate' is not a key that architecture 'small' can sweep; it is a training key",
        "write it as learning_rate (training keys need no prefix)",
    ),
    "hidden_single_width": (
        with_architecture("small", {"hidden": 64}),
        "architectures.small.hidden",
        "value 64 has the wrong type",
        "give a list, e.g. hidden: [64]",
    ),
    "grid_hidden_widths_not_lists": (
        tiny_config(grid={"architecture.hidden": [64, 128]}),
        "grid.architecture.hidden[0]",
        "value 64 has the wrong type",
        "give each value as a list, e.g. architecture.hidden: [[64], [128]]",
    ),
    "seeds_zero": (tiny_config(seeds=0), "seeds", "value 0 is out of range", "give a value >= 1"),
    "seeds_text": (
        tiny_config(seeds="0-4"),
        "seeds",
        "value '0-4' has the wrong type",
        "give a value of type array or integer",
    ),
    "epochs_label_as_text": (
        tiny_config(datasets={"odd": {"source": "epochs", "path": EPOCHS, "label": "response"}}),
        "datasets.odd.label",
        "value 'response' has the wrong type",
        (
            "write label: {metadata: response} for a column of the epochs' metadata, or leave label out to label trials by"
            " their condition"
        ),
    ),
    "grid_value_out_of_range": (
        tiny_config(grid={"architecture.dropout": [0.1, 1.5]}),
        "grid.architecture.dropout[1]",
        "value 1.5 is out of range",
        "give a value < 1",
    ),
    "grid_bad_split_method": (
        tiny_config(grid={"split.method": ["holdout", "kfold", "group_kfold"]}),
        "grid.split.method[2]",
        "method 'group_kfold' needs the column that holds each row's group (e.g. the subject)",
        "set split.group to that column's name (NPZ: an array name)",
    ),
    "zip_lengths_differ": (
        tiny_config(zip=[{"learning_rate": [0.1, 0.2], "epochs": [1]}]),
        "zip[0]",
        "lists of different lengths (learning_rate: 2, epochs: 1); zip pairs the i-th values",
        "give every key of a zip group the same number of values",
    ),
    "key_in_grid_and_zip": (
        tiny_config(grid={"epochs": [1, 2]}, zip=[{"training.epochs": [3]}]),
        "zip[0].training.epochs",
        "sweeps the same key as grid.epochs",
        "sweep each key in one place only",
    ),
    "exclude_unknown_key": (
        tiny_config(exclude=[{"dropout": 0.5}]),
        "exclude[0].dropout",
        "'dropout' is neither a swept key nor a training key",
        "use one of: dataset, architecture, seed",
    ),
    "split_group_missing": (
        tiny_config(split={"method": "group_kfold"}),
        "split.group",
        "method 'group_kfold' needs the column that holds each row's group (e.g. the subject)",
        "set split.group to that column's name (NPZ: an array name)",
    ),
    "split_group_unused": (
        tiny_config(split={"method": "kfold", "group": "subject"}),
        "split.group",
        "method 'kfold' does not use groups",
        "choose one of: group_kfold, leave_one_group_out, or remove split.group",
    ),
    "split_folds_one": (
        tiny_config(split={"method": "kfold", "folds": 1}),
        "split.folds",
        "value 1 is out of range",
        "give a value >= 2",
    ),
    "split_group_on_sklearn_data": (
        tiny_config(split={"method": "leave_one_group_out", "group": "subject"}),
        "split.group",
        "data set 'goodbad' (source synthetic) has no group column",
        "use a file source with a group column, or another split method",
    ),
    "class_weight_typo": (
        with_training(class_weight="balance"),
        "training.class_weight",
        "value 'balance' is not allowed (did you mean 'balanced'?)",
        "use one of: none, balanced",
    ),
    "permutations_negative": (
        tiny_config(summary={"permutations": -1}),
        "summary.permutations",
        "value -1 is out of range",
        "give a value >= 0",
    ),
    "env_module_shell_injection": (
        tiny_config(execution={"env_modules": ["cuda/12.2", "cudnn; touch pwned"]}),
        "execution.env_modules[1]",
        "'cudnn; touch pwned' is not a module name (Snakemake passes it to a shell)",
        "give one module per entry, e.g. cuda/12.2 (letters, digits, _ . + - /)",
    ),
}

# Names become directory names: anything but letters, digits, '_' and '-' is refused.
UNSAFE_NAMES = {
    "slash": "a/b",
    "dot_dot": "..",
    "dot": ".",
    "parent_path": "../../etc",
    "space": "my data",
    "semicolon": "x;rm -rf ~",
    "command_substitution": "$(touch pwned)",
    "backticks": "`id`",
    "pipe": "a|b",
    "newline": "a\nb",
}


@pytest.mark.parametrize("cfg,key,problem,fix", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config_value_is_refused(cfg, key, problem, fix):
    assert_names(refusal(cfg), key, problem, fix)


@pytest.mark.parametrize("name", UNSAFE_NAMES.values(), ids=UNSAFE_NAMES.keys())
@pytest.mark.parametrize("table", ["datasets", "architectures"])
def test_unsafe_name_is_refused(table, name):
    spec = {"source": "synthetic"} if table == "datasets" else {"hidden": [4]}
    message = refusal(tiny_config(**{table: {name: spec}}))
    assert_names(
        message,
        table,
        f"name {name!r} is not allowed",
        "use only letters, digits, '_' and '-' (names become directory names)",
    )


def test_names_equal_but_for_case_are_refused():
    message = refusal(
        tiny_config(
            datasets={"iris": {"source": "sklearn", "name": "iris"}, "Iris": {"source": "sklearn", "name": "iris"}}
        )
    )
    assert_names(
        message,
        "datasets",
        "names 'iris' and 'Iris' differ only in case and would share a directory on macOS and Windows",
        "rename one of them",
    )


# ---------------------------------------------------------------- config files (load_config)

# id -> (YAML text, problem, fix); the message names the file (and the line where YAML has one).
YAML_CASES = {
    "malformed_unclosed_brace": (
        "datasets:\n  goodbad: {source: synthetic\nseeds: [0]\n",
        "malformed YAML at line 3, column 6: expected ',' or '}', but got ':'",
        "correct the YAML syntax there",
    ),
    "malformed_tab_indent": (
        "datasets:\n\tgoodbad: {source: synthetic}\n",
        "malformed YAML at line 2, column 1: found character '\\t' that cannot start any token",
        "correct the YAML syntax there",
    ),
    "top_level_list": (
        "- datasets\n- seeds\n",
        "the top level must be a mapping of keys, not list",
        "start from config/config.yaml",
    ),
    "duplicate_dataset_name": (
        "datasets:\n  goodbad: {source: synthetic}\n  goodbad: {source: sklearn, name: iris}\narchitectures:\n  small: {hidden: [4]}\nseeds: [0]\n",
        "key 'goodbad' is given twice (lines 2 and 3)",
        "keep one of them; names and keys must be unique",
    ),
    "python_object_tag": (
        "seeds: !!python/object/apply:os.system ['touch pwned']\n",
        "unsupported YAML at line 1: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        "use plain YAML values (tags such as !!python/... are refused)",
    ),
}


@pytest.mark.parametrize("text,problem,fix", YAML_CASES.values(), ids=YAML_CASES.keys())
def test_bad_config_file_is_refused(tmp_path, monkeypatch, text, problem, fix):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {problem}. Fix: {fix}"
    assert not (tmp_path / "pwned").exists()


def test_empty_config_file_asks_for_the_required_keys(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).split("\n")
    assert len(lines) == 3
    for line, key in zip(lines, ("datasets", "architectures", "seeds")):
        assert_names(line, key, "required key is missing", f"add '{key}' (see config/README.md)", source=str(path))


def test_every_schema_error_of_a_config_is_reported_at_once():
    """One line per error, each as it would read alone; a misspelt required key is reported once."""
    training = {"epochs": "five", "lr": 0.1, "batchsize": 3}
    cfg = tiny_config(architectures={"small": {"hiden": [8]}}, training=training, seeds=[-1])
    training_keys = "use one of: optimizer, learning_rate, momentum, batch_size, epochs, eval_batch_size"
    training_keys += ", early_stopping, class_weight"
    ARCHITECTURE_KEYS = "use one of: hidden, activation, dropout, l2, batch_norm"
    expected = [  # outer mappings first, as the schema finds them
        ("training.lr", "unknown key 'lr'", training_keys),
        ("training.batchsize", "unknown key 'batchsize' (did you mean 'batch_size'?)", training_keys),
        ("architectures.small.hiden", "unknown key 'hiden' (did you mean 'hidden'?)", ARCHITECTURE_KEYS),
        ("seeds[0]", "value -1 is out of range", "give a value >= 0"),
        ("training.epochs", "value 'five' has the wrong type", "give a value of type integer"),
    ]
    lines = refusal(cfg).split("\n")
    assert len(lines) == len(expected), lines
    for line, (key, problem, fix) in zip(lines, expected):
        assert_names(line, key, problem, fix)


def test_missing_config_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found\. Fix: pass an existing file"):
        load_config(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- data files checked with the config

ROWS = np.random.default_rng(0).normal(size=(60, 2)).round(3)


def table(header: str = "a,b,label", rows=None, sep: str = ",") -> str:
    """A small two-class table; `rows` replaces the generated ones."""
    rows = rows if rows is not None else [f"{a}{sep}{b}{sep}{i % 2}" for i, (a, b) in enumerate(ROWS)]
    return "\n".join([header.replace(",", sep), *rows]) + "\n"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """tmp_path as the working directory, with one good table in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.csv").write_text(table())
    return tmp_path


FILE_CONFIG_CASES = {
    "missing_file": (
        {"path": "nope.csv", "label": "label"},
        "path",
        "data file 'nope.csv' does not exist (working directory {cwd})",
        "check the path; relative paths start at the directory snakemake runs in",
    ),
    "directory_not_file": (
        {"path": "folder.csv", "label": "label"},
        "path",
        "'folder.csv' is a directory, not a data file",
        "give the path of the data file itself",
    ),
    "unknown_extension": (
        {"path": "good.xlsx", "label": "label"},
        "format",
        "cannot tell the format of 'good.xlsx'",
        "name the file *.csv, *.tsv, *.parquet or *.npz, or set format to one of: csv, tsv, parquet, npz",
    ),
    "unsupported_format": (
        {"path": "good.csv", "format": "excel", "label": "label"},
        "format",
        "value 'excel' is not allowed",
        "use one of: csv, tsv, parquet, npz",
    ),
    "label_not_set": (
        {"path": "good.csv"},
        "label",
        "a table needs the name of its label column",
        "set label: <column name>",
    ),
    "label_column_missing": (
        {"path": "good.csv", "label": "lable"},
        "label",
        "label column 'lable' is not in good.csv (did you mean 'label'?)",
        "use one of its columns: a, b, label",
    ),
    "feature_column_missing": (
        {"path": "good.csv", "label": "label", "features": ["a", "bb"]},
        "features",
        "column 'bb' is not in good.csv (did you mean 'b'?)",
        "name existing columns or leave features out to use all but the label",
    ),
    "label_among_features": (
        {"path": "good.csv", "label": "label", "features": ["a", "label"]},
        "features",
        "the label column 'label' is listed as a feature (the model would see the answer)",
        "remove it from features",
    ),
    "features_not_a_list": (
        {"path": "good.csv", "label": "label", "features": "a"},
        "features",
        "value 'a' has the wrong type",
        "give a value of type array or null",
    ),
    "group_column_missing": (
        {"path": "good.csv", "label": "label"},
        None,
        "group column 'subjct' is not in good.csv (data set 'mine')",
        "use one of its columns: a, b, label",
    ),
    "group_listed_as_feature": (
        {"path": "good.csv", "label": "label", "features": ["a", "b"]},
        "features",
        "the group column 'b' is listed as a feature (the model would learn the group, not the condition)",
        "remove it from features",
    ),
    "unknown_file_key_close": (
        {"path": "good.csv", "lable": "label"},
        "lable",
        "unknown key 'lable' for source 'file' (did you mean 'label'?)",
        "use one of: source, path, format, label, features, drop, sep, x, y, class_names",
    ),
    "semicolon_separated": (
        {"path": "semi.csv", "label": "label"},
        "sep",
        "semi.csv reads as one column 'a;b;label': its values are separated by ';', not ','",
        "set sep: ';' in datasets.mine",
    ),
    "tab_separated_csv": (
        {"path": "tabs.csv", "label": "label"},
        "sep",
        "tabs.csv reads as one column 'a\\tb\\tlabel': its values are separated by \"\\t\", not ','",
        'set sep: "\\t" in datasets.mine',
    ),
    "drop_column_missing": (
        {"path": "good.csv", "label": "label", "drop": ["trial"]},
        "drop",
        "column 'trial' is not in good.csv",
        "name columns of the file: a, b, label",
    ),
    "drop_with_features": (
        {"path": "good.csv", "label": "label", "features": ["a"], "drop": ["b"]},
        "drop",
        "features names the columns to use and drop the columns to leave out; both are given",
        "keep one: features, or drop (all other columns but the label)",
    ),
    "sep_on_parquet": (
        {"path": "good.parquet", "label": "label", "sep": ";"},
        "sep",
        "applies to CSV and TSV files, and 'good.parquet' is parquet",
        "remove sep",
    ),
}


@pytest.mark.parametrize("spec,key,problem,fix", FILE_CONFIG_CASES.values(), ids=FILE_CONFIG_CASES.keys())
def test_bad_data_file_is_refused_with_the_config(data_dir, spec, key, problem, fix):
    (data_dir / "folder.csv").mkdir()
    (data_dir / "good.xlsx").write_text("not a table")
    (data_dir / "good.parquet").write_text("not read")
    (data_dir / "semi.csv").write_text(table(sep=";"))
    (data_dir / "tabs.csv").write_text(table(sep="\t"))
    cfg = with_dataset("mine", {"source": "file", **spec})
    if "group" in problem:  # a group split names its column under split.group
        cfg["split"] = {"method": "group_kfold", "group": "subjct" if key is None else "b"}
    message = refusal(cfg).replace(str(data_dir), "{cwd}")
    assert_names(message, "split.group" if key is None else f"datasets.mine.{key}", problem, fix)


def test_within_subject_groups_that_would_share_directories_are_refused(data_dir):
    rows = [f"{a},{b},{i % 2},{'01' if i < 10 else 'sub-01' if i < 30 else 'sub-02'}" for i, (a, b) in enumerate(ROWS)]
    (data_dir / "subjects.csv").write_text(table("a,b,label,subject", rows))
    cfg = with_dataset("mine", {"source": "file", "path": "subjects.csv", "label": "label"})
    cfg["split"] = {"method": "kfold", "folds": 2, "within": "subject"}
    problem = "groups '01' and 'sub-01' of column 'subject' in subjects.csv"
    problem += " would share run directories (sub-01_seed0...)"
    assert_names(refusal(cfg), "split.within", problem, "recode the groups so that each is written one way")
    (data_dir / "subjects.csv").write_text(table("a,b,label,subject", [r.replace(",01", ",sub-0_1") for r in rows]))
    problem = "group 'sub-0_1' of column 'subject' in subjects.csv cannot name a run directory (sub-<group>_seed0...)"
    fix = "recode the groups as letters and digits (e.g. 01, 02, or BIDS sub-01, sub-02)"
    assert_names(refusal(cfg), "split.within", problem, fix)


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root reads files whatever their mode; test_bad_data_file_is_refused_with_the_config[directory_not_file] covers unreadable paths",
)
def test_unreadable_data_file_is_refused(data_dir):
    (data_dir / "good.csv").chmod(0)
    message = refusal(with_dataset("mine", {"source": "file", "path": "good.csv", "label": "label"}))
    assert_names(message, "datasets.mine.path", "data file 'good.csv' is not readable", "fix its permissions")


def test_a_table_read_with_the_wrong_separator_fails_its_run_naming_sep(tmp_path, monkeypatch):
    """Past planning (a file changed since), loading names the separator too, not a missing label column."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "semi.csv").write_text(table(sep=";"))
    with pytest.raises(DataError) as err:
        load_dataset({"source": "file", "path": "semi.csv", "label": "label", "name": "mine"})
    assert str(err.value) == (
        "data file semi.csv: reads as one column 'a;b;label': its values are separated by ';', not ','."
        " Fix: set sep: ';' in datasets.mine"
    )


def test_a_channel_marked_bad_in_one_subject_is_named_with_the_fix(tmp_path):
    import mne
    from epochs_data import PATTERN, make_epochs

    make_epochs(tmp_path, subjects=("01", "02"))
    path = tmp_path / PATTERN.format(subject="02")
    epochs = mne.read_epochs(path, verbose="error")
    epochs.info["bads"] = ["Cz"]
    epochs.save(path, overwrite=True, verbose="error")
    cfg = tiny_config(datasets={"odd": {"source": "epochs", "path": str(tmp_path / PATTERN)}})
    problem = (
        f"{path} marks channel 'Cz' bad (info['bads']), so its picks leave it out and its channels differ from"
        f" {tmp_path / PATTERN.format(subject='01')}'s"
    )
    fix = (
        "interpolate bad channels (epochs.interpolate_bads()) or drop them (epochs.drop_channels)"
        " in every subject's file, or list the channels to use under picks"
    )
    assert_names(refusal(cfg), "datasets.odd.picks", problem, fix)
    cfg["datasets"]["odd"]["picks"] = ["Fz", "Pz"]
    assert expand_runs(validate_config(cfg))  # picking channels by name is the other way out


# ---------------------------------------------------------------- data content: fails its own run only


def npz(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


def truncated_npz(path: Path) -> None:
    """A real archive cut in half, as by a full disk or an interrupted copy."""
    npz(path, x=GOOD_X, y=GOOD_Y)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def npz_members(content: bytes):
    """A writer of a valid zip whose members x.npy and y.npy hold `content`."""

    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x.npy", content)
            archive.writestr("y.npy", content)

    return write


def write_file(name: str, content) -> None:
    """Write `content` (text, bytes, arrays for .npz, or a writer function) to `name` in the working directory."""
    path = Path(name)
    if callable(content):
        content(path)
    elif isinstance(content, dict):
        npz(path, **content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


GOOD_X = ROWS.astype(np.float32)
GOOD_Y = np.arange(60) % 2
NAN_ROW = [f"{a},{b},{i % 2}" if i != 4 else "1.0,nan,0" for i, (a, b) in enumerate(ROWS)]
INF_ROW = [f"{a},{b},{i % 2}" if i != 9 else "inf,1.0,1" for i, (a, b) in enumerate(ROWS)]

# id -> (file name, content, extra dataset keys, the exact message); each passes config validation.
DATA_CASES = {
    "non_numeric_feature": (
        "d.csv",
        table(rows=[f"{a},x{i},{i % 2}" for i, (a, _) in enumerate(ROWS)]),
        {},
        "data file d.csv: feature column 'b' is not numeric (e.g. 'x0'). Fix: encode it as numbers or list only numeric columns under 'features'",
    ),
    "nan_feature": (
        "d.csv",
        table(rows=NAN_ROW),
        {},
        "data file d.csv: features contain NaN (first in column 'b', data row 5; 1 values in all). Fix: impute or drop those rows",
    ),
    "inf_feature": (
        "d.csv",
        table(rows=INF_ROW),
        {},
        "data file d.csv: features contain inf (first in column 'a', data row 10; 1 values in all). Fix: impute or drop those rows",
    ),
    "nan_feature_tsv": (
        "d.tsv",
        table(rows=[r.replace(",", "\t") for r in NAN_ROW], sep="\t"),
        {},
        "data file d.tsv: features contain NaN (first in column 'b', data row 5; 1 values in all). Fix: impute or drop those rows",
    ),
    "missing_label": (
        "d.csv",
        table(rows=[*table().splitlines()[1:], "1.0,2.0,"]),
        {},
        "data file d.csv: labels contain missing values (NaN). Fix: drop or label those rows",
    ),
    "one_class": (
        "d.csv",
        table(rows=[f"{a},{b},1" for a, b in ROWS]),
        {},
        "dataset 'bad' (file d.csv): only one class ('1') in the labels. Fix: a classifier needs at least two classes",
    ),
    "too_few_samples": (
        "d.csv",
        table(rows=["1,2,0", "2,3,1", "3,4,0", "4,5,1"]),
        {},
        "dataset 'bad' (file d.csv): 4 samples in 2 classes (smallest class 2) are too few for a stratified split with validation=0.15 and test=0.15. Fix: use more samples (each class needs >= 3, and each split >= one per class)",
    ),
    "regression_target": (
        "d.csv",
        table(rows=[f"{a},{b},{a + b}" for a, b in ROWS]),
        {},
        "dataset 'bad' (file d.csv): 60 samples in 60 classes (smallest class 1) are too few for a stratified split with validation=0.15 and test=0.15. Fix: use more samples (each class needs >= 3, and each split >= one per class)",
    ),
    "header_only": (
        "d.csv",
        "a,b,label\n",
        {},
        "data file d.csv: has a header but no data rows. Fix: add samples, or point datasets.bad.path at the right file",
    ),
    "empty_file": (
        "d.csv",
        "",
        {},
        "data file d.csv: cannot be read as csv (EmptyDataError: No columns to parse from file). Fix: check the file's format or set datasets.bad.format",
    ),
    "ragged_rows": (
        "d.csv",
        "a,b,label\n1,2,0\n1,2,0,4,5\n",
        {},
        "data file d.csv: cannot be read as csv (ParserError: Error tokenizing data. C error: Expected 3 fields in line 3, saw 5). Fix: check the file's format or set datasets.bad.format",
    ),
    "only_label_column": (
        "d.csv",
        "label\n" + "".join(f"{i % 2}\n" for i in range(60)),
        {},
        "data file d.csv: no feature columns besides the label 'label'. Fix: add feature columns",
    ),
    "class_names_negative_labels": (
        "d.csv",
        table(rows=[f"{a},{b},{i % 3 - 1}" for i, (a, b) in enumerate(ROWS)]),
        {"class_names": ["x", "y", "z"]},
        "data file d.csv: class_names given, but labels are not integers 0..2. Fix: remove class_names or recode the labels",
    ),
    "npz_needs_pickle": (
        "d.npz",
        {"x": np.array([[1.0, "a"]] * 60, dtype=object), "y": GOOD_Y},
        {},
        "data file d.npz: arrays hold Python objects, which would need pickle (refused for safety). Fix: save numeric arrays, e.g. np.savez(path, x=x.astype('float32'), y=y.astype('int64'))",
    ),
    "npz_labels_need_pickle": (
        "d.npz",
        {"x": GOOD_X, "y": np.array(["a", None] * 30, dtype=object)},
        {},
        "data file d.npz: arrays hold Python objects, which would need pickle (refused for safety). Fix: save numeric arrays, e.g. np.savez(path, x=x.astype('float32'), y=y.astype('int64'))",
    ),
    "npz_array_missing": (
        "d.npz",
        {"x": GOOD_X},
        {},
        "data file d.npz: array 'y' is missing (arrays: x). Fix: set datasets.bad.y to the array's name",
    ),
    "npz_features_1d": (
        "d.npz",
        {"x": GOOD_X[:, 0], "y": GOOD_Y},
        {},
        "data file d.npz: array 'x' must be 2-D (samples x features), got shape (60,). Fix: reshape it",
    ),
    "npz_labels_wrong_length": (
        "d.npz",
        {"x": GOOD_X, "y": GOOD_Y[:50]},
        {},
        "data file d.npz: array 'y' must be 1-D with one label per row of 'x', got shape (50,). Fix: store one label per sample",
    ),
    "npz_text_features": (
        "d.npz",
        {"x": np.full((60, 2), "a"), "y": GOOD_Y},
        {},
        "data file d.npz: array 'x' is not numeric (dtype <U1). Fix: store numbers",
    ),
    "npz_nan_feature": (
        "d.npz",
        {"x": np.where(np.arange(120).reshape(60, 2) == 7, np.nan, GOOD_X), "y": GOOD_Y},
        {},
        "data file d.npz: features contain NaN (first in feature 1, data row 4; 1 values in all). Fix: impute or drop those rows",
    ),
    "npz_no_samples": (
        "d.npz",
        {"x": np.zeros((0, 2)), "y": np.zeros(0, dtype=np.int64)},
        {},
        "data file d.npz: holds no samples. Fix: add samples, or point datasets.bad.path at the right file",
    ),
    "npz_not_a_zip": (
        "d.npz",
        b"x,y\n1,0\n",
        {},
        "data file d.npz: not an NPZ archive (no zip structure). Fix: write it with numpy.savez, or set datasets.bad.format to the file's real format",
    ),
    "npz_truncated": (
        "d.npz",
        truncated_npz,
        {},
        "data file d.npz: not an NPZ archive (no zip structure). Fix: write it with numpy.savez, or set datasets.bad.format to the file's real format",
    ),
    "npz_member_not_npy": (
        "d.npz",
        npz_members(b"not an array"),
        {},
        "data file d.npz: member 'x' is not a NumPy array. Fix: write the file with numpy.savez",
    ),
    "npz_member_bad_header": (
        "d.npz",
        npz_members(b"\x93NUMPY\x01\x00\x10\x00garbage-header!!"),
        {},
        "data file d.npz: not a valid NPZ file (Cannot parse header: 'garbage-header!!'). Fix: write it with numpy.savez",
    ),
}


@pytest.mark.parametrize("name,content,extra,expected", DATA_CASES.values(), ids=DATA_CASES.keys())
def test_bad_data_content_fails_only_its_run(tmp_path, monkeypatch, name, content, extra, expected):
    monkeypatch.chdir(tmp_path)
    write_file(name, content)
    spec = {"source": "file", "path": name, **({"label": "label"} if not name.endswith(".npz") else {}), **extra}
    run = expand_runs(validate_config(with_dataset("bad", spec), source=SOURCE))[0]  # passes the config checks
    run_dir = tmp_path / "results" / run.path
    with pytest.raises(DataError) as err:
        DataCache().splits(run.config)
    message = str(err.value)
    assert message == expected
    assert train_runs([run], tmp_path / "results", DataCache()) == {run.path: "failed"}
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "failed.json",
        "train.log",
    ]  # no metrics.json, model or checkpoint
    assert message in (run_dir / "train.log").read_text()
    assert not (tmp_path / "results" / "checkpoints").exists()
    failed = json.loads((run_dir / "failed.json").read_text())
    assert (
        failed["status"] == "failed"
        and failed["error"] == f"DataError: {message}"
        and failed["config_hash"] == run.hash
    )


# ---------------------------------------------------------------- through Snakemake


def tree(root: Path) -> dict:
    """Every file under `root` with its bytes and modification time."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# id -> (config file text or a config dict, what Snakemake's output must contain)
WORKFLOW_CASES = {
    "unknown_key_close": (
        with_training(learnin_rate=0.1),
        "config/config.yaml: key 'training.learnin_rate': unknown key 'learnin_rate' (did you mean 'learning_rate'?). Fix:",
    ),
    "command_substitution_name": (
        tiny_config(datasets={"$(touch pwned)": {"source": "synthetic"}}),
        "config/config.yaml: key 'datasets': name '$(touch pwned)' is not allowed. Fix: use only letters",
    ),
    "semicolon_architecture": (
        tiny_config(architectures={"x;touch pwned": {"hidden": [4]}}),
        "key 'architectures': name 'x;touch pwned' is not allowed",
    ),
    "empty_grid": (
        tiny_config(exclude=[{"architecture": "small"}, {"architecture": "deep"}]),
        "config/config.yaml: key 'exclude': the grid is empty after exclusions. Fix:",
    ),
    "missing_data_file": (
        with_dataset("mine", {"source": "file", "path": "data/mine.csv", "label": "y"}),
        "key 'datasets.mine.path': data file 'data/mine.csv' does not exist",
    ),
    "duplicate_name": (
        "datasets:\n  g: {source: synthetic}\n  g: {source: sklearn, name: iris}\narchitectures:\n  a: {hidden: [4]}\nseeds: [0]\n",
        "config/config.yaml: key 'g' is given twice (lines 2 and 3). Fix: keep one of them",
    ),
    "results_root": (tiny_config(results="/"), "key 'results': '/' names no directory"),
    "env_module_injection": (
        tiny_config(execution={"env_modules": ["$(touch pwned)"]}),
        "key 'execution.env_modules[0]': '$(touch pwned)' is not a module name",
    ),
    # The default config file is read by the workflow itself: line and column of the error.
    "malformed_yaml": (
        "datasets:\n  g: {source: synthetic\nseeds: [0]\n",
        "config/config.yaml: malformed YAML at line 3, column 6",
    ),
    "python_object_tag": (
        "datasets: !!python/object/apply:os.system ['touch pwned']\n",
        "config/config.yaml: unsupported YAML at line 1",
    ),
}


@pytest.mark.workflow
@pytest.mark.parametrize("cfg,expected", WORKFLOW_CASES.values(), ids=WORKFLOW_CASES.keys())
def test_snakemake_refuses_bad_config_before_any_job(tmp_path, cfg, expected):
    if isinstance(cfg, str):
        (tmp_path / "config").mkdir()
        (tmp_path / "config" / "config.yaml").write_text(cfg)
    else:
        write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, check=False, timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert expected in output, output[-3000:]
    assert "rule train" not in output and "Building DAG of jobs" not in output
    assert not (tmp_path / "results").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.workflow
def test_refused_config_leaves_existing_results_untouched(tmp_path):
    """A typo in a config of a finished sweep changes nothing under results/."""
    results = tmp_path / "results"
    for rel, text in {
        "runs/goodbad/small/default/seed0/metrics.json": '{"status": "finished"}\n',
        "summary/summary.md": "| table |\n",
        "jobs/chunk0.json": "{}\n",
    }.items():
        (results / rel).parent.mkdir(parents=True, exist_ok=True)
        (results / rel).write_text(text)
    before = tree(results)
    write_config(tmp_path, tiny_config(seeds=[0, 1, 1]))
    proc = run_snakemake(tmp_path, check=False, timeout=120)
    assert (
        proc.returncode != 0
        and "key 'seeds': has duplicates [0, 1, 1]. Fix: list each value once" in proc.stdout + proc.stderr
    )
    assert tree(results) == before


@pytest.mark.workflow
def test_bad_data_fails_only_its_own_runs_in_a_sweep(tmp_path):
    """Two broken data sets among good ones: their runs fail with the reason in the log, the rest finish."""
    npz(tmp_path / "objects.npz", x=np.array([[1.0, "a"]] * 60, dtype=object), y=GOOD_Y)
    (tmp_path / "tiny.tsv").write_text(table(rows=["1\t2\t0", "2\t3\t1", "3\t4\t0", "4\t5\t1"], sep="\t"))
    datasets = {
        "goodbad": {"source": "synthetic", "n_samples": 200, "n_features": 4, "seed": 1},
        "objects": {"source": "file", "path": "objects.npz"},
        "tiny": {"source": "file", "path": "tiny.tsv", "label": "label"},
    }
    # All runs in one job: a failing data set must not take its siblings in the same process down.
    write_config(
        tmp_path,
        tiny_config(
            datasets=datasets,
            architectures={"small": {"hidden": [4]}},
            training={"epochs": 1},
            seeds=[0],
            execution={"runs_per_job": 3, "threads": 1},
        ),
    )
    proc = run_snakemake(tmp_path, "--keep-going", check=False)
    assert proc.returncode != 0
    runs = tmp_path / "results" / "runs"
    assert json.loads((runs / "goodbad/small/default/seed0/metrics.json").read_text())["status"] == "finished"
    expected = {
        "objects": "data file objects.npz: arrays hold Python objects, which would need pickle",
        "tiny": "dataset 'tiny' (file tiny.tsv): 4 samples in 2 classes",
    }
    job_logs = "".join(p.read_text() for p in (tmp_path / "results" / "logs" / "train").glob("*.log"))
    for name, message in expected.items():
        run_dir = runs / name / "small/default/seed0"
        assert not (run_dir / "metrics.json").exists()
        assert message in json.loads((run_dir / "failed.json").read_text())["error"]
        assert message in (run_dir / "train.log").read_text() and message in job_logs
        assert message in proc.stdout + proc.stderr  # the failed job's log is shown to the user


# ---------------------------------------------------------------- hostile input reaches no shell, path, pickle or unsafe model

WORKFLOW_FILES = [REPO / "workflow" / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
PYTHON_FILES = sorted((REPO / "scripts").rglob("*.py"))
SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


def calls(path: Path):
    """Every function call in a Python file, as (dotted name, ast.Call)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func), node


def keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_every_rule_runs_python_and_none_a_shell_command():
    """Rules act through `script:` (or a `run:` block of Python): config strings never become shell text."""
    text = "\n".join(p.read_text() for p in WORKFLOW_FILES)
    assert not re.search(r"^\s*shell:", text, re.M) and "shell(" not in text
    rules = re.split(r"^\s*(?:local)?rule (\w+):", text, flags=re.M)[1:]
    bodies = dict(zip(rules[::2], rules[1::2]))
    assert "script:" in bodies["train"] and "script:" in bodies["summarize"]
    assert [
        name for name, body in bodies.items() if name != "all" and not re.search(r"^\s*(script|run):", body, re.M)
    ] == []


def test_scripts_start_no_shell_and_deserialize_nothing_unsafe():
    """subprocess only with argument lists; no os.system, eval or pickle; NumPy without pickle;
    Keras models only in safe mode."""
    problems = []
    for path in PYTHON_FILES:
        for name, call in calls(path):
            where = f"{path.relative_to(REPO)}:{call.lineno} {name}"
            if name in (
                "os.system",
                "os.popen",
                "eval",
                "exec",
                "pickle.load",
                "pickle.loads",
                "keras.config.enable_unsafe_deserialization",
            ):
                problems.append(where)
            if name.startswith("subprocess.") and (
                isinstance(keyword(call, "shell"), ast.Constant)
                and keyword(call, "shell").value
                or (call.args and not isinstance(call.args[0], ast.List))
            ):
                problems.append(where + " (shell or a command string)")
            if name in ("np.load", "numpy.load") and not (
                isinstance(keyword(call, "allow_pickle"), ast.Constant) and keyword(call, "allow_pickle").value is False
            ):
                problems.append(where + " (needs allow_pickle=False)")
            if name.endswith("load_model") and not (
                isinstance(keyword(call, "safe_mode"), ast.Constant) and keyword(call, "safe_mode").value is True
            ):
                problems.append(where + " (needs safe_mode=True)")
        if re.search(r"^\s*(import|from)\s+(pickle|dill|cloudpickle|joblib)\b", path.read_text(), re.M):
            problems.append(f"{path.relative_to(REPO)} imports a pickle library")
    assert problems == [], "\n".join(problems)
    assert any(name == "np.load" for path in PYTHON_FILES for name, _ in calls(path))  # the check above saw the loaders


def test_names_in_paths_are_restricted_everywhere():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["name_map"]["propertyNames"]["pattern"] == "^[A-Za-z0-9_-]+$"
    assert {schema["properties"][t]["$ref"] for t in ("datasets", "architectures")} == {"#/$defs/name_map"}
    constraints = dict(
        re.findall(
            r'^\s+(\w+)=r"([^"]+)"',
            re.search(r"wildcard_constraints:\n((?:\s+\w+=.*\n)+)", (REPO / "workflow/rules/common.smk").read_text())[
                1
            ],
            re.M,
        )
    )
    used = set(re.findall(r"\{\{(\w+)\}\}", "\n".join(p.read_text() for p in WORKFLOW_FILES)))
    assert used and used <= set(constraints), f"wildcards without a constraint: {used - set(constraints)}"
    for pattern in constraints.values():
        assert not any(re.fullmatch(pattern, bad) for bad in ("..", "a/b", "a b", "$(id)", "x;y", ""))


def test_run_directories_stay_inside_results_and_never_collide():
    """Every grid value, however written, gives its own directory of safe characters."""
    lrs = [1e6, 1e-7, 0.0012345678, 0.0012345679, 123456789.0, 0.1]
    cfg = tiny_config(
        grid={"learning_rate": lrs, "momentum": [0.0, 0.95], "batch_size": [16, 32], "optimizer": ["sgd", "rmsprop"]}
    )
    runs = expand_runs(validate_config(cfg))
    paths = [run.path for run in runs]
    assert len(set(paths)) == len(paths) == 2 * 2 * len(lrs) * 2 * 2 * 2 * 2
    for path in paths:
        parts = path.split("/")
        assert (
            parts[0] == "runs"
            and len(parts) == 5
            and all(SAFE_SEGMENT.match(p) and p not in (".", "..") for p in parts)
        ), path
        assert RUN_DIR_RE.match(path), path  # the summary can read it back
