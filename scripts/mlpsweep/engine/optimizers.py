"""The update rules of `keras.optimizers`, vectorized over the members of a pack.

Each member has its own learning rate, momentum and step count, so a rule takes them as
arrays of shape (K,) and broadcasts them over its weights. The arithmetic is Keras's own,
operation by operation and in the same order (keras/src/optimizers/*.py, `update_step`), so
a pack of one gives the numbers of the Keras optimizer; `tests/test_engine_optimizers.py`
compares every rule with Keras step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# Keras's default constructor arguments for the optimizers mlpsweep builds.
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
RMSPROP = {"rho": 0.9, "epsilon": 1e-7}
ADAGRAD = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}
ADAMW_WEIGHT_DECAY = 0.004


@dataclass(frozen=True)
class Rule:
    slots: tuple[str, ...]  # optimizer variables per weight, in Keras's order
    update: Callable  # (ops, w, g, slots, hyper, step) -> (w, slots)
    slot_init: float = 0.0
    shared: Callable | None = None  # per-step state of the whole optimizer (Nadam's u_product)


def _b(ops, v, like):
    """A per-member (K,) value shaped to broadcast over a stacked weight."""
    return ops.reshape(v, (-1,) + (1,) * (len(like.shape) - 1))


def sgd(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    lr, momentum = h["learning_rate"], h["momentum"]
    (m,) = slots
    if not momentum_used:  # Keras without momentum: w -= g * lr
        return ops.subtract(w, ops.multiply(g, lr)), (m,)
    # Keras: m = m * momentum - g * lr; w += m. A member with momentum 0 gets w - g * lr exactly.
    m = ops.subtract(ops.multiply(m, momentum), ops.multiply(g, lr))
    return ops.add(w, m), (m,)


def adam(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    lr = h["learning_rate"]
    m, v = slots
    local_step = _b(ops, ops.add(step, 1), w)
    beta_1_power = ops.power(ops.cast(ADAM["beta_1"], w.dtype), local_step)
    beta_2_power = ops.power(ops.cast(ADAM["beta_2"], w.dtype), local_step)
    alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    m = ops.add(m, ops.multiply(ops.subtract(g, m), 1 - ADAM["beta_1"]))
    v = ops.add(v, ops.multiply(ops.subtract(ops.square(g), v), 1 - ADAM["beta_2"]))
    w = ops.subtract(w, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), ADAM["epsilon"])))
    return w, (m, v)


def adamw(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    # Keras applies the decoupled weight decay to every trainable weight before the Adam step.
    lr = h["learning_rate"]
    wd = ops.cast(ADAMW_WEIGHT_DECAY, w.dtype)
    w = w - w * wd * lr
    return adam(ops, w, g, slots, h, step)


def rmsprop(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    lr, momentum = h["learning_rate"], h["momentum"]
    velocity, mom = slots
    rho = RMSPROP["rho"]
    velocity = ops.add(ops.multiply(rho, velocity), ops.multiply(1 - rho, ops.square(g)))
    increment = ops.divide(ops.multiply(lr, g), ops.sqrt(ops.add(velocity, RMSPROP["epsilon"])))
    if not momentum_used:
        return ops.subtract(w, increment), (velocity, mom)
    # Keras keeps no momentum slot at momentum 0; 0 * mom + increment is increment exactly.
    mom = ops.add(ops.multiply(momentum, mom), increment)
    return ops.subtract(w, mom), (velocity, mom)


def adagrad(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    lr = h["learning_rate"]
    (acc,) = slots
    acc = ops.add(acc, ops.square(g))
    w = ops.subtract(w, ops.divide(ops.multiply(lr, g), ops.sqrt(ops.add(acc, ADAGRAD["epsilon"]))))
    return w, (acc,)


def nadam_shared(ops, u_product, step):
    """Keras's Nadam updates its u_product once per step, before the weights."""
    return u_product * ADAM["beta_1"] * (1.0 - 0.5 * ops.power(0.96, ops.cast(ops.add(step, 1), u_product.dtype)))


def nadam(ops, w, g, slots, h, step, shared=None, momentum_used=True):
    lr = h["learning_rate"]
    m, v = slots
    local_step = _b(ops, ops.add(step, 1), w)
    next_step = _b(ops, ops.add(step, 2), w)
    decay = ops.cast(0.96, w.dtype)
    beta_1 = ops.cast(ADAM["beta_1"], w.dtype)
    beta_2 = ops.cast(ADAM["beta_2"], w.dtype)
    u_t = beta_1 * (1.0 - 0.5 * (ops.power(decay, local_step)))
    u_t_1 = beta_1 * (1.0 - 0.5 * (ops.power(decay, next_step)))
    u_product_t = _b(ops, shared, w)
    u_product_t_1 = u_product_t * u_t_1
    beta_2_power = ops.power(beta_2, local_step)
    m = ops.add(m, ops.multiply(ops.subtract(g, m), (1 - beta_1)))
    v = ops.add(v, ops.multiply(ops.subtract(ops.square(g), v), (1 - beta_2)))
    m_hat = ops.add(
        ops.divide(ops.multiply(u_t_1, m), 1 - u_product_t_1), ops.divide(ops.multiply(1 - u_t, g), 1 - u_product_t)
    )
    v_hat = ops.divide(v, (1 - beta_2_power))
    w = ops.subtract(w, ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), ADAM["epsilon"])))
    return w, (m, v)


RULES = {
    "sgd": Rule(("momentum",), sgd),
    "adam": Rule(("momentum", "velocity"), adam),
    "adamw": Rule(("momentum", "velocity"), adamw),
    "rmsprop": Rule(("velocity", "momentum"), rmsprop),
    "adagrad": Rule(("accumulator",), adagrad, slot_init=ADAGRAD["initial_accumulator_value"]),
    "nadam": Rule(("momentum", "velocity"), nadam, shared=nadam_shared),
}
