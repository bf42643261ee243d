"""The packed MLP: K Keras `Sequential` MLPs of one shape as stacked weights, in `keras.ops`.

Member k's weights are slice k of every array, so one batched matmul per layer computes all
members at once, and each member's numbers depend only on its own slice, seed and settings.
The layer math is Keras's own (`Dense`, `BatchNormalization` with its defaults, the
activations of `keras.activations`); the weight order is that of `model.get_weights()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BN_MOMENTUM = 0.99  # keras.layers.BatchNormalization defaults
BN_EPSILON = 1e-3


@dataclass(frozen=True)
class Shape:
    """What every member of a pack shares: the shape of the computation."""

    n_features: int
    hidden: tuple[int, ...]
    n_classes: int
    activation: str = "relu"
    batch_norm: bool = False
    dropout: bool = False  # whether any member drops units (rates may differ, 0 included)

    def layer_widths(self) -> list[tuple[int, int]]:
        sizes = [self.n_features, *self.hidden, self.n_classes]
        return list(zip(sizes[:-1], sizes[1:]))

    def weight_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """(role, shape of one member) of each weight, in `model.get_weights()` order."""
        out = []
        for i, (n_in, n_out) in enumerate(self.layer_widths()):
            out.append(("kernel", (n_in, n_out)))
            if self.batch_norm and i < len(self.hidden):
                out += [
                    ("gamma", (n_out,)),
                    ("beta", (n_out,)),
                    ("moving_mean", (n_out,)),
                    ("moving_variance", (n_out,)),
                ]
            else:
                out.append(("bias", (n_out,)))
        return out

    def penalized(self) -> int:
        """How many kernels, input side first, the L2 penalty covers: the hidden layers'; a linear
        model's (no hidden layer) output kernel, whose ridge penalty it is."""
        return len(self.hidden) or 1

    def trainable(self) -> list[bool]:
        return [role not in ("moving_mean", "moving_variance") for role, _ in self.weight_shapes()]


def initial_weights(shape: Shape, seed: int) -> list[np.ndarray]:
    """One member's initial weights, a function of its seed alone: Keras's defaults
    (GlorotUniform kernels, zero biases and betas, unit gammas and moving variances),
    drawn with NumPy so that every backend and device starts from the same numbers."""
    rng = np.random.default_rng([int(seed), 0x6D6C70])  # 'mlp'
    weights = []
    for role, dims in shape.weight_shapes():
        if role == "kernel":
            limit = np.sqrt(6.0 / (dims[0] + dims[1]))
            weights.append(rng.uniform(-limit, limit, size=dims).astype(np.float32))
        elif role in ("gamma", "moving_variance"):
            weights.append(np.ones(dims, np.float32))
        else:
            weights.append(np.zeros(dims, np.float32))
    return weights


def stack(members: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-member weight lists -> one array per weight with the members on axis 0."""
    return [np.stack(parts) for parts in zip(*members)]


def member(stacked: list, k: int) -> list[np.ndarray]:
    return [np.asarray(w[k]) for w in stacked]


# ---------------------------------------------------------------- counter-based random numbers

_M1, _M2 = 0x7FEB352D, 0x846CA68B  # lowbias32 (C. Wellons): a well-mixing 32-bit hash


def _mix(ops, x):
    x = ops.bitwise_xor(x, ops.right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(np.uint32(_M1)))
    x = ops.bitwise_xor(x, ops.right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(np.uint32(_M2)))
    return ops.bitwise_xor(x, ops.right_shift(x, 16))


def uniform_bits(ops, key, shape_tail: tuple[int, ...]):
    """Uniform floats in [0, 1) keyed by `key` (K,) uint32 and the element's position.

    The same key gives the same numbers on every backend and device, whatever the other
    members of the pack are: masks depend on the member's own (seed, epoch, step, layer).
    """
    size = int(np.prod(shape_tail))
    counter = ops.reshape(ops.cast(ops.arange(size, dtype="int32"), "uint32"), (1, *shape_tail))
    k = ops.reshape(key, (-1,) + (1,) * len(shape_tail))
    bits = _mix(ops, ops.add(_mix(ops, k), counter))
    bits = _mix(ops, ops.bitwise_xor(bits, ops.multiply(k, ops.convert_to_tensor(np.uint32(0x9E3779B9)))))
    # 24 high bits -> a float32 in [0, 1) exactly
    return ops.multiply(ops.cast(ops.right_shift(bits, 8), "float32"), np.float32(1.0 / (1 << 24)))


def step_key(ops, seeds, epochs, step, layer: int):
    """(K,) uint32 keys of one training step's dropout masks in one layer."""
    seeds = ops.cast(seeds, "uint32")
    x = _mix(
        ops, ops.add(ops.multiply(seeds, ops.convert_to_tensor(np.uint32(0x01000193))), ops.cast(epochs, "uint32"))
    )
    x = _mix(ops, ops.add(x, ops.cast(step, "uint32")))
    return _mix(ops, ops.add(x, ops.convert_to_tensor(np.uint32(layer + 1))))


# ---------------------------------------------------------------- forward pass


def _expand(ops, v, rank: int):
    """(K,) -> (K, 1, ..., 1) of the given rank, to scale each member's slice."""
    return ops.reshape(v, (-1,) + (1,) * (rank - 1))


def forward(ops, shape: Shape, weights: list, x, *, training: bool, dropout_rates=None, keys=None):
    """Logits (K, B, classes) of a batch x (K, B, features), and the BatchNormalization moving
    statistics after it (updated in training, else unchanged), in weight order."""
    import keras

    activation = keras.activations.get(shape.activation)
    new_weights = list(weights)
    h = x
    i = 0
    n_layers = len(shape.layer_widths())
    for layer in range(n_layers):
        z = ops.matmul(h, weights[i])
        i += 1
        last = layer == n_layers - 1
        if shape.batch_norm and not last:
            gamma, beta, moving_mean, moving_var = weights[i : i + 4]
            if training:
                mean, var = ops.moments(z, axes=[1], keepdims=True)
                new_weights[i + 2] = ops.add(
                    ops.multiply(moving_mean, BN_MOMENTUM), ops.multiply(ops.squeeze(mean, 1), 1.0 - BN_MOMENTUM)
                )
                new_weights[i + 3] = ops.add(
                    ops.multiply(moving_var, BN_MOMENTUM), ops.multiply(ops.squeeze(var, 1), 1.0 - BN_MOMENTUM)
                )
            else:
                mean, var = ops.expand_dims(moving_mean, 1), ops.expand_dims(moving_var, 1)
            # tf.nn.batch_normalization and Keras's JAX backend: x * inv + (beta - mean * inv)
            inv = ops.multiply(ops.rsqrt(ops.add(var, BN_EPSILON)), ops.expand_dims(gamma, 1))
            z = ops.add(ops.multiply(z, inv), ops.subtract(ops.expand_dims(beta, 1), ops.multiply(mean, inv)))
            i += 4
        else:
            z = ops.add(z, ops.expand_dims(weights[i], 1))
            i += 1
        if last:
            return z, new_weights
        h = activation(z)
        if training and shape.dropout:
            rate = _expand(ops, dropout_rates, 3)
            keep = ops.greater_equal(uniform_bits(ops, keys[layer], tuple(h.shape[1:])), rate)
            h = ops.where(keep, ops.divide(h, ops.subtract(1.0, rate)), ops.zeros_like(h))
    raise AssertionError("unreachable")


def cross_entropy(ops, logits, y_onehot):
    """Per-row categorical cross-entropy from the logits, shape (K, B): what Keras computes for
    a softmax output on TensorFlow (the logits behind the softmax are used)."""
    return ops.categorical_crossentropy(y_onehot, logits, from_logits=True)


def l2_penalty(ops, shape: Shape, weights: list, l2):
    """Keras's L2 kernel regularizer summed over the penalized kernels (`Shape.penalized`), per member (K,)."""
    total = None
    kernels = [w for (role, _), w in zip(shape.weight_shapes(), weights) if role == "kernel"][: shape.penalized()]
    for kernel in kernels:
        term = ops.multiply(l2, ops.sum(ops.square(kernel), axis=(1, 2)))
        total = term if total is None else ops.add(total, term)
    return total
