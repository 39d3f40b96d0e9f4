"""ConvLSTM1D/2D/3D against the NumPy reference (tests/reference/numpy_ref_conv.py, itself checked
on the 22 Keras golden cases in test_numpy_ref.py): strides, dilation, channels_first,
masks, states, dropout, Bidirectional, step(), save/load, summary and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import numpy_ref_conv as RC
import rnnkit
from rnnkit import config
from rnnkit import layers as L
from rnnkit.core.kernels import conv_lstm as K

RNG = np.random.default_rng(7)
ATOL = 2e-5


def _rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _layer(cls, x, **kwargs):
    layer = getattr(L, cls)(**kwargs)
    layer.build(x.shape)
    layer.set_weights([_rand(*w.shape, scale=0.3) for w in layer.weights])
    ref = RC.RefConvLSTM({"__class__": cls, "kwargs": kwargs})
    ref.set_weights(layer.get_weights())
    return layer, ref


def _close(got, want, atol=ATOL):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w, atol)
        return
    np.testing.assert_allclose(np.asarray(got), want, atol=atol, rtol=0)


CASES = [  # (class, input shape, kwargs): geometry the golden cases do not cover
    ("ConvLSTM2D", (2, 3, 7, 6, 2), dict(filters=3, kernel_size=(3, 2), strides=(2, 1),
                                         padding="same", return_sequences=True)),
    ("ConvLSTM2D", (2, 3, 8, 7, 2), dict(filters=2, kernel_size=3, strides=(3, 2))),
    ("ConvLSTM1D", (2, 4, 9, 3), dict(filters=2, kernel_size=3, dilation_rate=2,
                                      return_state=True)),
    ("ConvLSTM2D", (2, 3, 7, 7, 2), dict(filters=2, kernel_size=2, dilation_rate=(2, 3),
                                         return_sequences=True, go_backwards=True)),
    ("ConvLSTM2D", (2, 3, 2, 6, 5), dict(filters=3, kernel_size=3, strides=2,
                                         data_format="channels_first", padding="same",
                                         return_state=True, return_sequences=True)),
    ("ConvLSTM3D", (1, 3, 2, 4, 3, 5), dict(filters=2, kernel_size=(1, 2, 3),
                                            data_format="channels_first", padding="same",
                                            recurrent_activation="hard_sigmoid")),
]


@pytest.mark.parametrize("cls,shape,kwargs", CASES)
def test_geometry_matches_numpy_reference(cls, shape, kwargs):
    x = _rand(*shape)
    layer, ref = _layer(cls, x, **kwargs)
    _close(layer(x), ref(x))


def test_input_conv_hoisted_equals_per_step_conv():
    """The batched input convolution (fast path) gives the per-step loop's values."""
    x = _rand(2, 4, 6, 5, 3)
    layer, _ = _layer("ConvLSTM2D", x, filters=3, kernel_size=3, padding="same",
                      return_sequences=True)
    fast = np.asarray(layer(x))
    config.set_fast_paths(False)
    try:
        slow = np.asarray(layer.call(jnp.asarray(x)))  # uncompiled: reads the flag now
    finally:
        config.set_fast_paths(True)
    np.testing.assert_allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("zero_output", [False, True])
def test_mask_initial_state_and_channels_first(zero_output):
    x = _rand(3, 5, 2, 4, 6)  # channels_first: (B, T, C, H, W)
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)
    kwargs = dict(filters=2, kernel_size=(3, 3), padding="same", data_format="channels_first",
                  return_sequences=True, return_state=True, go_backwards=True,
                  zero_output_for_mask=zero_output)
    layer, ref = _layer("ConvLSTM2D", x, **kwargs)
    h0, c0 = _rand(3, 2, 4, 6), _rand(3, 2, 4, 6)
    got = layer(x, initial_state=[h0, c0], mask=mask)
    _close(got, ref(x, initial_state=[h0, c0], mask=mask))
    assert got[1].shape == (3, 2, 4, 6)


def test_stateful_continues_and_resets():
    x1, x2 = _rand(2, 3, 6, 2), _rand(2, 3, 6, 2)
    layer, ref = _layer("ConvLSTM1D", x1, filters=3, kernel_size=3, stateful=True)
    _close(layer(x1), ref(x1))
    _close(layer(x2), ref(x2))  # continues from x1's final states
    layer.reset_states()
    ref.reset_states()
    _close(layer(x2), ref(x2))
    assert layer.states[0].shape == (2, 4, 3)


def test_dropout_uses_keras_per_gate_masks_constant_over_time():
    x = _rand(2, 4, 5, 5, 2)
    layer, ref = _layer("ConvLSTM2D", x, filters=2, kernel_size=3, padding="same",
                        dropout=0.4, recurrent_dropout=0.3, seed=3, return_sequences=True)
    plain = ref(x)
    _close(layer(x), plain)  # inference: no dropout
    _close(layer(x, training=False), plain)
    key = layer.cell._seed_state.value
    got = np.asarray(layer(x, training=True))
    layer.cell._seed_state.assign(key)  # draw the same masks again
    in_m, rec_m = (np.asarray(m) for m in layer.cell.dropout_masks(2, True))
    assert in_m.shape == (4, 2, 5, 5, 2) and rec_m.shape == (4, 2, 5, 5, 2)
    assert not np.array_equal(in_m[0], in_m[1])  # one mask per gate, as Keras
    _close(got, ref(x, in_masks=in_m, rec_masks=rec_m))
    assert np.abs(got - plain).max() > 1e-3


@pytest.mark.parametrize("ksize,masked,dropout", [((3, 3), False, False),
                                                 ((2, 3), True, True)])
def test_gradients_of_fast_path_equal_autodiff_of_the_step_loop(ksize, masked, dropout):
    """The fused sequence's own VJP (hoisted input convolution, `_recurrence_bwd`) against
    JAX's gradient of the per-step loop, for weights, states and inputs, with even kernels
    (asymmetric "same" padding), masks, reverse order and input/recurrent dropout."""
    x = jnp.asarray(_rand(2, 4, 5, 4, 2))
    kc = ksize + (2, 8)
    params = K.ConvLSTMParams(jnp.asarray(_rand(*kc, scale=0.3)),
                              jnp.asarray(_rand(*ksize, 2, 8, scale=0.3)),
                              jnp.asarray(_rand(8)))
    geo = K.ConvGeometry((1, 1), (1, 1), "same")
    s0 = K.ConvLSTMState(jnp.asarray(_rand(2, 5, 4, 2)), jnp.asarray(_rand(2, 5, 4, 2)))
    mask = jnp.asarray([[1, 0, 1, 1], [0, 0, 1, 0]], bool) if masked else None
    rm, im = (jnp.asarray((RNG.random((4, 2, 5, 4, 2)) > 0.3) / 0.7, jnp.float32)
              for _ in range(2)) if dropout else (None, None)

    def loss(p, s, xs, fused):
        last, seq, final = K.conv_lstm_sequence(
            p, s, xs, geometry=geo, return_sequences=True, fused=fused, mask=mask,
            reverse=masked, recurrent_masks=rm, input_masks=im)
        return jnp.sum(seq ** 2) + jnp.sum(last * final.c) + jnp.sum(final.h)

    value = jax.jit(loss, static_argnums=3)
    np.testing.assert_allclose(value(params, s0, x, True), value(params, s0, x, False),
                               rtol=1e-5)
    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=3)
    g1 = grad(params, s0, x, True)
    g2 = grad(params, s0, x, False)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-5)


def test_step_by_step_equals_sequence():
    x = _rand(2, 3, 6, 6, 2)
    layer, _ = _layer("ConvLSTM2D", x, filters=2, kernel_size=3, padding="same",
                      return_sequences=True)
    seq = np.asarray(layer(x))
    states = None
    for t in range(3):
        y, states = layer.step(x[:, t], states)
        np.testing.assert_allclose(y, seq[:, t], atol=1e-5)


def test_bidirectional_concat_and_states():
    x = _rand(2, 4, 6, 2)
    inner = L.ConvLSTM1D(2, 3, return_sequences=True, return_state=True)
    bi = L.Bidirectional(inner)
    out = bi(x)
    fw_ref = RC.RefConvLSTM({"__class__": "ConvLSTM1D", "kwargs": dict(
        filters=2, kernel_size=3, return_sequences=True, return_state=True)})
    bw_ref = RC.RefConvLSTM({"__class__": "ConvLSTM1D", "kwargs": dict(
        filters=2, kernel_size=3, return_sequences=True, return_state=True,
        go_backwards=True)})
    w = bi.get_weights()
    assert len(w) == 6 and w[0].shape == (3, 2, 8)
    fw_ref.set_weights(w[:3])
    bw_ref.set_weights(w[3:])
    f, b = fw_ref(x, zero_output_for_mask=True), bw_ref(x, zero_output_for_mask=True)
    want = [np.concatenate([f[0], b[0][:, ::-1]], -1), f[1], f[2], b[1], b[2]]
    _close(out, want)


def test_unit_forget_bias_and_weight_layout():
    layer = L.ConvLSTM3D(4, (1, 2, 3))
    layer.build((None, 5, 3, 4, 6, 2))
    k, r, b = layer.get_weights()
    assert k.shape == (1, 2, 3, 2, 16) and r.shape == (1, 2, 3, 4, 16)
    np.testing.assert_array_equal(b, np.repeat([0.0, 1.0, 0.0, 0.0], 4))
    assert layer.count_params() == K.KERNEL.param_count((1, 2, 3), 2, 4, True) == 592
    no_ufb = L.ConvLSTM1D(2, 3, unit_forget_bias=False, bias_initializer="ones")
    no_ufb.build((None, 2, 5, 1))
    np.testing.assert_array_equal(no_ufb.get_weights()[2], np.ones(8))


def test_model_summary_fit_save_and_load(tmp_path):
    x = _rand(4, 3, 6, 6, 1)
    y = _rand(4, 6, 6, 1)
    model = rnnkit.Sequential([rnnkit.Input(shape=(3, 6, 6, 1)),
                               L.ConvLSTM2D(2, 3, padding="same"),
                               L.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "ConvLSTM2D" in text and "(None, 6, 6, 2)" in text and "224" in text
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    path = tmp_path / "conv.keras"
    model.save(path)
    loaded = rnnkit.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    cfg = model.layers[0].get_config()
    assert cfg["kernel_size"] == (3, 3) and cfg["data_format"] == "channels_last"
    assert "rank" not in cfg and "time_major" not in cfg


BAD = [
    (dict(filters=2, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=2, kernel_size=0), "kernel_size"),
    (dict(filters=2, kernel_size=3, strides=(1,)), "strides"),
    (dict(filters=2, kernel_size=3, strides=-1), "strides"),
    (dict(filters=2, kernel_size=3, dilation_rate=(2, 0)), "dilation_rate"),
    (dict(filters=2, kernel_size=3, strides=2, dilation_rate=2), "strides > 1"),
    (dict(filters=2, kernel_size=3, data_format="NHWC"), "data_format"),
    (dict(filters=2, kernel_size=3, padding="causal"), "padding"),
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=2, kernel_size=3, dropout=1.5), "dropout"),
]


@pytest.mark.parametrize("kwargs,word", BAD)
def test_bad_arguments_raise_one_clear_error(kwargs, word):
    with pytest.raises(ValueError, match="ConvLSTM2D") as info:
        L.ConvLSTM2D(**kwargs)
    assert word in str(info.value)


def test_numpy_integers_are_accepted_like_keras():
    layer = L.ConvLSTM2D(np.int64(2), kernel_size=(np.int64(3), 3), strides=np.array([1, 1]))
    assert layer.kernel_size == (3, 3) and layer.strides == (1, 1)
    assert all(type(v) is int for v in layer.kernel_size + layer.strides)


def test_bad_inputs_raise_clear_errors():
    layer = L.ConvLSTM2D(2, 3)
    with pytest.raises(ValueError, match=r"rank 5.*Received inputs.shape=\(2, 3, 5, 2\).*"
                                         r"ConvLSTM1D"):
        layer(np.zeros((2, 3, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"padding='valid'.*\(3, 3\).*padding='same'"):
        layer(np.zeros((1, 2, 2, 5, 1), np.float32))
    dil = L.ConvLSTM1D(2, 3, dilation_rate=3)
    with pytest.raises(ValueError, match=r"\(7,\)"):
        dil(np.zeros((1, 2, 6, 1), np.float32))
    ok = L.ConvLSTM2D(2, 3, padding="same")
    ok(np.zeros((1, 2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="3 channels|1 channels"):
        ok(np.zeros((1, 2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="spatial size"):
        ok(np.zeros((1, 2, 5, 4, 1), np.float32))
    with pytest.raises(ValueError, match=r"initial_state=\[h, c\].*\(1, 4, 4, 2\)"):
        ok(np.zeros((1, 2, 4, 4, 1), np.float32), initial_state=[np.zeros((1, 2))] * 2)
    with pytest.raises(ValueError, match=r"mask of shape \(batch, timesteps\)"):
        ok(np.zeros((1, 2, 4, 4, 1), np.float32), mask=np.ones((1, 3), bool))
