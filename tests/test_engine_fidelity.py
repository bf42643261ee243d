"""The packed engine against Keras itself, and packed runs against the same runs alone.

Runs on the backend Keras is configured with (TensorFlow by default); tests/test_backends.py
runs this module again under KERAS_BACKEND=jax.

Tolerance: 1e-4 relative on every loss of the history after 5 epochs, and accuracies that
differ by at most one row (a prediction at the decision boundary may flip). Why not exact: a batched matmul over K members and Keras's
plain matmul may sum in another order (float32, ~1e-7 relative per step), and training
amplifies such differences mildly when it is stable; measured here they stay below 1e-6.
Training that is chaotic (e.g. RMSprop at a large rate with momentum) amplifies them beyond
any tolerance, with any framework; the tests use the notebook's stable settings.
A member with a partial last batch against the run alone, and the accuracy tolerance (a predicted
class may differ only where the two top probabilities are within 1e-3): tests/test_pack_equality.py.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mlpsweep.engine import network
from mlpsweep.engine.pack import Member, Pack, epoch_order
from mlpsweep.model import build_mlp, make_optimizer

RTOL = 1e-4
N, F, C, BS, EPOCHS = 800, 16, 4, 32, 5
HIDDEN = (32, 64, 64)  # the notebook's model


def blobs(n=N + 200, seed=0):
    """Training and validation rows of one task: Gaussian classes around random centres."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n)
    centres = rng.normal(size=(C, F))
    x = (centres[y] + 1.5 * rng.normal(size=(n, F))).astype(np.float32)
    y = np.eye(C, dtype=np.float32)[y]
    return x[:N], y[:N], x[N:], y[N:]


X, Y, XV, YV = blobs()


class InOrder(keras.utils.PyDataset):
    """The batches of each epoch in mlpsweep's order for `seed`: Keras sees what the engine sees.
    (fit(shuffle=False); the epoch comes from a callback, as Keras also reads batches to peek.)"""

    def __init__(self, x, y, seed):
        super().__init__()
        self.x, self.y, self.seed, self.epoch = x, y, seed, 0

    def __len__(self):
        return math.ceil(len(self.x) / BS)

    def __getitem__(self, i):
        rows = epoch_order(len(self.x), self.seed, self.epoch)[i * BS : (i + 1) * BS]
        return self.x[rows], self.y[rows]


class EpochOf(keras.callbacks.Callback):
    def __init__(self, data: InOrder):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.epoch = epoch


def member(seed=7, epochs=EPOCHS, **hyper):
    return Member(
        seed=seed,
        x_train=X,
        y_train=Y,
        x_val=XV,
        y_val=YV,
        epochs=epochs,
        hyper={"learning_rate": 0.01, "momentum": 0.0, "l2": 0.0, "dropout": 0.0, **hyper},
        early_stopping=hyper.pop("early_stopping", None) if "early_stopping" in hyper else None,
    )


def train(pack: Pack) -> Pack:
    while any(m.active for m in pack.members):
        assert pack.train_epoch(lambda: False)
    return pack


def keras_fit(arch: dict, training: dict, seed: int, callbacks=()):
    """The notebook's way: Sequential, compile, fit; on our initial weights and batch order."""
    model = build_mlp(arch, F, C)
    model.set_weights(network.initial_weights(_shape(arch), seed))
    model.compile(optimizer=make_optimizer(training), loss="categorical_crossentropy", metrics=["accuracy"])
    data = InOrder(X, Y, seed)
    history = model.fit(
        data,
        epochs=training["epochs"],
        shuffle=False,
        validation_data=(XV, YV),
        validation_batch_size=128,
        callbacks=[EpochOf(data), *callbacks],
        verbose=0,
    )
    return model, history.history


def _shape(arch: dict) -> network.Shape:
    return network.Shape(
        F,
        tuple(arch["hidden"]),
        C,
        arch.get("activation", "relu"),
        arch.get("batch_norm", False),
        bool(arch.get("dropout")),
    )


def assert_same_history(ours: list[dict], theirs: dict, rtol=RTOL):
    assert len(ours) == len(theirs["loss"])
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose([row[key] for row in ours], theirs[key], rtol=rtol, err_msg=key)
    for key, rows in (("accuracy", len(X)), ("val_accuracy", len(XV))):
        np.testing.assert_allclose([row[key] for row in ours], theirs[key], rtol=0, atol=1 / rows + 1e-6, err_msg=key)


CASES = {
    "sgd_momentum": ({}, {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9}),
    "sgd_momentum_l2": ({"l2": 1e-3}, {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9}),
    "adam": ({}, {"optimizer": "adam", "learning_rate": 0.001}),
    "adam_l2_batchnorm": ({"l2": 1e-3, "batch_norm": True}, {"optimizer": "adam", "learning_rate": 0.001}),
    "rmsprop": ({}, {"optimizer": "rmsprop", "learning_rate": 0.001, "momentum": 0.0}),
    "rmsprop_batchnorm": ({"batch_norm": True}, {"optimizer": "rmsprop", "learning_rate": 0.001, "momentum": 0.0}),
}


@pytest.mark.parametrize("arch_extra,training", CASES.values(), ids=CASES.keys())
def test_pack_of_one_equals_keras_model_fit(arch_extra, training):
    arch = {"hidden": list(HIDDEN), **arch_extra}
    training = {**training, "epochs": EPOCHS}
    ours = train(
        Pack(
            _shape(arch),
            training["optimizer"],
            BS,
            [
                member(
                    learning_rate=training["learning_rate"],
                    momentum=training.get("momentum", 0.0),
                    l2=arch.get("l2", 0.0),
                )
            ],
        )
    )
    model, theirs = keras_fit(arch, training, seed=7)
    assert_same_history(ours.members[0].history, theirs)
    for a, b in zip(ours.member_weights(0), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_class_weights_equal_keras_class_weight():
    """training.class_weight: balanced: the loss of each row weighted as Keras's fit(class_weight=...) does."""
    arch, training = (
        {"hidden": list(HIDDEN)},
        {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "epochs": EPOCHS},
    )
    weights = np.array([0.5, 1.0, 2.0, 4.0], np.float32)
    m = member(learning_rate=0.01, momentum=0.9)
    m.class_weights = weights
    ours = train(Pack(_shape(arch), "sgd", BS, [m]))
    model = build_mlp(arch, F, C)
    model.set_weights(network.initial_weights(_shape(arch), 7))
    model.compile(optimizer=make_optimizer(training), loss="categorical_crossentropy", metrics=["accuracy"])
    data = InOrder(X, Y, 7)
    theirs = model.fit(
        data,
        epochs=EPOCHS,
        shuffle=False,
        class_weight=dict(enumerate(weights.tolist())),
        validation_data=(XV, YV),
        validation_batch_size=128,
        callbacks=[EpochOf(data)],
        verbose=0,
    ).history
    assert_same_history(m.history, theirs)
    unweighted = train(Pack(_shape(arch), "sgd", BS, [member(learning_rate=0.01, momentum=0.9)]))
    assert abs(unweighted.members[0].history[-1]["loss"] - m.history[-1]["loss"]) > 1e-3  # the weights did something


def test_early_stopping_follows_keras_and_restores_the_best_weights():
    """Keras's EarlyStopping(restore_best_weights=True): stop after `patience` epochs without
    improvement, and restore the best epoch's weights (also when training ends before that)."""
    arch = {"hidden": [64, 64]}
    training = {"optimizer": "adam", "learning_rate": 0.003, "epochs": 15}
    stopped = []
    for patience in (2, 50):  # 50: patience never runs out, best weights are restored at the end
        es = {"patience": patience, "monitor": "val_loss", "min_delta": 0.0, "restore_best_weights": True}
        m = Member(
            seed=3,
            x_train=X,
            y_train=Y,
            x_val=XV,
            y_val=YV,
            epochs=15,
            hyper={"learning_rate": 0.003},
            early_stopping=es,
        )
        ours = train(Pack(_shape(arch), "adam", BS, [m]))
        callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        model, theirs = keras_fit(arch, training, seed=3, callbacks=[callback])
        assert_same_history(m.history, theirs)
        assert (m.status == "stopped_early") == (len(theirs["loss"]) < 15)
        assert m.stopping.best_epoch == callback.best_epoch < len(m.history) - 1  # the last epoch was not the best
        stopped.append(m.status == "stopped_early")
        for a, b in zip(ours.final_weights(0), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert stopped == [True, False]


MEMBERS = [  # members may differ in seed, learning rate, momentum, L2, dropout and epochs
    {"seed": 0},
    {"seed": 1, "learning_rate": 0.05},
    {"seed": 2, "momentum": 0.9},
    {"seed": 3, "l2": 1e-3},
    {"seed": 4, "dropout": 0.3},
    {"seed": 5, "dropout": 0.1, "learning_rate": 0.02, "epochs": 3},
    {"seed": 6, "l2": 1e-4, "momentum": 0.5, "dropout": 0.2},
    {"seed": 7},
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_member_of_a_pack_of_8_ends_as_it_would_alone(optimizer):
    shape = network.Shape(F, HIDDEN, C, dropout=True)
    lr = {"sgd": 1.0, "adam": 0.1}[optimizer]  # adam takes a tenth of sgd's rates

    def make(spec):
        spec = dict(spec)
        seed, epochs = spec.pop("seed"), spec.pop("epochs", EPOCHS)
        return member(seed=seed, epochs=epochs, **{**spec, "learning_rate": spec.get("learning_rate", 0.01) * lr})

    packed = train(Pack(shape, optimizer, BS, [make(s) for s in MEMBERS]))
    for k, spec in enumerate(MEMBERS):
        alone = train(Pack(shape, optimizer, BS, [make(spec)]))
        ours, solo = packed.members[k].history, alone.members[0].history
        assert len(ours) == spec.get("epochs", EPOCHS)
        assert_same_history(
            ours, {key: [row[key] for row in solo] for key in ("loss", "val_loss", "accuracy", "val_accuracy")}
        )


def test_same_pack_gives_bit_identical_numbers_on_a_rerun():
    shape = network.Shape(F, HIDDEN, C, dropout=True)
    runs = [train(Pack(shape, "sgd", BS, [member(seed=s, dropout=0.2) for s in range(3)])) for _ in range(2)]
    assert [m.history for m in runs[0].members] == [m.history for m in runs[1].members] or _without_seconds(runs)
    for a, b in zip(runs[0].weights, runs[1].weights):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def _without_seconds(runs):
    strip = [[[{k: v for k, v in row.items() if k != "seconds"} for row in m.history] for m in r.members] for r in runs]
    assert strip[0] == strip[1]
    return True


def test_each_dropout_layer_draws_its_own_masks():
    """Two Dropout layers of one width must not share masks (release 0.1 reset every layer's
    seed generator to one state, so equal-width layers dropped the same units)."""
    from keras import ops

    seeds, epochs = np.array([5, 5], np.uint32), np.array([0, 0], np.uint32)
    keys = [network.step_key(ops, seeds, epochs, 3, layer) for layer in (0, 1)]
    masks = [ops.convert_to_numpy(network.uniform_bits(ops, k, (32, 64))) >= 0.5 for k in keys]
    assert not np.array_equal(masks[0], masks[1])
    assert np.array_equal(masks[0][0], masks[0][1])  # the same seed, epoch and step: the same mask
    other = ops.convert_to_numpy(network.uniform_bits(ops, network.step_key(ops, seeds, epochs, 4, 0), (32, 64)))
    assert not np.array_equal(other >= 0.5, masks[0])  # a new mask every step
    u = ops.convert_to_numpy(network.uniform_bits(ops, keys[0], (4096,)))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.02  # uniform


def test_dropout_masks_are_the_same_on_every_backend():
    """Counter-based masks: the numbers are fixed integers, whatever computes them."""
    from keras import ops

    key = network.step_key(ops, np.array([11], np.uint32), np.array([2], np.uint32), 7, 1)
    bits = ops.convert_to_numpy(network.uniform_bits(ops, key, (8,)))[0]
    assert (bits * (1 << 24)).astype(np.int64).tolist() == EXPECTED_BITS


# Computed once with NumPy's uint32 arithmetic (same hash as network._mix); fixed forever.
EXPECTED_BITS = [10836875, 10824143, 15155612, 15219313, 10857987, 6643647, 7335238, 11258909]


def test_the_step_is_traced_once_per_batch_size_not_per_call_or_pack():
    """The training state travels as one structure of arrays: later calls, later epochs, an
    interrupted epoch, a member restored from a checkpoint and a second pack of the same kind
    reuse the traced step (a shape of its own, so no other test has traced it). Packs of another
    size trace again: the members are an axis of every array."""
    shape = network.Shape(F, (5, 3), C, batch_norm=True, dropout=True)
    bs = 48  # 800 rows: 16 full batches and one of 32
    es = {"patience": 1, "monitor": "val_loss", "min_delta": 0.0, "restore_best_weights": True}
    members = [member(seed=s, epochs=2 + s, dropout=0.1, momentum=0.9, l2=1e-3 * s) for s in range(3)]
    first = Pack(shape, "sgd", bs, members, steps_per_execution=5)
    steps = first.compiled
    train(first)
    assert steps.traces == 3  # two batch sizes and the prediction
    stops = iter([False, True])
    members = [member(seed=9, epochs=3, l2=1e-3), member(seed=11, epochs=1)]
    members.insert(1, member(seed=10, epochs=2, dropout=0.2, momentum=0.5, early_stopping=es))
    second = Pack(shape, "sgd", bs, members, steps_per_execution=5)
    assert second.compiled is steps
    assert not second.train_epoch(lambda: next(stops, False))  # stopped within its first epoch
    second.load_member_state(1, first.state_arrays(), 2)
    train(second)
    second.evaluate([XV] * 3, [YV] * 3, [np.asarray(w) for w in first.weights])  # weights from the host, as a list
    assert steps.traces == 3


def test_logits_do_not_depend_on_the_prediction_block_they_are_computed_in(monkeypatch):
    """Rows are predicted in blocks of block_rows(n) (the power of two up to PREDICT_ROWS that pads
    least) instead of whole PREDICT_ROWS blocks: every row's logits are bit-identical either way."""
    import mlpsweep.engine.pack as pack_module

    assert [pack_module.block_rows(n) for n in (0, 1, 8, 9, 36, 200, 256, 257, 272, 5000)] == [
        8, 8, 8, 16, 64, 256, 256, 64, 64, 256,
    ]  # fmt: skip
    rng = np.random.default_rng(4)
    pack = Pack(network.Shape(F, (16, 8), C), "sgd", 32, [member(seed=s, epochs=1) for s in range(3)])
    train(pack)
    for rows in (1, 7, 36, 300):
        xs = [rng.normal(size=(rows, F)).astype(np.float32) for _ in range(3)]
        fitted = pack.predict(xs)
        monkeypatch.setattr(pack_module, "block_rows", lambda n: pack_module.PREDICT_ROWS)
        np.testing.assert_array_equal(fitted, pack.predict(xs))
        monkeypatch.undo()


@pytest.mark.parametrize(
    "k", [16, 12]
)  # 16: as many members as rows in a batch (a shape Keras's add mistakes for a bias)
def test_members_sharing_rows_but_not_labels_train_as_with_their_own_copies(k):
    """Label-permutation runs share their real run's rows: a pack keeps each distinct set of rows and of
    labels once and reads a member's labels at its own shift. The same members, each with a copy of the
    rows (every member its own block, no shift), end bit-identical."""
    rng = np.random.default_rng(5)
    rows = [X[: len(X) // 2], X[len(X) // 2 :]]  # two splits' rows
    labels = [np.eye(C, dtype=np.float32)[rng.integers(0, C, len(X) // 2)] for _ in range(k)]  # k labellings

    def members(copies: bool) -> list[Member]:
        return [
            Member(
                seed=s,
                x_train=rows[s % 2].copy() if copies else rows[s % 2],
                y_train=labels[s],
                x_val=XV,
                y_val=YV,
                epochs=2,
                hyper={"learning_rate": 0.01, "momentum": 0.0, "l2": 0.0, "dropout": 0.0},
            )
            for s in range(k)
        ]

    shared = train(Pack(network.Shape(F, (8,), C), "sgd", 16, members(False)))
    own = train(Pack(network.Shape(F, (8,), C), "sgd", 16, members(True)))
    assert shared.data.x.shape[0] < own.data.x.shape[0]  # the rows are kept once in the first
    for a, b in zip(shared.weights, own.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    def numbers(pack):
        return [[{k: v for k, v in row.items() if k != "seconds"} for row in m.history] for m in pack.members]

    assert numbers(shared) == numbers(own)
