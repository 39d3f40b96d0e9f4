"""Keras 3 on JAX peer (KERAS_BACKEND=jax set by the driver): predict_on_batch / train_on_batch."""

from __future__ import annotations

import os

from benchmarks.frameworks import NotSupported, keras_like

VARIANTS = ["keras-jax"]
keras = None


def setup() -> str:
    global keras
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import jax
    import keras as _keras

    if _keras.backend.backend() != "jax":
        raise RuntimeError(f"Keras backend is {_keras.backend.backend()!r}, expected 'jax'")
    keras = _keras
    return f"Keras {keras.__version__} / JAX {jax.__version__}"


def make(variant, wl, data):
    if variant != "keras-jax":
        raise NotSupported(variant)
    keras.utils.set_random_seed(0)
    return keras_like.make_step(keras.layers, keras.models, keras.optimizers, wl, data,
                                bf16_layer_kwargs={"dtype": "mixed_bfloat16"},
                                losses=keras.losses)
