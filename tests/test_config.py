"""The config module: schema defaults filled by jsonschema, and option families read from the registry."""

import copy

import yaml

from conftest import REPO, tiny_config
from mlpsweep import registry
from mlpsweep.config import load_schema, validate_config


def test_schema_lists_come_from_the_registry():
    schema = load_schema()
    props = schema["properties"]
    assert props["training"]["properties"]["optimizer"]["enum"] == list(registry.OPTIMIZERS)
    assert schema["$defs"]["architecture"]["properties"]["activation"]["enum"] == list(registry.ACTIVATIONS)
    assert props["summary"]["properties"]["metrics"]["items"]["enum"] == list(registry.METRICS)
    assert schema["$defs"]["dataset"]["properties"]["source"]["enum"] == list(registry.SOURCES)
    assert props["split"]["properties"]["method"]["enum"] == list(registry.SPLIT_METHODS)
    # the file on disk names the families instead of listing them (one definition)
    raw = (REPO / "workflow" / "schemas" / "config.schema.yaml").read_text()
    assert (
        "x-registry: optimizers" in raw
        and "sgd, adam" not in raw
        and "[test_accuracy, test_balanced_accuracy, test_macro_f1, test_loss" not in raw
    )


def test_every_default_is_filled_in_nested_and_per_source():
    raw = {
        "datasets": {"g": {"source": "synthetic"}, "f": {"source": "sklearn", "name": "iris"}},
        "architectures": {"a": {"hidden": [4]}},
        "seeds": [0],
        "training": {"early_stopping": {"patience": 3}},
    }
    before = copy.deepcopy(raw)
    cfg = validate_config(raw)
    assert raw == before  # the input is not changed
    assert cfg["datasets"]["g"] == {
        "source": "synthetic",
        "n_samples": 1000,
        "n_features": 20,
        "n_classes": 2,
        "separation": 1.5,
        "noise": 1.0,
        "seed": 0,
        "class_names": None,
    }
    assert cfg["datasets"]["f"] == {"source": "sklearn", "name": "iris"}
    assert cfg["architectures"]["a"] == {
        "hidden": [4],
        "activation": "relu",
        "dropout": 0.0,
        "l2": 0.0,
        "batch_norm": False,
    }
    assert cfg["training"]["early_stopping"] == {
        "patience": 3,
        "monitor": "val_loss",
        "min_delta": 0.0,
        "restore_best_weights": True,
    }
    assert cfg["split"] == {
        "method": "holdout",
        "folds": 5,
        "group": None,
        "within": None,
        "validation": 0.15,
        "test": 0.15,
        "seed": None,
    }
    assert cfg["execution"]["pack_size"] == 16 and cfg["execution"]["require_gpu"] == "auto"
    assert cfg["summary"]["permutations"] == 0 and cfg["grid"] == {} and cfg["zip"] == []


def test_filling_defaults_leaves_the_schema_unchanged():
    validate_config(tiny_config())
    cfg = validate_config(tiny_config())
    cfg["training"]["early_stopping"]["patience"] = 9
    assert validate_config(tiny_config())["training"]["early_stopping"]["patience"] == 0


def test_the_default_sweep_is_valid():
    cfg = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    assert set(cfg["datasets"]) == {"goodbad", "digits", "wine"}


def test_swept_keys_in_any_section_are_accepted():
    cfg = validate_config(
        tiny_config(
            datasets={"g": {"source": "synthetic"}},
            grid={
                "training.epochs": [1, 2],
                "architecture.l2": [0.0, 1e-4],
                "dataset.n_samples": [100, 200],
                "split.validation": [0.1, 0.2],
                "early_stopping.patience": [0, 2],
            },
        )
    )
    assert list(cfg["grid"]) == [
        "training.epochs",
        "architecture.l2",
        "dataset.n_samples",
        "split.validation",
        "early_stopping.patience",
    ]
