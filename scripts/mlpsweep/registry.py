"""One definition of each option family: every other part of mlpsweep reads these tables.

The config schema takes its name lists from here (`x-registry` in
workflow/schemas/config.schema.yaml), the checks and the grid labels read them, the engine
and the data module look implementations up by these names, and the summary and the plots
take labels, units and directions from `METRICS`. Adding an optimizer, a metric or a data
source is one entry here plus its implementation (see CONTRIBUTING.md).

Plain data only: importing this module must stay cheap (Snakemake imports it to plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ---------------------------------------------------------------- optimizers


@dataclass(frozen=True)
class Optimizer:
    keras_class: str  # keras.optimizers.<keras_class>, built with Keras's defaults but the learning rate
    uses: tuple[str, ...] = ()  # training keys besides learning_rate that change its numbers
    slots: int = 0  # state arrays the size of the weights it keeps (sizing.py's memory formula)


# The update rules live in mlpsweep/engine/optimizers.py (RULES), one per name.
OPTIMIZERS = {
    "sgd": Optimizer("SGD", uses=("momentum",), slots=1),
    "adam": Optimizer("Adam", slots=2),
    "adamw": Optimizer("AdamW", slots=2),
    "rmsprop": Optimizer("RMSprop", uses=("momentum",), slots=2),
    "adagrad": Optimizer("Adagrad", slots=1),
    "nadam": Optimizer("Nadam", slots=2),
}

# ---------------------------------------------------------------- activations

# Names of keras.activations (looked up with keras.activations.get).
ACTIVATIONS = ("relu", "elu", "gelu", "selu", "tanh", "sigmoid", "swish", "silu", "leaky_relu", "linear")

# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Metric:
    label: str  # column header in the tables and axis name in the plots
    unit: str  # fraction | nats | s | count | epochs
    higher_is_better: bool
    percent: bool = False  # shown x 100 when summary.percent is set
    # "module.function" of mlpsweep computing it from a part's predictions (record.Evaluated of the
    # part its name starts with), for a metric that metrics.classification_metrics does not give:
    # record.py then records it in metrics.json, and runs.csv and the summary tables show it
    compute: str = ""
    # optionally, the same for a pack's members at once (a list of record.Evaluated -> a list of
    # values, each the one `compute` gives): quicker where NumPy's calls cost more than the work
    compute_many: str = ""


METRICS = {
    "test_accuracy": Metric("Test acc.", "fraction", True, percent=True),
    "test_balanced_accuracy": Metric("Test bal. acc.", "fraction", True, percent=True),
    "test_macro_f1": Metric("Test macro F1", "fraction", True, percent=True),
    "test_roc_auc": Metric(
        "Test AUC", "fraction", True, compute="auc.roc_auc_of", compute_many="auc.roc_auc_of_members"
    ),
    "test_loss": Metric("Test loss", "nats", False),
    "val_accuracy": Metric("Val. acc.", "fraction", True, percent=True),
    "val_loss": Metric("Val. loss", "nats", False),
    "val_roc_auc": Metric(
        "Val. AUC", "fraction", True, compute="auc.roc_auc_of", compute_many="auc.roc_auc_of_members"
    ),
    "train_accuracy": Metric("Train acc.", "fraction", True, percent=True),
    "train_loss": Metric("Train loss", "nats", False),
    "epochs_run": Metric("Epochs", "epochs", False),
    "fit_seconds": Metric("Fit (s)", "s", False),
    "n_params": Metric("Params", "count", False),
}

# ---------------------------------------------------------------- data sources


@dataclass(frozen=True)
class Source:
    loader: str  # "module.function" of mlpsweep.data: (resolved entry, group column) -> Dataset
    keys: dict = field(default_factory=dict)  # JSON-schema of each key; a `default` is filled in
    required: tuple[str, ...] = ()
    sweepable: tuple[str, ...] = ()  # keys a grid may sweep (`dataset.<key>`)
    # "module.function" of mlpsweep.data reading new rows for a trained model (scripts/predict.py)
    reader: str = "files.read_features"


_COUNT = {"type": "integer", "minimum": 1}
# The formats of a table or array file (`source: file`), in the order messages list them.
FILE_FORMATS = ("csv", "tsv", "parquet", "npz")

SOURCES = {
    "synthetic": Source(
        "builtin.load_synthetic_source",
        keys={
            "n_samples": {**_COUNT, "minimum": 2, "default": 1000},
            "n_features": {**_COUNT, "default": 20},
            "n_classes": {**_COUNT, "minimum": 2, "default": 2},
            "separation": {"type": "number", "minimum": 0, "default": 1.5},
            "noise": {"type": "number", "minimum": 0, "default": 1.0},
            "seed": {"type": "integer", "minimum": 0, "default": 0},
            "class_names": {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
        },
        sweepable=("n_samples", "n_features", "n_classes", "separation", "noise", "seed"),
    ),
    "sklearn": Source(
        "builtin.load_sklearn_source",
        keys={"name": {"type": "string", "enum": ["digits", "wine", "breast_cancer", "iris"]}},
        required=("name",),
    ),
    "file": Source(
        "files.load_file",
        keys={
            "path": {"type": "string", "minLength": 1},
            "format": {"type": ["string", "null"], "enum": [*FILE_FORMATS, None], "default": None},
            "label": {"type": ["string", "null"], "default": None},
            "features": {"type": ["array", "null"], "default": None},
            # columns left out of the features (e.g. a trial index), where `features` is not given
            "drop": {"type": ["array", "null"], "items": {"type": "string"}, "uniqueItems": True, "default": None},
            # the separator of a CSV or TSV file; null: ',' for csv, a tab for tsv
            "sep": {"type": ["string", "null"], "minLength": 1, "default": None},
            "x": {"type": "string", "default": "x"},
            "y": {"type": "string", "default": "y"},
            "class_names": {"type": ["array", "null"], "items": {"type": "string"}, "default": None},
        },
        required=("path",),
    ),
    "epochs": Source(
        "epochs.load_epochs",
        reader="epochs.read_features",
        keys={
            "path": {"type": "string", "minLength": 1},  # one -epo.fif file, or a pattern with {subject}
            "conditions": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "minItems": 1,
                "uniqueItems": True,
                "default": None,
            },
            "label": {
                "type": ["object", "null"],
                "properties": {"metadata": {"type": "string", "minLength": 1}},
                "required": ["metadata"],
                "additionalProperties": False,
                "default": None,
                "x-type-fix": "write label: {{metadata: {value}}} for a column of the epochs' metadata,"
                " or leave label out to label trials by their condition",
            },
            "picks": {
                "type": ["string", "array"],
                "items": {"type": "string"},
                "minLength": 1,
                "minItems": 1,
                "default": "eeg",
            },
            "tmin": {"type": ["number", "null"], "default": None},
            "tmax": {"type": ["number", "null"], "default": None},
            "decim": {**_COUNT, "default": 1},
            "windows": {
                "type": ["object", "null"],
                "properties": {
                    "length": {"type": "number", "exclusiveMinimum": 0},
                    "step": {"type": "number", "exclusiveMinimum": 0},
                },
                "required": ["length", "step"],
                "additionalProperties": False,
                "default": None,
            },
        },
        required=("path",),
    ),
}

# ---------------------------------------------------------------- split methods


@dataclass(frozen=True)
class SplitMethod:
    uses: tuple[str, ...]  # split keys that change its numbers (besides validation and seed)
    folds: str  # "none" (one split), "config" (split.folds) or "groups" (one per group)
    grouped: bool = False  # needs split.group


SPLIT_METHODS = {
    "holdout": SplitMethod(uses=("test",), folds="none"),
    "kfold": SplitMethod(uses=("folds",), folds="config"),
    "group_kfold": SplitMethod(uses=("folds", "group"), folds="config", grouped=True),
    "leave_one_group_out": SplitMethod(uses=("group",), folds="groups", grouped=True),
}

CLASS_WEIGHTS = ("none", "balanced")

# ---------------------------------------------------------------- swept keys

# Short labels of swept keys in the `hparams` directory name (e.g. lr0.01_bs32); a key not
# listed here is labelled with its own last name part (e.g. `architecture.activation` ->
# `activation`). Never change an existing label: it names finished runs' directories.
SWEPT_LABELS = {
    "optimizer": "opt",
    "learning_rate": "lr",
    "momentum": "mom",
    "batch_size": "bs",
    "epochs": "ep",
    "eval_batch_size": "ebs",
    "class_weight": "cw",
    "early_stopping.patience": "pat",
    "architecture.hidden": "h",
    "architecture.dropout": "do",
    "architecture.l2": "l2",
    "architecture.batch_norm": "bn",
    "architecture.activation": "act",
    "dataset.n_samples": "n",
    "dataset.n_features": "nf",
}

# ---------------------------------------------------------------- plots

# The figures of plots/: name -> what one figure is drawn for. A figure of the whole sweep is
# plots/<name>.{png,pdf}; the others are files in a folder plots/<name>/. plots.py draws them,
# workflow/rules/plots.smk declares them (tests/test_plots.py keeps the two equal).
PLOTS = {
    "heatmap": "sweep",
    "compute": "sweep",
    "bars": "data set",
    "confusion": "data set",
    "learning_curves": "cell",
    "search": "data set",
    "timecourse": "data set",  # decoding over time (windowed data sets); rule `timecourse`
    "generalization": "cell",  # temporal generalization matrices; rule `generalization`
    "patterns": "cell",  # activation patterns (summary.patterns); rule `patterns`
    "comparisons": "data set",  # decoders compared over time (summary.compare); rule `compare`
}

# ---------------------------------------------------------------- search (search.py)

# How a search draws its points in [0, 1)^d: a scrambled Sobol sequence (scipy.stats.qmc) or
# independent uniform numbers (NumPy).
SEARCH_METHODS = ("sobol", "random")

# Distributions of a sampled key -> the arguments they take: [low, high] or the values.
SEARCH_DISTRIBUTIONS = {
    "uniform": "range",
    "log_uniform": "range",
    "int_uniform": "range",
    "choice": "values",
}


def names(family: str) -> list[str]:
    """The names of an option family, in their table order (what `x-registry` fills into the schema)."""
    table = {
        "optimizers": OPTIMIZERS,
        "activations": ACTIVATIONS,
        "metrics": METRICS,
        "sources": SOURCES,
        "split_methods": SPLIT_METHODS,
        "class_weights": CLASS_WEIGHTS,
        "search_methods": SEARCH_METHODS,
    }[family]
    return list(table)
