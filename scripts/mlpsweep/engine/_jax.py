"""What the packed step needs from JAX: gradients (jax.value_and_grad) and compiling (jax.jit)."""

from __future__ import annotations

import jax


def value_and_grad(fn):
    """fn(params, *args) -> (scalar, aux)  ==>  f(params, *args) -> ((scalar, aux), grads)."""
    return jax.value_and_grad(fn, has_aux=True)


def full_float32() -> None:
    """Matrix products in full float32 on GPUs too: by default XLA multiplies float32 on
    NVIDIA GPUs with TensorFloat-32 (10-bit mantissas), whose rounding differs between a run
    alone and in a pack. Measured on an H200 (bench/gpu.py): a pack of 64 at the default
    precision differed from the run alone by 1.2e-4 in loss and 6 rows in accuracy after 5
    epochs; at full float32, 1.0e-7 and 0 rows. Has no effect on CPUs."""
    jax.config.update("jax_default_matmul_precision", "highest")


def compile(fn):  # noqa: A001 - the backend's word for it
    full_float32()  # read when the step is traced, at its first call
    return jax.jit(fn)


def to_device(array):
    return jax.device_put(array)
