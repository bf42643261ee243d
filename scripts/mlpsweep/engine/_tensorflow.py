"""What the packed step needs from TensorFlow: gradients (GradientTape) and compiling (tf.function)."""

from __future__ import annotations

import tensorflow as tf


def value_and_grad(fn):
    """fn(params, *args) -> (scalar, aux)  ==>  f(params, *args) -> ((scalar, aux), grads)."""

    def wrapped(params, *args):
        with tf.GradientTape() as tape:
            tape.watch(params)
            value, aux = fn(params, *args)
        return (value, aux), tape.gradient(value, params)

    return wrapped


def full_float32() -> None:
    """Matrix products in full float32 on GPUs too: TensorFlow multiplies float32 on Ampere
    and later NVIDIA GPUs with TensorFloat-32 by default, whose rounding differs between a
    run alone and in a pack (see _jax.full_float32 for the figures). No effect on CPUs."""
    tf.config.experimental.enable_tensor_float_32_execution(False)


def compile(fn):  # noqa: A001 - the backend's word for it
    """tf.function without AutoGraph: the packed step's Python branches and loops depend only on
    its StepSpec (fixed at trace time) and its device loop is already `ops.fori_loop`, so there is
    nothing for AutoGraph to convert. Converting cost about 1 s of a job's first trace (1.3 s ->
    0.33 s on 2 CPU cores, bench/EEG.md). Weights and predictions after training with and
    without it were bit-identical (SGD with momentum, L2, dropout, BatchNormalization, class
    weights; Adam), and the engine's tests against Keras hold it to Keras's own numbers."""
    full_float32()
    return tf.function(fn, reduce_retracing=True, autograph=False)


def to_device(array):
    return tf.identity(tf.convert_to_tensor(array))
