"""What the packed step needs from JAX: gradients (jax.value_and_grad) and compiling (jax.jit)."""

from __future__ import annotations

import jax


def value_and_grad(fn):
    """fn(params, *args) -> (scalar, aux)  ==>  f(params, *args) -> ((scalar, aux), grads)."""
    return jax.value_and_grad(fn, has_aux=True)


def compile(fn):  # noqa: A001 - the backend's word for it
    return jax.jit(fn)


def to_device(array):
    return jax.device_put(array)
