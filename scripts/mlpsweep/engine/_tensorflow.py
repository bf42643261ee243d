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


def compile(fn):  # noqa: A001 - the backend's word for it
    return tf.function(fn, reduce_retracing=True)


def to_device(array):
    return tf.identity(tf.convert_to_tensor(array))
