"""Keras 3 losses in jax.numpy (pure and jit-able).

Loss *functions* return one value per sample (and per timestep for sequence targets):

    mean_squared_error(y_true, y_pred)   mean((y_true - y_pred)^2, axis=-1)
    mean_absolute_error                   mean(|y_true - y_pred|, axis=-1)
    huber(..., delta=1.0)                 mean(0.5 e^2 if |e| <= delta else
                                               delta |e| - 0.5 delta^2, axis=-1)
    binary_crossentropy                   mean(bce, axis=-1)
    categorical_crossentropy              -sum(y_true * log(p), axis=-1)
    sparse_categorical_crossentropy       -log(p[y_true])

Shapes: y_pred `(batch, [timesteps,] k)` gives losses `(batch, [timesteps])`.
Probabilities (`from_logits=False`) are clipped to [1e-7, 1 - 1e-7] like Keras;
the categorical losses first divide `y_pred` by its sum over the last axis.

Loss *objects* (`MeanSquaredError()`, ...) apply the Keras reduction:
"sum_over_batch_size" (default) = sum of the (weighted) per-sample losses divided by
their number of elements, i.e. the mean over batch *and* timesteps.
`sample_weight` multiplies the per-sample losses (the divisor does not change).
`mask` (e.g. the Keras mask of a sequence output) drops timesteps: with the default
reduction the result is the mean over the unmasked entries.

`get(identifier)` returns a Loss object for a name, a class, a function or an instance.
"""

from __future__ import annotations

from rnnkit.losses.functions import (EPSILON, binary_crossentropy, categorical_crossentropy,
                                     huber, mae, mean_absolute_error, mean_squared_error, mse,
                                     sparse_categorical_crossentropy,
                                     squeeze_or_expand_to_same_rank)
from rnnkit.losses.objects import (BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss,
                                   LossFunctionWrapper, MeanAbsoluteError, MeanSquaredError,
                                   SparseCategoricalCrossentropy, check_shapes, get)

__all__ = [
    "EPSILON", "Loss", "LossFunctionWrapper",
    "mean_squared_error", "mse", "MeanSquaredError",
    "mean_absolute_error", "mae", "MeanAbsoluteError",
    "huber", "Huber",
    "binary_crossentropy", "BinaryCrossentropy",
    "categorical_crossentropy", "CategoricalCrossentropy",
    "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
    "get", "check_shapes", "squeeze_or_expand_to_same_rank",
]
