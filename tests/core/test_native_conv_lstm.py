"""ConvLSTM's native inference loop (rnnkit/core/native/conv_lstm.cc) against the NumPy
reference (tests/reference/numpy_ref_conv.py) and against the XLA loop it replaces.

Shapes that exercise every code path: odd spatial sizes (register tiles of unequal size),
filter counts that are not a multiple of 16 or 32, batch 1 and odd batches (the rows of a
step split over threads mid-frame, with a barrier per step), 1-3 spatial axes, strides,
dilation, even kernels, no bias, go_backwards, stateful layers, initial_state and
return_state; plus THE fallback rule (`native_applies`) and gradients, which run the XLA
forward and VJP.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import numpy_ref as R
import numpy_ref_conv as RC
from rnnkit import config
from rnnkit import layers as L
from rnnkit.core import native
from rnnkit.core.kernels import conv_lstm as K

pytestmark = pytest.mark.skipif(
    native._unsupported_reason() is not None,
    reason=f"native kernels cannot run here: {native._unsupported_reason()}")

RNG = np.random.default_rng(13)
ATOL = 1e-5


def _rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _problem(B, T, S, C, F, k, strides, dil, pad, bias):
    geo = K.ConvGeometry(tuple(strides), tuple(dil), pad)
    out = tuple(K.conv_output_size(n, kk, s, d, pad) for n, kk, s, d in zip(S, k, strides, dil))
    params = K.ConvLSTMParams(jnp.asarray(_rand(*k, C, 4 * F, scale=0.3)),
                              jnp.asarray(_rand(*k, F, 4 * F, scale=0.3)),
                              jnp.asarray(_rand(4 * F, scale=0.3)) if bias else None)
    state = K.ConvLSTMState(jnp.asarray(_rand(B, *out, F, scale=0.5)),
                            jnp.asarray(_rand(B, *out, F, scale=0.5)))
    return geo, params, state, jnp.asarray(_rand(B, T, *S, C))


def _reference(geo, params, state, xs, reverse):
    weights = [np.asarray(w, np.float64) for w in params if w is not None]
    h, c = (np.asarray(s, np.float64) for s in state)
    xs = np.asarray(xs, np.float64)
    hs = []
    for t in (range(xs.shape[1] - 1, -1, -1) if reverse else range(xs.shape[1])):
        h, c = RC.conv_lstm_step(xs[:, t], h, c, weights, strides=geo.strides,
                                 dilation=geo.dilation_rate, padding=geo.padding,
                                 act=np.tanh, ract=R.get_activation("sigmoid"))
        hs.append(h)
    return np.stack(hs, 1), h, c


CASES = [  # B, T, spatial, C, F, kernel, strides, dilation, padding, bias, reverse
    (3, 4, (7, 9), 5, 6, (3, 3), (1, 1), (1, 1), "same", True, False),
    (1, 3, (16, 13), 8, 32, (3, 3), (1, 1), (1, 1), "same", True, False),
    (5, 3, (6, 5), 3, 7, (2, 3), (1, 1), (1, 1), "same", True, True),
    (2, 3, (9, 11), 4, 5, (3, 3), (2, 3), (1, 1), "same", False, False),
    (3, 3, (9, 11), 4, 5, (3, 3), (1, 1), (2, 2), "valid", True, True),
    (2, 3, (9, 11), 2, 3, (3, 2), (2, 1), (1, 1), "valid", False, False),
    (7, 3, (13,), 5, 6, (3,), (1,), (1,), "same", True, False),
    (3, 2, (9,), 3, 17, (4,), (2,), (1,), "valid", True, True),
    (2, 2, (4, 5, 6), 3, 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), "same", True, False),
    (3, 2, (5, 6, 7), 3, 17, (3, 2, 3), (1, 2, 1), (1, 1, 2), "valid", True, False),
    (2, 2, (3, 30), 2, 33, (1, 5), (1, 1), (1, 1), "same", True, False),
]


@pytest.mark.parametrize("threads", [0, 2, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"B{c[0]}-S{'x'.join(map(str, c[2]))}"
                         f"-F{c[4]}-k{''.join(map(str, c[5]))}-{c[8]}")
def test_native_loop_matches_numpy_and_xla(case, threads, monkeypatch):
    B, T, S, C, F, k, strides, dil, pad, bias, reverse = case
    geo, params, state, xs = _problem(B, T, S, C, F, k, strides, dil, pad, bias)
    monkeypatch.setattr(K, "NATIVE_THREADS", threads)
    assert K.native_applies(params, state, xs, jnp.tanh, jax.nn.sigmoid)
    calls = []
    monkeypatch.setattr(K, "_native_call", lambda *a, _f=K._native_call: calls.append(1) or _f(*a))

    def run(p, st, x):
        return K.conv_lstm_sequence(p, st, x, geometry=geo, reverse=reverse,
                                    return_sequences=True)

    last, seq, final = jax.jit(run)(params, state, xs)
    assert calls, "the native loop did not run"
    want_seq, want_h, want_c = _reference(geo, params, state, xs, reverse)
    np.testing.assert_allclose(np.asarray(seq), want_seq, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(last), want_h, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(final.h), want_h, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(final.c), want_c, atol=ATOL, rtol=0)
    config.set_native_kernels(False)
    try:
        x_last, _, x_final = jax.jit(run)(params, state, xs)
    finally:
        config.set_native_kernels(True)
    np.testing.assert_allclose(np.asarray(last), np.asarray(x_last), atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(final.c), np.asarray(x_final.c), atol=ATOL, rtol=0)


def test_fallback_rule():
    geo, params, state, xs = _problem(2, 3, (5, 6), 3, 4, (3, 3), (1, 1), (1, 1), "same", True)
    ok = K.native_applies
    assert ok(params, state, xs, jnp.tanh, jax.nn.sigmoid)
    assert ok(params, state, xs, jax.nn.sigmoid, jnp.tanh)
    mask = jnp.ones((2, 3), bool)
    assert not ok(params, state, xs, jnp.tanh, jax.nn.sigmoid, mask=mask)
    drop = jnp.ones((4,) + xs.shape[:1] + xs.shape[2:])
    assert not ok(params, state, xs, jnp.tanh, jax.nn.sigmoid, input_masks=drop)
    assert not ok(params, state, xs, jnp.tanh, jax.nn.sigmoid,
                  recurrent_masks=jnp.ones((4,) + state.h.shape))
    assert not ok(params, state, xs, jax.nn.relu, jax.nn.sigmoid)
    assert not ok(params, state, xs.astype(jnp.bfloat16), jnp.tanh, jax.nn.sigmoid)
    config.set_native_kernels(False)
    try:
        assert not ok(params, state, xs, jnp.tanh, jax.nn.sigmoid)
    finally:
        config.set_native_kernels(True)


@pytest.mark.parametrize("batch", [1, 3])
def test_layer_states_backwards_stateful(batch):
    kwargs = dict(filters=5, kernel_size=3, padding="same", return_sequences=True,
                  return_state=True, go_backwards=True)
    x = _rand(batch, 4, 9, 7, 3)
    layer = L.ConvLSTM2D(**kwargs)
    layer.build(x.shape)
    layer.set_weights([_rand(*w.shape, scale=0.3) for w in layer.weights])
    ref = RC.RefConvLSTM({"__class__": "ConvLSTM2D", "kwargs": kwargs})
    ref.set_weights(layer.get_weights())
    init = [_rand(batch, 9, 7, 5, scale=0.5), _rand(batch, 9, 7, 5, scale=0.5)]
    got = layer(x, initial_state=init)
    for g, w in zip(got, ref(x, initial_state=init)):
        np.testing.assert_allclose(np.asarray(g), w, atol=ATOL, rtol=0)

    kwargs = dict(filters=4, kernel_size=(3, 2), stateful=True)
    layer = L.ConvLSTM2D(**kwargs)
    layer.build(x.shape)
    layer.set_weights([_rand(*w.shape, scale=0.3) for w in layer.weights])
    ref = RC.RefConvLSTM({"__class__": "ConvLSTM2D", "kwargs": kwargs})
    ref.set_weights(layer.get_weights())
    for _ in range(2):  # the second call starts from the first call's final states
        np.testing.assert_allclose(np.asarray(layer(x)), ref(x), atol=ATOL, rtol=0)


def test_gradients_run_the_xla_vjp_and_match_autodiff():
    geo, params, state, xs = _problem(3, 3, (6, 5), 2, 4, (3, 3), (1, 1), (1, 1), "same", True)

    def loss(p, st, x, fused):
        last, seq, final = K.conv_lstm_sequence(p, st, x, geometry=geo, reverse=True,
                                                return_sequences=True, fused=fused)
        return jnp.sum(seq ** 2) + jnp.sum(jnp.sin(last)) + jnp.sum(final.c * 0.3)

    got = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=3)(params, state, xs, True)
    want = jax.jit(jax.grad(loss, argnums=(0, 1, 2)), static_argnums=3)(params, state, xs,
                                                                         False)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=2e-5, rtol=1e-5)
