"""A run's numbers do not depend on its pack: packed against alone, with a partial last batch.

Where a pack and a run alone differed before: (1) TensorFlow's CPU kernels compute exp, log,
sqrt and pow of the elements left over at the end of a tensor another way than of whole SIMD
packets, so the same 3-row tail batch rounded differently alone (mostly leftover) and in a pack
(all packets); (2) a step traced for exactly one member summed the bias gradients in another
order. Training at a high learning rate grew those last bits until test rows flipped
(bench/search.py: 0.0033 of test accuracy). The engine now takes those functions on whole packets
(engine/network.py lanewise) and adds biases as a matmul.

Stated tolerance (README, Performance): on TensorFlow's CPU a member of a ReLU network without
batch normalization is bit-identical to the run alone; otherwise losses agree within 1e-4
relative and a test row's predicted class may differ only where the two top class probabilities
of the run alone are within 1e-3 of each other (a flip needs a logit to move by the probability
gap or more: p1 - p2 <= (z1 - z2) / 2; measured logit differences stay below 2e-5 at lr 0.01),
stated for learning rates up to 0.01 there (SGD at 0.1 with batch normalization drifts further).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from test_engine_fidelity import BS, C, F, HIDDEN, blobs, train

from mlpsweep.engine import network
from mlpsweep.engine.pack import Member, Pack
from mlpsweep.engine.step import compiled

X, Y, XV, YV = blobs(n=1000 + 387, seed=1)
XTR, YTR = X[:387], Y[:387]  # 12 batches of 32 and a tail batch of 3 rows
XTEST = np.concatenate([X[387:], XV])  # 1,000 rows to predict
LOSS_RTOL, PROBABILITY_GAP = 1e-4, 1e-3  # the README's statement


def member(seed, learning_rate, epochs=4, **hyper):
    return Member(seed=seed, x_train=XTR, y_train=YTR, x_val=XV, y_val=YV, epochs=epochs, hyper={"learning_rate": learning_rate, "momentum": 0.0, "l2": 0.0, "dropout": 0.0, **hyper})


def packed_and_alone(shape, optimizer, specs):
    """(packed Pack, [alone Pack per member]) trained to the end. The runs alone go first, on
    freshly compiled steps: as in a job of pack_size 1, their step is traced for one member."""
    compiled.cache_clear()
    alone = [train(Pack(shape, optimizer, BS, [member(**s)])) for s in specs]
    return train(Pack(shape, optimizer, BS, [member(**s) for s in specs])), alone


def history(m):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in m.history]


BITWISE = {  # the notebook's model (ReLU) at the search's learning rates, up to 0.1 (chaotic enough to grow a last bit);
    # members with and without L2, momentum and dropout: the pack's step has switches a member alone lacks
    "sgd": [{"seed": 0, "learning_rate": 0.1, "dropout": 0.3, "l2": 1e-3}, {"seed": 1, "learning_rate": 0.05, "momentum": 0.9}, {"seed": 2, "learning_rate": 0.02, "dropout": 0.1}, {"seed": 0, "learning_rate": 0.1, "epochs": 3}],
    "adam": [{"seed": 0, "learning_rate": 0.01, "dropout": 0.3}, {"seed": 1, "learning_rate": 0.003, "l2": 1e-3}, {"seed": 2, "learning_rate": 0.001}],
}


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="bit-identity is stated for TensorFlow's CPU kernels; other backends are held to the tolerance")
@pytest.mark.parametrize("optimizer", BITWISE)
def test_a_member_with_a_tail_batch_is_bit_identical_to_the_run_alone(optimizer):
    specs = BITWISE[optimizer]
    packed, alone = packed_and_alone(network.Shape(F, HIDDEN, C, dropout=True), optimizer, specs)
    predictions = packed.predict([XTEST] * len(specs))
    for k, solo in enumerate(alone):
        assert history(packed.members[k]) == history(solo.members[0]), f"member {k}: {specs[k]}"
        for a, b in zip(packed.member_weights(k), solo.member_weights(0)):
            assert np.array_equal(a, b), f"member {k}: {specs[k]}"
        assert np.array_equal(predictions[k], solo.predict([XTEST])[0])


def top_two_gap(logits):
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    top = np.sort(p, axis=1)
    return top[:, -1] - top[:, -2]


def test_where_not_bit_identical_losses_and_predictions_stay_within_the_stated_tolerance(learning_rate=0.01):
    """Batch normalization's batch statistics of a tail batch still round with the pack size
    (a reduction over the rows): members differ from alone in the last bits, which training
    grows. The statement must hold anyway: losses within 1e-4, and a predicted class differs
    only at rows whose two top probabilities alone are within 1e-3. Stated for lr <= 0.01:
    at 0.1 this setting's losses drift apart by 3e-4 relative in 5 epochs (chaotic training)."""
    specs = [{"seed": s, "learning_rate": learning_rate, "dropout": 0.2 * (s % 2), "epochs": 5} for s in range(4)]
    packed, alone = packed_and_alone(network.Shape(F, HIDDEN, C, batch_norm=True, dropout=True), "sgd", specs)
    predictions = packed.predict([XTEST] * len(specs))
    moved = 0.0
    for k, solo in enumerate(alone):
        for ours, theirs in zip(packed.members[k].history, solo.members[0].history):
            for key in ("loss", "val_loss"):
                assert ours[key] == pytest.approx(theirs[key], rel=LOSS_RTOL)
        logits = solo.predict([XTEST])[0]
        flipped = predictions[k].argmax(axis=1) != logits.argmax(axis=1)
        assert (top_two_gap(logits)[flipped] < PROBABILITY_GAP).all(), f"member {k}: a row flipped whose top two probabilities alone are {PROBABILITY_GAP} apart or more"
        # the derivation behind the gap: logits move by less than it (p1 - p2 <= (z1 - z2) / 2)
        moved = max(moved, float(np.abs(predictions[k] - logits).max()))
        assert moved < PROBABILITY_GAP
    assert moved > 0  # this setting is not bit-identical: the test checks a real difference
