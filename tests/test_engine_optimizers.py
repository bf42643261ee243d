"""Each vectorized update rule equals Keras's own optimizer, member by member, step by step."""

import keras
import numpy as np
import pytest
from keras import ops

from mlpsweep import registry
from mlpsweep.engine.optimizers import RULES
from mlpsweep.model import make_optimizer

SHAPES = [(3, 5, 4), (3, 4)]  # a stacked kernel and bias of 3 members
HYPER = [
    {"learning_rate": 0.01, "momentum": 0.0},
    {"learning_rate": 0.05, "momentum": 0.9},
    {"learning_rate": 0.002, "momentum": 0.5},
]


def test_one_rule_per_registered_optimizer():
    assert set(RULES) == set(registry.OPTIMIZERS)


@pytest.mark.parametrize("name", list(registry.OPTIMIZERS))
def test_rule_equals_the_keras_optimizer(name):
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(12)]
    rule = RULES[name]
    # the engine: every member at once
    ws = [ops.convert_to_tensor(w) for w in weights]
    slots = [tuple(ops.convert_to_tensor(np.full(s, rule.slot_init, np.float32)) for _ in rule.slots) for s in SHAPES]
    steps = ops.convert_to_tensor(np.zeros(3, np.int32))
    shared = ops.convert_to_tensor(np.ones(3, np.float32))
    uses_momentum = "momentum" in registry.OPTIMIZERS[name].uses
    for g in grads:
        if rule.shared is not None:
            shared = rule.shared(ops, shared, steps)
        new = []
        for i, (w, s) in enumerate(zip(ws, slots)):
            h = {
                key: ops.reshape(np.array([m[key] for m in HYPER], np.float32), (-1,) + (1,) * (len(SHAPES[i]) - 1))
                for key in HYPER[0]
            }
            new.append(rule.update(ops, w, ops.convert_to_tensor(g[i]), s, h, steps, shared, uses_momentum))
        ws, slots = [w for w, _ in new], [s for _, s in new]
        steps = ops.add(steps, 1)
    # Keras: one optimizer per member
    for k, hyper in enumerate(HYPER):
        variables = [keras.Variable(w[k]) for w in weights]
        optimizer = make_optimizer({"optimizer": name, **hyper})
        for g in grads:
            optimizer.apply([ops.convert_to_tensor(gi[k]) for gi in g], variables)
        for ours, theirs in zip(ws, variables):
            np.testing.assert_allclose(
                ops.convert_to_numpy(ours)[k],
                ops.convert_to_numpy(theirs),
                rtol=2e-6,
                atol=1e-7,
                err_msg=f"{name} member {k}",
            )
