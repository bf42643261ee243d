"""Keras MLPs built from an architecture spec: the models a run's trained weights are saved in."""

from __future__ import annotations

import keras

from . import registry


def build_mlp(spec: dict, n_features: int, n_classes: int) -> keras.Sequential:
    """A Sequential stack of Dense layers with a softmax output sized to the classes; without
    hidden layers, multinomial logistic regression (`l2` then penalizes the output kernel)."""
    l2 = spec.get("l2", 0.0)
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input(shape=(n_features,))]
    for width in spec["hidden"]:
        if spec.get("batch_norm"):
            # Normalize before the nonlinearity, as in Ioffe & Szegedy.
            layers.append(keras.layers.Dense(width, kernel_regularizer=regularizer, use_bias=False))
            layers.append(keras.layers.BatchNormalization())
            layers.append(keras.layers.Activation(spec.get("activation", "relu")))
        else:
            layers.append(
                keras.layers.Dense(width, activation=spec.get("activation", "relu"), kernel_regularizer=regularizer)
            )
        if spec.get("dropout"):
            layers.append(keras.layers.Dropout(spec["dropout"]))
    linear = regularizer if not spec["hidden"] else None
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=linear))
    return keras.Sequential(layers, name=spec.get("name", "mlp").replace("-", "_"))


def make_optimizer(training: dict) -> keras.optimizers.Optimizer:
    """The Keras optimizer of a run's training settings (Keras's defaults otherwise)."""
    entry = registry.OPTIMIZERS[training["optimizer"]]
    options = {key: training[key] for key in entry.uses if key in training}
    return getattr(keras.optimizers, entry.keras_class)(learning_rate=training["learning_rate"], **options)


def compile_mlp(model: keras.Model, training: dict, steps_per_execution: int = 1) -> keras.Model:
    model.compile(
        optimizer=make_optimizer(training),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def build_classifier(spec: dict, n_features: int, n_classes: int) -> keras.Sequential:
    """The exported model of a run: raw feature rows -> class probabilities. A Normalization
    layer (its mean and variance set as weights, never adapted) in front of the MLP."""
    mlp = build_mlp(spec, n_features, n_classes)
    return keras.Sequential(
        [keras.Input(shape=(n_features,)), keras.layers.Normalization(name="standardization"), *mlp.layers],
        name=mlp.name,
    )
