"""Keras 3 on TensorFlow peer (tf.keras), only when TensorFlow is importable.

Two rows: Keras' default (`jit_compile='auto'`, which resolves to False on CPU) and the opt-in
XLA variant (`jit_compile=True`).
"""

from __future__ import annotations

import os

from benchmarks.frameworks import NotSupported, keras_like

VARIANTS = ["tf-keras", "tf-keras (jit_compile=True)"]
keras = None


def setup() -> str:
    global keras
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # raises ImportError when TF is not installed: the row is skipped

    _keras = tf.keras
    if not hasattr(_keras, "__version__") or not str(_keras.__version__).startswith("3"):
        import keras as _keras  # Keras 3 with the TF backend
    keras = _keras
    return f"TF {tf.__version__} / Keras {keras.__version__}"


def make(variant, wl, data):
    if variant not in VARIANTS:
        raise NotSupported(variant)
    keras.utils.set_random_seed(0)
    compile_kwargs = {"jit_compile": True} if "jit_compile=True" in variant else {}
    return keras_like.make_step(keras.layers, keras.models, keras.optimizers, wl, data,
                                bf16_layer_kwargs={"dtype": "mixed_bfloat16"},
                                compile_kwargs=compile_kwargs, losses=keras.losses)
