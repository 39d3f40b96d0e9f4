"""Core (non-recurrent) layers: Dense, Activation, Flatten, Reshape, Dropout, Embedding,
Masking, TimeDistributed, merge layers and LayerNormalization.

Numbers are checked against NumPy re-implementations of the Keras 3 formulas; masks,
dropout statistics, symbolic shapes, config round trips and error messages too.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import layers as L
from rnnkit.layers.serialization import deserialize, serialize

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape).astype("float32")


def _roundtrip(layer):
    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    return clone


# --- Dense --------------------------------------------------------------------------------
def test_dense_numerics_any_rank_and_weights():
    layer = L.Dense(4, activation="tanh", bias_initializer="ones")
    x = _x(2, 5, 3)
    y = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert kernel.shape == (3, 4) and bias.shape == (4,)
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)
    y2 = np.asarray(layer(x[:, 0]))  # rank 2 with the same weights
    np.testing.assert_allclose(y2, np.tanh(x[:, 0] @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 16


def test_dense_no_bias_linear_default_and_mask_passthrough():
    layer = L.Dense(2, use_bias=False)
    x = _x(3, 4)
    np.testing.assert_allclose(np.asarray(layer(x)), x @ layer.get_weights()[0], rtol=1e-5,
                               atol=1e-6)
    assert len(layer.weights) == 1
    assert layer.supports_masking
    mask = np.array([True, False, True])
    assert layer.compute_mask(x, mask) is mask
    assert layer.get_config()["activation"] == "linear"


def test_dense_symbolic_shapes():
    x = L.Input(shape=(5, 3))
    y = L.Dense(4)(x)
    assert y.shape == (None, 5, 4)
    assert L.Dense(83)(L.Input(shape=(None, 3))).shape == (None, None, 83)


def test_dense_errors():
    with pytest.raises(ValueError, match="positive integer.*units=0"):
        L.Dense(0)
    with pytest.raises(ValueError, match="positive integer"):
        L.Dense("8")
    with pytest.raises(ValueError, match=r"rank >= 2.*shape \(4,\)"):
        L.Dense(2)(np.ones(4, "float32"))
    layer = L.Dense(2)
    layer(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"built for inputs with last axis 3.*\(1, 5\)"):
        layer(np.ones((1, 5), "float32"))
    with pytest.raises(ValueError, match="not supported by rnnkit.*lora_rank"):
        L.Dense(2, lora_rank=4)


def test_dense_config_roundtrip_and_regularizer_losses():
    layer = L.Dense(3, activation="relu", kernel_regularizer="l2", bias_constraint="non_neg",
                    kernel_initializer="he_normal", name="d1")
    clone = _roundtrip(layer)
    assert clone.units == 3 and clone.name == "d1"
    layer(_x(2, 4))
    assert len(layer.losses) == 1
    k = layer.get_weights()[0]
    np.testing.assert_allclose(float(layer.losses[0]), 0.01 * np.sum(k ** 2), rtol=1e-5)


# --- Activation / Flatten / Reshape ------------------------------------------------------
def test_activation_flatten_reshape():
    x = _x(2, 3, 4)
    np.testing.assert_allclose(np.asarray(L.Activation("relu")(x)), np.maximum(x, 0))
    assert L.Activation("softmax").supports_masking
    np.testing.assert_array_equal(np.asarray(L.Flatten()(x)), x.reshape(2, 12))
    np.testing.assert_array_equal(np.asarray(L.Flatten()(x[:, 0, 0])), x[:, 0, 0].reshape(2, 1))
    np.testing.assert_array_equal(np.asarray(L.Flatten(data_format="channels_first")(x)),
                                  np.transpose(x, (0, 2, 1)).reshape(2, 12))
    np.testing.assert_array_equal(np.asarray(L.Reshape((4, 3))(x)), x.reshape(2, 4, 3))
    np.testing.assert_array_equal(np.asarray(L.Reshape((-1, 2))(x)), x.reshape(2, 6, 2))
    assert L.Flatten()(L.Input(shape=(6, 4))).shape == (None, 24)
    assert L.Flatten()(L.Input(shape=(None, 4))).shape == (None, None)
    assert L.Reshape((-1, 2))(L.Input(shape=(3, 4))).shape == (None, 6, 2)
    assert L.Reshape((-1, 2))(L.Input(shape=(None, 4))).shape == (None, None, 2)
    for layer in (L.Activation("tanh"), L.Flatten(), L.Reshape((-1, 3))):
        _roundtrip(layer)


def test_reshape_errors():
    with pytest.raises(ValueError, match="at most one -1"):
        L.Reshape((-1, -1))
    with pytest.raises(ValueError, match="positive integers"):
        L.Reshape((0, 3))
    with pytest.raises(ValueError, match=r"cannot reshape.*\(3, 4\).*target_shape=\(5,\)"):
        L.Reshape((5,))(np.ones((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="data_format"):
        L.Flatten(data_format="nhwc")


# --- Dropout -----------------------------------------------------------------------------
def test_dropout_inference_is_identity():
    x = _x(4, 6)
    layer = L.Dropout(0.5)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    assert layer.supports_masking and layer.weights == []


def test_dropout_training_statistics_and_fresh_masks():
    rate = 0.3
    layer = L.Dropout(rate, seed=1)
    x = np.ones((200, 500), "float32")
    y1 = np.asarray(layer(x, training=True))
    y2 = np.asarray(layer(x, training=True))
    zeros = np.mean(y1 == 0)
    assert abs(zeros - rate) < 0.01
    np.testing.assert_allclose(y1[y1 != 0], 1 / (1 - rate), rtol=1e-6)
    assert abs(y1.mean() - 1.0) < 0.01  # inverted dropout preserves the mean
    assert not np.array_equal(y1, y2)  # the seed state advances
    # The same seed gives the same first mask.
    y3 = np.asarray(L.Dropout(rate, seed=1)(x, training=True))
    np.testing.assert_array_equal(y1, y3)


def test_dropout_noise_shape_and_config():
    layer = L.Dropout(0.5, noise_shape=(None, 1, 4), seed=3)
    y = np.asarray(layer(np.ones((8, 5, 4), "float32"), training=True))
    assert np.all(y == y[:, :1, :])  # one mask shared over time steps
    clone = _roundtrip(layer)
    assert clone.noise_shape == (None, 1, 4) and clone.seed == 3 and clone.rate == 0.5
    with pytest.raises(ValueError, match=r"does not broadcast.*\(8, 5, 3\)"):
        layer(np.ones((8, 5, 3), "float32"), training=True)


def test_dropout_errors():
    for bad in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match=r"float in \[0, 1\).*rate="):
            L.Dropout(bad)
    with pytest.raises(ValueError, match="noise_shape"):
        L.Dropout(0.2, noise_shape=(None, 0))


# --- Embedding / Masking -----------------------------------------------------------------
def test_embedding_lookup_mask_and_weights():
    layer = L.Embedding(10, 3, mask_zero=True)
    ids = np.array([[1, 2, 0, 0], [9, 0, 3, 3]], "int32")
    y = np.asarray(layer(ids))
    (table,) = layer.get_weights()
    assert table.shape == (10, 3) and layer.weights[0].name == "embeddings"
    assert np.all(np.abs(table) <= 0.05)  # "uniform" = RandomUniform(-0.05, 0.05)
    np.testing.assert_array_equal(y, table[ids])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), ids != 0)
    assert L.Embedding(10, 3).compute_mask(ids) is None
    np.testing.assert_array_equal(np.asarray(layer(ids.astype("float32"))), table[ids])


def test_embedding_options_and_errors():
    with pytest.warns(UserWarning, match="input_length"):
        layer = L.Embedding(5, 2, input_length=7)
    w = np.arange(10, dtype="float32").reshape(5, 2)
    layer = L.Embedding(5, 2, weights=w)
    np.testing.assert_array_equal(layer.get_weights()[0], w)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\].*\[0, 5\]"):
        layer(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 4\].*\[-1, 1\]"):
        layer(np.array([[-1, 1]]))
    with pytest.raises(ValueError, match="input_dim.*positive integer"):
        L.Embedding(0, 4)
    clone = _roundtrip(L.Embedding(7, 3, mask_zero=True, embeddings_regularizer="l2"))
    assert clone.mask_zero and clone.supports_masking
    x = L.Input(shape=(6,), dtype="int32")
    assert L.Embedding(7, 3)(x).shape == (None, 6, 3)


def test_masking_zeroes_steps_and_emits_mask():
    x = _x(2, 4, 3)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    layer = L.Masking()
    keep = np.any(x != 0.0, axis=-1)
    np.testing.assert_array_equal(np.asarray(layer(x)), x * keep[..., None])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), keep)
    x2 = x.copy()
    x2[1, 0] = -1.0
    m = L.Masking(mask_value=-1.0)
    np.testing.assert_array_equal(np.asarray(m.compute_mask(x2)), np.any(x2 != -1.0, -1))
    assert _roundtrip(m).mask_value == -1.0


def test_masking_and_embedding_drive_lstm_masks():
    x = _x(2, 5, 3)
    x[0, 3:] = 0.0
    inp = L.Input(shape=(5, 3))
    lstm = L.LSTM(4)
    model = rnnkit.Model(inp, lstm(L.Masking()(inp)))
    y = np.asarray(model.predict(x, verbose=0))
    ref = np.asarray(lstm(x, mask=np.any(x != 0, -1)))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
    # A masked sequence gives the same output as its unpadded prefix.
    np.testing.assert_allclose(y[0], np.asarray(lstm(x[:1, :3]))[0], rtol=1e-5, atol=1e-6)


# --- TimeDistributed ---------------------------------------------------------------------
def test_time_distributed_dense_equals_per_step():
    dense = L.Dense(3, activation="sigmoid")
    td = L.TimeDistributed(dense)
    x = _x(2, 4, 5)
    y = np.asarray(td(x))
    assert y.shape == (2, 4, 3)
    assert td.weights == dense.weights and td.count_params() == 18
    for t in range(4):
        np.testing.assert_allclose(y[:, t], np.asarray(dense(x[:, t])), rtol=1e-5, atol=1e-6)
    k, b = dense.get_weights()
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-(x @ k + b))), rtol=1e-5, atol=1e-6)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    assert td.compute_mask(x, mask) is mask
    assert L.TimeDistributed(L.Dense(2))(L.Input(shape=(None, 5))).shape == (None, None, 2)


def test_time_distributed_config_and_errors():
    td = L.TimeDistributed(L.Dense(2, activation="relu"))
    td(_x(1, 3, 4))
    clone = _roundtrip(td)
    assert isinstance(clone.layer, L.Dense) and clone.layer.units == 2
    with pytest.raises(ValueError, match="Layer instance.*Received"):
        L.TimeDistributed(lambda x: x)
    with pytest.raises(ValueError, match=r"rank >= 3.*\(2, 4\)"):
        L.TimeDistributed(L.Dense(2))(np.ones((2, 4), "float32"))


def test_time_distributed_dropout_training_flag():
    td = L.TimeDistributed(L.Dropout(0.5, seed=0))
    x = np.ones((4, 3, 50), "float32")
    np.testing.assert_array_equal(np.asarray(td(x)), x)
    y = np.asarray(td(x, training=True))
    assert 0.3 < np.mean(y == 0) < 0.7


# --- Merge layers ------------------------------------------------------------------------
def test_merge_numerics():
    a, b, c = _x(2, 3, 4), _x(2, 3, 4), _x(2, 3, 4)
    np.testing.assert_allclose(np.asarray(L.Add()([a, b, c])), a + b + c, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(L.Subtract()([a, b])), a - b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(L.Multiply()([a, b, c])), a * b * c, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(L.Average()([a, b, c])), (a + b + c) / 3,
                               rtol=1e-6)
    d = _x(2, 3, 2)
    np.testing.assert_array_equal(np.asarray(L.Concatenate()([a, d])),
                                  np.concatenate([a, d], -1))
    np.testing.assert_array_equal(np.asarray(L.Concatenate(axis=1)([a, b])),
                                  np.concatenate([a, b], 1))
    # Different ranks: expanded at axis 1, as Keras does.
    v = _x(2, 4)
    np.testing.assert_allclose(np.asarray(L.Add()([a, v])), a + v[:, None, :], rtol=1e-6)


def test_merge_symbolic_masks_and_config():
    x1, x2 = L.Input(shape=(5, 3)), L.Input(shape=(5, 2))
    assert L.Concatenate()([x1, x2]).shape == (None, 5, 5)
    assert L.Concatenate(axis=1)([x1, L.Input(shape=(None, 3))]).shape == (None, None, 3)
    assert L.Add()([x1, L.Input(shape=(5, 3))]).shape == (None, 5, 3)
    m1 = np.array([[True, False, True]])
    m2 = np.array([[False, False, True]])
    a, b = _x(1, 3, 2), _x(1, 3, 2)
    np.testing.assert_array_equal(np.asarray(L.Add().compute_mask([a, b], [m1, m2])), m1 | m2)
    assert L.Add().compute_mask([a, b], [m1, None]) is None
    cat = L.Concatenate()
    np.testing.assert_array_equal(np.asarray(cat.compute_mask([a, b], [m1, m2])), m1 | m2)
    np.testing.assert_array_equal(np.asarray(cat.compute_mask([a, b], [m1, None])),
                                  np.ones((1, 3), bool))
    np.testing.assert_array_equal(
        np.asarray(L.Concatenate(axis=1).compute_mask([a, b], [m1, m2])),
        np.concatenate([m1, m2], 1))
    # Multiply: a masked input counts as 1; where every input is masked, 0.
    y = np.asarray(L.Multiply()([a, b], mask=[m1, m2]))
    ref = np.where(m1[..., None], a, 1) * np.where(m2[..., None], b, 1)
    ref = np.where((m1 | m2)[..., None], ref, 0)
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    assert _roundtrip(L.Concatenate(axis=1)).axis == 1
    for cls in (L.Add, L.Subtract, L.Multiply, L.Average):
        _roundtrip(cls())


def test_merge_errors():
    a = _x(2, 3)
    with pytest.raises(ValueError, match="list of inputs.*Received: a single"):
        L.Add()(a)
    with pytest.raises(ValueError, match="exactly 2 inputs. Received 3"):
        L.Subtract()([a, a, a])
    with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(2, 4\)"):
        L.Add()([a, _x(2, 4)])
    with pytest.raises(ValueError, match="matching shapes except.*differ on axis 1"):
        L.Concatenate()([_x(2, 3, 4), _x(2, 5, 4)])
    with pytest.raises(ValueError, match="different batch sizes"):
        L.Multiply()([a, _x(3, 3)])


# --- LayerNormalization ------------------------------------------------------------------
def _np_layer_norm(x, gamma, beta, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_layer_normalization_numerics_and_weights():
    x = (_x(3, 4, 6) * 3 + 1).astype("float32")
    layer = L.LayerNormalization()
    y = np.asarray(layer(x))
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    gamma = RNG.uniform(0.5, 1.5, 6).astype("float32")
    beta = RNG.standard_normal(6).astype("float32")
    layer.set_weights([gamma, beta])
    np.testing.assert_allclose(y, _np_layer_norm(x, 1.0, 0.0, -1, 1e-3), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer(x)), _np_layer_norm(x, gamma, beta, -1, 1e-3),
                               rtol=1e-5, atol=1e-5)
    multi = L.LayerNormalization(axis=[1, 2], epsilon=1e-5)
    y = np.asarray(multi(x))
    assert multi.weights[0].shape == (4, 6)
    np.testing.assert_allclose(y, _np_layer_norm(x, 1.0, 0.0, (1, 2), 1e-5), rtol=1e-5,
                               atol=1e-5)
    no_affine = L.LayerNormalization(center=False, scale=False)
    no_affine(x)
    assert no_affine.weights == []
    assert [w.name for w in L.LayerNormalization(center=False).weights] == []
    clone = _roundtrip(L.LayerNormalization(axis=[1, 2], epsilon=1e-5, center=False))
    assert clone.axis == [1, 2] and clone.epsilon == 1e-5 and not clone.center
    assert L.LayerNormalization()(L.Input(shape=(5, 3))).shape == (None, 5, 3)


def test_layer_normalization_errors():
    with pytest.raises(TypeError, match="int or a non-empty list.*axis='x'"):
        L.LayerNormalization(axis="x")
    with pytest.raises(ValueError, match="out of range for inputs of rank 2"):
        L.LayerNormalization(axis=3)(_x(2, 3))


# --- In a model --------------------------------------------------------------------------
def test_sequential_embedding_lstm_timedistributed_fit_and_config():
    rnnkit.set_random_seed(0)
    model = rnnkit.Sequential([
        L.Input(shape=(6,), dtype="int32"),
        L.Embedding(12, 4, mask_zero=True),
        L.LSTM(5, return_sequences=True),
        L.LayerNormalization(),
        L.Dropout(0.2),
        L.TimeDistributed(L.Dense(3, activation="softmax")),
    ])
    ids = RNG.integers(0, 12, size=(8, 6)).astype("int32")
    y = model.predict(ids, verbose=0)
    assert y.shape == (8, 6, 3)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    target = RNG.integers(0, 3, size=(8, 6))
    hist = model.fit(ids, target, epochs=1, batch_size=8, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
