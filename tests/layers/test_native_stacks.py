"""Stacked and bidirectional LSTM layers on the native loops (rnnkit.core.native).

- The native LSTM reads x and writes its output sequence batch-major, so a 2-layer stack
  compiles with no transpose between (or around) the layers.
- `Bidirectional(LSTM)` runs both directions in one kernel call
  (`rnnkit.core.fused.bidirectional_rnn`): the same values and gradients as the two layer
  calls, and the two-call path wherever the one call does not apply (a mask, dropout in
  training).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import config
from rnnkit import layers as L
from rnnkit import models
from rnnkit.core import engines, fused
from rnnkit.core.kernels import get_kernel


def _native_or_skip():
    if "native" not in engines.available_engines(get_kernel("lstm"), "float32"):
        pytest.skip("the native LSTM loops do not run on this machine")


@pytest.fixture
def fused_calls(monkeypatch):
    calls = []
    real = fused.bidirectional_rnn

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(fused, "bidirectional_rnn", spy)
    return calls


def _two_calls(layer, x, initial_state=None):
    """What Bidirectional computes, from two separate LSTM layers with its weights."""
    cfg = layer.forward_layer.get_config()
    kw = dict(units=cfg["units"], return_sequences=cfg["return_sequences"],
              return_state=True)
    f, b = L.LSTM(**kw), L.LSTM(go_backwards=True, **kw)
    f(x), b(x)
    f.set_weights(layer.forward_layer.get_weights())
    b.set_weights(layer.backward_layer.get_weights())
    states = [None, None] if initial_state is None else [initial_state[:2], initial_state[2:]]
    fo, bo = f(x, initial_state=states[0]), b(x, initial_state=states[1])
    fs, bs = fo[0], (jnp.flip(bo[0], 1) if kw["return_sequences"] else bo[0])
    return fs, bs, list(fo[1:]) + list(bo[1:])


# 13 rows: one thread runs both directions (>= 8 rows per thread), partial register blocks;
# 16 rows: one thread per direction on two or more cores
@pytest.mark.parametrize("return_sequences,merge_mode,batch", [
    (False, "concat", 13), (True, "concat", 16), (True, "ave", 13), (False, "ave", 16),
    (True, None, 16), (False, None, 13)])
def test_bidirectional_one_call_matches_two_layer_calls(fused_calls, return_sequences,
                                                        merge_mode, batch):
    _native_or_skip()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(batch, 6, 5)).astype(np.float32)
    h0 = [rng.normal(size=(batch, 7)).astype(np.float32) * 0.5 for _ in range(4)]
    layer = L.Bidirectional(L.LSTM(7, return_sequences=return_sequences, return_state=True),
                            merge_mode=merge_mode)
    out = layer(x, initial_state=h0)
    assert len(fused_calls) == 1
    fs, bs, states = _two_calls(layer, x, h0)
    merged = {"concat": [jnp.concatenate([fs, bs], -1)], "ave": [(fs + bs) / 2],
              None: [fs, bs]}[merge_mode]
    assert len(out) == len(merged) + 4
    for got, want in zip(out, merged + states):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6, rtol=1e-6)


def test_bidirectional_one_call_gradients_match_two_calls(fused_calls):
    _native_or_skip()
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(16, 5, 3)).astype(np.float32))
    layer = L.Bidirectional(L.LSTM(6, return_sequences=True))
    layer(x)
    fused_calls.clear()
    cfg, pf, sf = layer.forward_layer.fused_setup(x)
    _, pb, sb = layer.backward_layer.fused_setup(x)
    sf = tuple(s + 0.3 for s in sf)

    def loss(run, pf, pb, x, sf, sb):
        hs, final_f, final_b = run(pf, pb, x, sf, sb)
        return (jnp.sum(jnp.sin(hs)) + jnp.sum(final_f[1] ** 2)
                + jnp.sum(jnp.cos(final_b[0])))

    def one_call(pf, pb, x, sf, sb):
        return fused.bidirectional_rnn(cfg, pf, pb, x, sf, sb)

    def two_calls(pf, pb, x, sf, sb):
        _, ys_f, final_f = fused.fused_rnn(cfg, pf, x, sf)
        _, ys_b, final_b = fused.fused_rnn(cfg, pb, x, sb, reverse=True)
        return jnp.concatenate([ys_f, jnp.flip(ys_b, 1)], -1), final_f, final_b

    args = (pf, pb, x, sf, sb)
    grads = [jax.jit(jax.grad(lambda *a, run=run: loss(run, *a), argnums=(0, 1, 2, 3, 4)))(*args)
             for run in (one_call, two_calls)]
    assert len(fused_calls) == 1
    for got, want in zip(*(jax.tree_util.tree_leaves(g) for g in grads)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-6, rtol=1e-5)


def test_bidirectional_falls_back_to_two_calls(fused_calls):
    _native_or_skip()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 6, 3)).astype(np.float32)
    mask = np.ones((8, 6), bool)
    mask[:3, 4:] = False
    layer = L.Bidirectional(L.LSTM(4, return_sequences=True))
    masked = layer(x, mask=mask)
    dropped = L.Bidirectional(L.LSTM(4, dropout=0.5))
    dropped(x, training=True)
    narrower = L.Bidirectional(L.LSTM(4), backward_layer=L.LSTM(3, go_backwards=True))
    assert narrower(x).shape == (8, 7)
    assert not fused_calls
    dropped(x)  # inference: no dropout, one call
    assert len(fused_calls) == 1
    fs, bs, _ = _two_calls(layer, x)
    np.testing.assert_allclose(np.asarray(masked[3:]),  # the rows without padding
                               np.asarray(jnp.concatenate([fs, bs], -1)[3:]), atol=1e-6)


def test_stacked_lstm_compiles_without_transposes():
    _native_or_skip()
    model = models.Sequential([L.Input(shape=(9, 4)), L.LSTM(8, return_sequences=True),
                               L.LSTM(8, return_sequences=True), L.LSTM(8), L.Dense(1)])
    x = np.random.default_rng(6).normal(size=(16, 9, 4)).astype(np.float32)
    got = model.predict_on_batch(x)
    hlo = jax.jit(lambda x: model(x)).lower(x).compile().as_text()
    assert " transpose(" not in hlo
    config.set_native_kernels(False)
    try:
        ref = models.Sequential([L.Input(shape=(9, 4)), L.LSTM(8, return_sequences=True),
                                 L.LSTM(8, return_sequences=True), L.LSTM(8), L.Dense(1)])
        ref.set_weights(model.get_weights())
        want = ref.predict_on_batch(x)
    finally:
        config.set_native_kernels(True)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-6, rtol=1e-5)
