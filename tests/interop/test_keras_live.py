"""Models built and saved by Keras 3 itself (when it is installed, on its JAX backend):
functional graphs with several inputs and outputs, a shared layer, Masking (Keras records
the mask arithmetic as operation nodes), TimeDistributed, return_state outputs, stacked
cells in RNN([...]) with go_backwards; .keras and .h5 both load with Keras's numbers."""

from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
pytest.importorskip("h5py")
if keras.backend.backend() != "jax":  # pragma: no cover
    pytest.skip("needs Keras on its JAX backend", allow_module_level=True)

RNG = np.random.default_rng(0)


def _functional():
    a = keras.Input((6, 3), name="a")
    b = keras.Input((6, 2), name="b")
    shared = keras.layers.Dense(4, name="shared")
    x = keras.layers.Concatenate()([shared(keras.layers.Masking()(a)),
                                    keras.layers.Dense(4)(b)])
    seq, h, c = keras.layers.LSTM(5, return_sequences=True, return_state=True)(x)
    y = keras.layers.TimeDistributed(keras.layers.Dense(2))(seq)
    z = keras.layers.RNN([keras.layers.GRUCell(3), keras.layers.SimpleRNNCell(4)],
                         go_backwards=True)(seq)
    model = keras.Model([a, b], [y, keras.layers.Add()([h, c]), z])
    xa = RNG.normal(size=(3, 6, 3)).astype("float32")
    xa[0, 4:] = 0.0
    return model, [xa, RNG.normal(size=(3, 6, 2)).astype("float32")]


def _sequential():
    model = keras.Sequential([
        keras.Input((None, 4)),
        keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True),
                                   merge_mode="sum"),
        keras.layers.LayerNormalization(), keras.layers.GRU(2, go_backwards=True)])
    return model, [RNG.normal(size=(2, 5, 4)).astype("float32")]


@pytest.mark.parametrize("build", [_functional, _sequential])
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_keras_saved_model_loads_with_keras_numbers(build, ext, tmp_path, engine):
    import jax

    path = tmp_path / f"m{ext}"
    with jax.numpy_rank_promotion("allow"):  # Keras's own code relies on rank promotion
        model, xs = build()
        model.compile(optimizer="adam", loss="mse")
        x = xs if len(xs) > 1 else xs[0]
        expected = model.predict(x, verbose=0)
        expected = expected if isinstance(expected, list) else [expected]
        weights = model.get_weights()
        model.save(path)
    loaded = rnnkit.models.load_model(path)
    got = loaded.predict(x, verbose=0)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)
    assert len(loaded.get_weights()) == len(weights)
    for g, e in zip(loaded.get_weights(), weights):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-6)
    assert loaded.compiled
