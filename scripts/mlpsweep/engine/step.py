"""The compiled functions of a pack: training steps over stacked batches, and prediction.

Pure functions of (weights, optimizer state, batch) in `keras.ops`; the backend module adds
the gradient and compiles. A training call runs `n_steps` batches in a loop on the device
(Keras's `steps_per_execution`), each member in its own epoch order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from keras import ops

from . import network
from .backend import current
from .optimizers import RULES


@dataclass(frozen=True)
class StepSpec:
    """Everything a compiled function is specialised on (a change means another trace)."""

    shape: network.Shape
    optimizer: str
    batch_size: int
    class_weights: bool = False  # some member weights classes
    l2: bool = False  # some member has an L2 penalty
    momentum: bool = False  # some member has momentum (SGD, RMSprop)


def _select(active, new, old):
    """Member-wise: the new value where the member is active, else the old one."""
    mask = ops.reshape(active, (-1,) + (1,) * (len(old.shape) - 1))
    return ops.where(mask, new, old)


@functools.lru_cache(maxsize=16)
def compiled(spec: StepSpec) -> "CompiledPack":
    """The compiled functions of a StepSpec, shared by every pack of it in this process
    (tracing costs 0.2-0.5 s; the least recently used of more than 16 kinds are dropped)."""
    return CompiledPack(spec)


class CompiledPack:
    """The compiled train and predict functions of one StepSpec, reused by every pack of it."""

    def __init__(self, spec: StepSpec):
        self.spec = spec
        self.rule = RULES[spec.optimizer]
        self.trainable = spec.shape.trainable()
        backend = current()
        self._grad = backend.value_and_grad(self._objective)
        self._train = {}
        self._compile = backend.compile
        self.to_device = backend.to_device
        self.predict = backend.compile(self._predict_fn)  # logits of (K, rows, features) in inference mode

    # ------------------------------------------------------------ training

    def _objective(self, trainable, frozen, xb, yb, sw, hyper, keys):
        """Sum over members of each member's Keras training loss (its gradient is each member's own)."""
        shape = self.spec.shape
        weights = self._merge(trainable, frozen)
        logits, new_weights = network.forward(ops, shape, weights, xb, training=True, dropout_rates=hyper["dropout"], keys=keys)
        ce = network.cross_entropy(ops, logits, yb)
        if sw is not None:
            ce = ops.multiply(ce, sw)
        batch = ops.cast(ops.shape(ce)[1], ce.dtype)
        loss = ops.divide(ops.sum(ce, axis=1), batch)  # Keras: sum over the batch / batch size
        if self.spec.l2:  # members with l2 = 0 add exactly 0
            loss = ops.add(loss, network.l2_penalty(ops, shape, weights, hyper["l2"]))
        frozen_new = [w for w, t in zip(new_weights, self.trainable) if not t]
        return ops.sum(loss), (loss, logits, frozen_new)

    def _merge(self, trainable, frozen):
        it, fr = iter(trainable), iter(frozen)
        return [next(it) if t else next(fr) for t in self.trainable]

    def _body(self, batch_size: int):
        spec = self.spec
        rule = self.rule

        def body(j, carry, data):
            weights, slots, steps, shared, loss_sum, hits = carry
            x, y, labels, cw, orders, row0, step0, seeds, epochs, hyper = data
            k = ops.shape(orders)[0]
            start = row0 + j * batch_size
            flat = ops.reshape(ops.slice(orders, (0, start), (k, batch_size)), (-1,))
            xb = ops.reshape(ops.take(x, flat, axis=0), (k, batch_size, -1))
            yb = ops.reshape(ops.take(y, flat, axis=0), (k, batch_size, -1))
            sw = None
            if spec.class_weights:
                sw = ops.sum(ops.multiply(yb, ops.expand_dims(cw, 1)), axis=-1)
            step = step0 + j
            keys = [network.step_key(ops, seeds, epochs, step, layer) for layer in range(len(spec.shape.hidden))] if spec.shape.dropout else None
            trainable = [w for w, t in zip(weights, self.trainable) if t]
            frozen = [w for w, t in zip(weights, self.trainable) if not t]
            (_, (loss, logits, frozen_new)), grads = self._grad(trainable, frozen, xb, yb, sw, hyper, keys)
            if rule.shared is not None:
                shared = rule.shared(ops, shared, steps)
            new_trainable, new_slots = [], []
            for i, (w, g, s) in enumerate(zip(trainable, grads, slots)):
                w2, s2 = rule.update(ops, w, g, s, hyper["by_rank"][len(w.shape)], steps, shared, spec.momentum)
                new_trainable.append(w2)
                new_slots.append(tuple(s2))
            it_t, it_f = iter(new_trainable), iter(frozen_new)
            new_weights = [next(it_t) if t else next(it_f) for t in self.trainable]
            loss_sum = ops.add(loss_sum, ops.multiply(ops.cast(loss, "float32"), np.float32(batch_size)))
            correct = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), ops.reshape(ops.take(labels, flat, axis=0), (k, batch_size))), "int32")
            hits = ops.add(hits, ops.sum(correct, axis=1))
            return new_weights, new_slots, ops.add(steps, 1), shared, loss_sum, hits

        return body

    def _train_fn(self, batch_size: int):
        body = self._body(batch_size)

        def train(weights, slots, steps, shared, x, y, labels, cw, orders, row0, step0, n_steps, seeds, epochs, hyper, active):
            k = ops.shape(orders)[0]
            # per-member settings shaped once for every weight rank (not per step)
            ranks = {len(w.shape) for w in weights}
            hyper = {**hyper, "by_rank": {r: {key: ops.reshape(v, (-1,) + (1,) * (r - 1)) for key, v in hyper.items()} for r in ranks}}
            carry = (weights, slots, steps, shared, ops.zeros((k,), "float32"), ops.zeros((k,), "int32"))
            data = (x, y, labels, cw, orders, row0, step0, seeds, epochs, hyper)
            out = ops.fori_loop(0, n_steps, lambda j, c: body(j, c, data), carry)
            # members not active in this call keep their state: selected once per call, not per step
            new_weights, new_slots, new_steps, new_shared, loss_sum, hits = out
            new_weights = [_select(active, a, b) for a, b in zip(new_weights, weights)]
            new_slots = [tuple(_select(active, a, b) for a, b in zip(sa, sb)) for sa, sb in zip(new_slots, slots)]
            return new_weights, new_slots, _select(active, new_steps, steps), _select(active, new_shared, shared), loss_sum, hits

        return self._compile(train)

    def train(self, batch_size: int, *args):
        """Run `n_steps` training steps of `batch_size` rows (one compiled function per batch size)."""
        if batch_size not in self._train:
            self._train[batch_size] = self._train_fn(batch_size)
        return self._train[batch_size](*args)

    # ------------------------------------------------------------ prediction

    def _predict_fn(self, weights, x):
        """Logits of each member's rows, dropout off, BatchNormalization's moving statistics."""
        logits, _ = network.forward(ops, self.spec.shape, weights, x, training=False)
        return logits
