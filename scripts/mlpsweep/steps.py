"""Compiled training and evaluation loops over arrays in memory.

Keras's own train and test steps (same loss, regularization and optimizer update)
run `steps_per_execution` batches per compiled call, without `fit`'s per-batch
iterator and callback machinery, which costs more than the arithmetic for small MLPs.
"""

from __future__ import annotations

import json
import math
import random
from collections import OrderedDict
from typing import Callable

import numpy as np
import tensorflow as tf


def seed_run(seed: int) -> None:
    """Seed what a run's numbers draw from: Python's RNG (Keras takes initializer seeds from it) and NumPy's.

    Unlike keras.utils.set_random_seed this leaves TensorFlow's global seed alone: setting it
    clears TensorFlow's caches, so every compiled function is rebuilt (0.1-0.2 s a run), and no
    op here uses it (the shuffle, dropout and initializers are stateless with explicit seeds).
    """
    random.seed(seed)
    np.random.seed(seed)


def epoch_order(n: int, seed: int, epoch: int) -> tf.Tensor:
    """The sample order of one epoch, keyed by (seed, epoch) alone.

    A resumed run therefore sees exactly the batches an uninterrupted run would have.
    """
    return tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.constant([seed, epoch], tf.int64))


class CompiledSteps:
    """Train and evaluate one compiled Keras model on in-memory arrays."""

    def __init__(self, model, batch_size: int, eval_batch_size: int, steps_per_execution: int):
        self.model = model
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.steps_per_execution = max(1, int(steps_per_execution))
        n_features = model.inputs[0].shape[-1]
        n_classes = model.outputs[0].shape[-1]
        x_spec = tf.TensorSpec([None, n_features], tf.float32)
        y_spec = tf.TensorSpec([None, n_classes], tf.float32)
        index, total = tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)
        if not model.optimizer.built:  # its variables must exist before tracing (and before a checkpoint restores them)
            model.optimizer.build(model.trainable_variables)
        # Fresh functions per instance: TensorFlow would count a new model's first trace of a
        # shared bound method as "retracing" and warn about it.
        self._train = tf.function(lambda *a: self._train_batches(*a), input_signature=[x_spec, y_spec, tf.TensorSpec([None], tf.int32), index, index, total])
        self._evaluate = tf.function(lambda *a: self._evaluate_batches(*a), input_signature=[x_spec, y_spec])

    def _train_batches(self, x, y, order, first, last, loss_total):
        """Batches first..last-1 of the epoch `order`: Keras's train step; the running loss total and hits.

        Loss totals add batch loss x batch size in float32, as Keras's loss tracker does, so the
        history shows the numbers `fit` would.
        """
        model, bs = self.model, self.batch_size
        weights = model.trainable_variables
        hits = tf.constant(0, tf.int64)
        for i in tf.range(first, last):
            idx = order[i * bs : (i + 1) * bs]
            xb, yb = tf.gather(x, idx), tf.gather(y, idx)
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = model.compute_loss(x=xb, y=yb, y_pred=pred, training=True)
                scaled = model.optimizer.scale_loss(loss)
            model.optimizer.apply(tape.gradient(scaled, weights), weights)
            loss_total += tf.cast(loss, tf.float32) * tf.cast(tf.shape(idx)[0], tf.float32)
            hits += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(pred, 1), tf.argmax(yb, 1)), tf.int64))
        return loss_total, hits

    def _evaluate_batches(self, x, y):
        """Class probabilities and summed loss, `eval_batch_size` rows at a time."""
        model, bs = self.model, self.eval_batch_size
        n = tf.shape(x)[0]
        n_batches = (n + bs - 1) // bs
        probs = tf.TensorArray(tf.float32, size=n_batches, infer_shape=False)
        loss_total = tf.constant(0.0, tf.float32)
        for i in tf.range(n_batches):
            xb, yb = x[i * bs : (i + 1) * bs], y[i * bs : (i + 1) * bs]
            pred = model(xb, training=False)
            loss = model.compute_loss(x=xb, y=yb, y_pred=pred, training=False)
            loss_total += tf.cast(loss, tf.float32) * tf.cast(tf.shape(xb)[0], tf.float32)
            probs = probs.write(i, tf.cast(pred, tf.float32))
        return probs.concat(), loss_total

    @staticmethod
    def place(*arrays) -> list[tf.Tensor]:
        """Arrays as tensors on the device that computes (a GPU if there is one), copied there once."""
        return [tf.identity(tf.convert_to_tensor(a)) for a in arrays]

    def train_epoch(self, x, y, order, should_stop: Callable[[], bool]) -> dict | None:
        """One epoch in the given order: mean loss and accuracy, or None if `should_stop()` cut it short.

        Stops after the first call whose loss is not finite, like keras.callbacks.TerminateOnNaN.
        """
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
        n = int(x.shape[0])
        n_batches = math.ceil(n / self.batch_size)
        loss_total, hits, seen = tf.constant(0.0, tf.float32), 0, 0
        for first in range(0, n_batches, self.steps_per_execution):
            if should_stop():
                return None
            last = min(n_batches, first + self.steps_per_execution)
            loss_total, part_hits = self._train(x, y, order, tf.constant(first, tf.int32), tf.constant(last, tf.int32), loss_total)
            hits += int(part_hits)
            seen = min(n, last * self.batch_size)
            if not math.isfinite(float(loss_total)):
                break
        return {"loss": _mean32(loss_total.numpy(), seen), "accuracy": _mean32(hits, seen)}

    def predict(self, x, y) -> tuple[np.ndarray, float]:
        """Class probabilities of all rows of `x`, and the mean loss against one-hot `y`."""
        proba, loss_total = self._evaluate(x, y)
        return proba.numpy(), _mean32(loss_total.numpy(), int(x.shape[0]))

    def validate(self, x, y) -> dict:
        """val_loss and val_accuracy, as Keras's fit reports them."""
        proba, loss = self.predict(x, y)
        hits = int(np.sum(np.argmax(proba, axis=1) == np.argmax(np.asarray(y), axis=1)))
        return {"val_loss": loss, "val_accuracy": _mean32(hits, len(proba))}


def _mean32(total, count: int) -> float:
    """total / count in float32, as Keras's Mean metrics compute it (NaN for no samples)."""
    return float(np.float32(total) / np.float32(count)) if count else math.nan


class CompiledModels:
    """Compiled models (and their traced steps) kept for the runs of one process.

    Runs with the same architecture, training settings and data shape reuse one model:
    it takes the freshly initialized weights of its run and the optimizer's initial
    state, so the numbers are those of a new model, without tracing again. The least
    recently used of more than `keep` kinds is dropped, which bounds the job's memory.
    """

    def __init__(self, keep: int = 8):
        self.keep = keep
        self._models: OrderedDict[str, tuple] = OrderedDict()

    def get(self, architecture: dict, training: dict, n_features: int, n_classes: int, steps_per_execution: int):
        """(model, steps) with the initial weights that building the model now would give."""
        from .model import build_mlp, compile_mlp

        fresh = build_mlp(architecture, n_features, n_classes)  # draws the initial weights from the run's seed
        key = json.dumps([architecture, training, n_features, n_classes, steps_per_execution], sort_keys=True)
        if key not in self._models:
            model = compile_mlp(fresh, training, steps_per_execution)
            steps = CompiledSteps(model, training["batch_size"], training["eval_batch_size"], steps_per_execution)
            self._models[key] = (model, steps, [v.numpy() for v in model.optimizer.variables])
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            return model, steps
        self._models.move_to_end(key)
        model, steps, optimizer_start = self._models[key]
        model.set_weights(fresh.get_weights())
        for variable, value in zip(model.optimizer.variables, optimizer_start):
            variable.assign(value)
        return model, steps
