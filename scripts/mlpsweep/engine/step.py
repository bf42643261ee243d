"""The compiled functions of a pack: training steps over stacked batches, and prediction.

Pure functions of (state, data) in `keras.ops`, as Keras's trainers write `train_step(state, data)`
(keras/src/backend/jax/trainer.py); the backend module adds the gradient and compiles. A training
call runs `n_steps` batches in a loop on the device (Keras's `steps_per_execution`), each member in
its own epoch order. Its arguments are NamedTuples: pytrees for JAX, nested structures for tf.function.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

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


class PackState(NamedTuple):
    """What training changes, every array stacked over the members on axis 0 (Keras's trainable,
    non-trainable and optimizer variables)."""

    weights: tuple  # in `model.get_weights()` order, BatchNormalization's moving statistics included
    slots: tuple  # per trainable weight, a tuple of its optimizer variables
    steps: Any  # (K,) int32: the optimizer's iterations
    shared: Any  # (K,) float32: the optimizer's per-step state (Nadam's u_product)


class PackData(NamedTuple):
    """What a pack trains on, the same in every call."""

    x: Any  # (rows, features) float32: each distinct set of training rows once
    y: Any  # (label rows, classes) float32, one-hot: each distinct set of training labels once
    labels: Any  # (label rows,) int32
    class_weights: Any  # (K, classes) float32: ones for a member that weights classes equally
    seeds: Any  # (K,) uint32: key each member's dropout masks
    label_shift: Any  # (K,) int32: member k's rows of y and labels are its rows of x plus this


class Chunk(NamedTuple):
    """One call's part of an epoch: `n_steps` batches of each member's epoch order from `row0`."""

    orders: Any  # (K, n_train) int32: rows of PackData.x in each member's epoch order
    epochs: Any  # (K,) uint32: each member's epoch (keys its dropout masks)
    row0: Any  # int32: the first row of the orders trained on
    step0: Any  # int32: the step within the epoch of the first batch
    n_steps: Any  # int32
    active: Any  # (K,) bool: members that train; the others keep their state


class Totals(NamedTuple):
    """Per member over one call (Keras's metric variables): the loss summed over rows, the rows predicted right."""

    loss_sum: Any  # (K,) float32
    hits: Any  # (K,) int32


class Batch(NamedTuple):
    """One step's rows of every member, (K, batch_size, ...), and its dropout keys."""

    x: Any
    y: Any
    sample_weight: Any  # (K, batch_size), or None when no member weights classes
    keys: Any  # per hidden layer, (K,) uint32 dropout keys, or None without dropout


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
        self.traces = 0  # how often a function was traced: once per batch size and once to predict, not per call
        self.warm: set = set()  # signatures (shapes) already run, so traced: later packs of them skip the warm-up
        self._last_rows: tuple | None = None  # (the arrays, the zero blocks, their concatenation on the device)
        self._compile = backend.compile
        self.to_device = backend.to_device
        self.predict = backend.compile(self._predict_fn)  # logits of (K, rows, features) in inference mode

    def rows_on_device(self, blocks: list, zero_blocks: int):
        """The blocks of training rows (and `zero_blocks` blocks of zeros) concatenated on the device: the
        previous pack's copy where it had these very arrays (label-permutation runs of one split, packed
        one after another, train on the same rows; the arrays are held here, so no id is reused)."""
        last = self._last_rows
        if last is not None and last[1] == zero_blocks and len(last[0]) == len(blocks):
            if all(a is b for a, b in zip(last[0], blocks)):
                return last[2]
        zeros = [np.zeros_like(blocks[0])] * zero_blocks
        rows = self.to_device(np.concatenate([*blocks, *zeros]).astype(np.float32, copy=False))
        self._last_rows = (list(blocks), zero_blocks, rows)
        return rows

    # ------------------------------------------------------------ training

    def _objective(self, trainable, frozen, batch: Batch, hyper):
        """Sum over members of each member's Keras training loss (its gradient is each member's own)."""
        shape = self.spec.shape
        weights = self._merge(trainable, frozen)
        logits, new_weights = network.forward(
            ops, shape, weights, batch.x, training=True, dropout_rates=hyper["dropout"], keys=batch.keys
        )
        ce = network.cross_entropy(ops, logits, batch.y)
        if batch.sample_weight is not None:
            ce = ops.multiply(ce, batch.sample_weight)
        rows = ops.cast(ops.shape(ce)[1], ce.dtype)
        loss = ops.divide(ops.sum(ce, axis=1), rows)  # Keras: sum over the batch / batch size
        if self.spec.l2:  # members with l2 = 0 add exactly 0
            loss = ops.add(loss, network.l2_penalty(ops, shape, weights, hyper["l2"]))
        frozen_new = [w for w, t in zip(new_weights, self.trainable) if not t]
        return ops.sum(loss), (loss, logits, frozen_new)

    def _merge(self, trainable, frozen):
        it, fr = iter(trainable), iter(frozen)
        return [next(it) if t else next(fr) for t in self.trainable]

    def _batch(self, j, data: PackData, chunk: Chunk, batch_size: int):
        """Step j's batch of every member, and its rows' labels (K, batch_size) for the accuracy."""
        spec = self.spec
        k = ops.shape(chunk.orders)[0]
        start = chunk.row0 + j * batch_size
        rows = ops.slice(chunk.orders, (0, start), (k, batch_size))
        flat = ops.reshape(rows, (-1,))
        # members with their own labels on shared rows (label-permutation runs) read them elsewhere; the
        # shift is repeated to the flat rows' shape: Keras's TensorFlow `add` takes a (K, 1) operand for a
        # bias of the last axis where K equals the batch size (a pack of 16 in batches of 16)
        flat_labels = ops.add(flat, ops.repeat(data.label_shift, batch_size))
        xb = ops.reshape(ops.take(data.x, flat, axis=0), (k, batch_size, -1))
        yb = ops.reshape(ops.take(data.y, flat_labels, axis=0), (k, batch_size, -1))
        sw = None
        if spec.class_weights:
            sw = ops.sum(ops.multiply(yb, ops.expand_dims(data.class_weights, 1)), axis=-1)
        keys = None
        if spec.shape.dropout:
            step = chunk.step0 + j
            layers = range(len(spec.shape.hidden))
            keys = [network.step_key(ops, data.seeds, chunk.epochs, step, layer) for layer in layers]
        labels = ops.reshape(ops.take(data.labels, flat_labels, axis=0), (k, batch_size))
        return Batch(xb, yb, sw, keys), labels

    def _step(self, batch_size: int):
        rule, spec = self.rule, self.spec

        def step(j, carry, data: PackData, hyper, chunk: Chunk):
            state, totals = carry
            batch, labels = self._batch(j, data, chunk, batch_size)
            trainable = [w for w, t in zip(state.weights, self.trainable) if t]
            frozen = [w for w, t in zip(state.weights, self.trainable) if not t]
            (_, (loss, logits, frozen_new)), grads = self._grad(trainable, frozen, batch, hyper)
            shared = state.shared
            if rule.shared is not None:
                shared = rule.shared(ops, shared, state.steps)
            new_trainable, new_slots = [], []
            for w, g, s in zip(trainable, grads, state.slots):
                w2, s2 = rule.update(ops, w, g, s, hyper["by_rank"][len(w.shape)], state.steps, shared, spec.momentum)
                new_trainable.append(w2)
                new_slots.append(tuple(s2))
            it_t, it_f = iter(new_trainable), iter(frozen_new)
            new_weights = tuple(next(it_t) if t else next(it_f) for t in self.trainable)
            loss_sum = ops.add(totals.loss_sum, ops.multiply(ops.cast(loss, "float32"), np.float32(batch_size)))
            correct = ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), labels), "int32")
            hits = ops.add(totals.hits, ops.sum(correct, axis=1))
            return PackState(new_weights, tuple(new_slots), ops.add(state.steps, 1), shared), Totals(loss_sum, hits)

        return step

    def _train_fn(self, batch_size: int):
        step = self._step(batch_size)

        def train(state: PackState, data: PackData, hyper: dict, chunk: Chunk):
            self.traces += 1  # Python runs here only while the backend traces
            k = ops.shape(chunk.orders)[0]
            # per-member settings shaped once for every weight rank (not per step)
            ranks = {len(w.shape) for w in state.weights}
            by_rank = {r: {key: ops.reshape(v, (-1,) + (1,) * (r - 1)) for key, v in hyper.items()} for r in ranks}
            hyper = {**hyper, "by_rank": by_rank}
            carry = (state, Totals(ops.zeros((k,), "float32"), ops.zeros((k,), "int32")))
            new, totals = ops.fori_loop(0, chunk.n_steps, lambda j, c: step(j, c, data, hyper, chunk), carry)
            # members not active in this call keep their state: selected once per call, not per step
            keep = functools.partial(_select, chunk.active)
            return PackState(
                weights=tuple(keep(a, b) for a, b in zip(new.weights, state.weights)),
                slots=tuple(tuple(keep(a, b) for a, b in zip(sa, sb)) for sa, sb in zip(new.slots, state.slots)),
                steps=keep(new.steps, state.steps),
                shared=keep(new.shared, state.shared),
            ), totals

        return self._compile(train)

    def train(self, batch_size: int, state: PackState, data: PackData, hyper: dict, chunk: Chunk):
        """Run `chunk.n_steps` training steps of `batch_size` rows (one compiled function per batch size):
        (new state, totals)."""
        if batch_size not in self._train:
            self._train[batch_size] = self._train_fn(batch_size)
        return self._train[batch_size](state, data, hyper, chunk)

    # ------------------------------------------------------------ prediction

    def _predict_fn(self, weights, x):
        """Logits of each member's rows, dropout off, BatchNormalization's moving statistics."""
        self.traces += 1  # Python runs here only while the backend traces
        logits, _ = network.forward(ops, self.spec.shape, weights, x, training=False)
        return logits
