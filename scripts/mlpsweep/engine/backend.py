"""The per-backend part of the engine, as Keras keeps it in keras/src/backend/*/trainer.py:
how to take gradients and how to compile a step. Everything else is `keras.ops`."""

from __future__ import annotations

import importlib

import keras

SUPPORTED = ("tensorflow", "jax")


class BackendError(RuntimeError):
    """Keras runs on a backend the engine has no gradient and compile functions for."""


def current():
    name = keras.backend.backend()
    if name not in SUPPORTED:
        raise BackendError(
            f"KERAS_BACKEND={name} is not supported by mlpsweep's engine. "
            f"Fix: set KERAS_BACKEND to one of: {', '.join(SUPPORTED)}"
        )
    return importlib.import_module(f"._{name}", __package__)
