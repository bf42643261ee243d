import keras
import pytest

from mlpsweep.model import build_mlp, compile_mlp, make_optimizer


def test_reference_notebook_model():
    model = build_mlp({"hidden": [32, 64, 64], "activation": "relu"}, n_features=20, n_classes=2)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [32, 64, 64, 2]
    assert dense[-1].activation.__name__ == "softmax"
    assert model.count_params() == (20 * 32 + 32) + (32 * 64 + 64) + (64 * 64 + 64) + (64 * 2 + 2)


def test_dropout_batchnorm_and_l2():
    model = build_mlp({"hidden": [8, 4], "activation": "tanh", "dropout": 0.3, "batch_norm": True, "l2": 1e-3}, 5, 3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Dropout") == 2 and kinds.count("BatchNormalization") == 2
    assert model.layers[0].kernel_regularizer is not None


@pytest.mark.parametrize(
    "name,cls", [("sgd", keras.optimizers.SGD), ("adam", keras.optimizers.Adam), ("rmsprop", keras.optimizers.RMSprop)]
)
def test_optimizers(name, cls):
    opt = make_optimizer({"optimizer": name, "learning_rate": 0.05, "momentum": 0.9})
    assert isinstance(opt, cls)
    assert float(opt.learning_rate) == pytest.approx(0.05)
    if name == "sgd":
        assert opt.momentum == 0.9


def test_compile_uses_categorical_crossentropy():
    model = compile_mlp(
        build_mlp({"hidden": [4]}, 3, 2), {"optimizer": "sgd", "learning_rate": 0.01}, steps_per_execution=8
    )
    assert model.loss == "categorical_crossentropy"
