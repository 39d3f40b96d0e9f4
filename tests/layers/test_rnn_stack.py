"""Consecutive LSTM layers as one stacked kernel call (rnnkit.layers.rnn_stack,
rnnkit.core.fused.stacked_rnn, lstm_stack.cc).

- A model whose LSTM layers feed each other runs them as one wavefront call at inference;
  the result is the per-layer result (to float32 rounding of a different GEMM row split).
- Every thread layout of the kernel (one thread, one per layer, layers grouped on fewer
  threads, row groups) and every split of the input projection between two threads gives
  the per-layer values; initial states and gradients go through.
- Chains that do not qualify (a mask, go_backwards, training, a branch, return_state,
  another cell kind) run layer by layer.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import config
from rnnkit import layers as L
from rnnkit import models
from rnnkit.core import engines, fused
from rnnkit.core.kernels import get_kernel
from rnnkit.layers import rnn_stack
from rnnkit.models import functional


@pytest.fixture(autouse=True)
def _stacking_on(monkeypatch):
    """The native loops or a skip; stacked calls switched on, for any machine: 8 cores and
    no minimum of work (the kernel itself still uses the cores it finds)."""
    if "native" not in engines.available_engines(get_kernel("lstm"), "float32"):
        pytest.skip("the native LSTM loops do not run on this machine")
    monkeypatch.setattr(fused, "cores", lambda: 8)
    monkeypatch.setattr(fused, "STACK_MIN_MACS", 0)
    was = config.stacked_layers_enabled()
    config.set_stacked_layers(True)
    yield
    config.set_stacked_layers(was)


@pytest.fixture
def stacked(monkeypatch):
    """Records (number of layers, ran as one call) for every chain the graph tries."""
    calls = []
    real = rnn_stack.stack_call

    def spy(layers, x, training=None):
        out = real(layers, x, training)
        calls.append((len(layers), out is not None))
        return out

    monkeypatch.setattr(functional, "stack_call", spy)
    return calls


def _layer_by_layer(model, x, monkeypatch):
    """The model's output with every layer called on its own (same weights)."""
    twin = models.Sequential.from_config(model.get_config())
    twin.set_weights(model.get_weights())
    with monkeypatch.context() as m:
        m.setattr(functional, "stack_call", lambda *a, **k: None)
        return np.asarray(twin.predict_on_batch(x))


def _xla(model, x):
    config.set_native_kernels(False)
    try:
        twin = models.Sequential.from_config(model.get_config())
        twin.set_weights(model.get_weights())
        return np.asarray(twin.predict_on_batch(x))
    finally:
        config.set_native_kernels(True)


# batch 1: the GEMV; 5 and 13: partial register blocks; 3 layers on a 2-core machine: two
# layers share a thread
@pytest.mark.parametrize("units,last_sequences,batch", [
    ((16, 24), False, 1),
    ((16, 24), True, 5),
    ((32, 32), False, 13),
    ((24, 8, 40), True, 20),
    ((40, 40, 40), False, 13),
])
def test_stacked_model_matches_layer_by_layer(stacked, monkeypatch, units, last_sequences,
                                              batch):
    rng = np.random.default_rng(len(units) * 100 + batch)
    layers = [L.LSTM(u, return_sequences=i < len(units) - 1 or last_sequences)
              for i, u in enumerate(units)]
    model = models.Sequential([L.Input(shape=(11, 6)), *layers, L.Dense(3)])
    for w in model.weights:  # biases and all: every weight nonzero
        w.assign(rng.normal(scale=0.4, size=w.shape).astype(np.float32))
    x = rng.normal(size=(batch, 11, 6)).astype(np.float32)
    got = np.asarray(model.predict_on_batch(x))
    assert stacked == [(len(units), True)]
    np.testing.assert_allclose(got, _layer_by_layer(model, x, monkeypatch), atol=1e-6,
                               rtol=0)
    np.testing.assert_allclose(got, _xla(model, x), atol=2e-6, rtol=1e-5)


def _chain(units, x, seed, last_sequences=True, zero_states=False):
    rng = np.random.default_rng(seed)
    layers, setups, seq = [], [], x
    for i, u in enumerate(units):
        layer = L.LSTM(u, return_sequences=i < len(units) - 1 or last_sequences)
        layer(seq)
        for w in layer.weights:
            w.assign(rng.normal(scale=0.4, size=w.shape).astype(np.float32))
        cfg, params, _ = layer.fused_setup(seq, None, False)
        states = tuple(jnp.zeros((x.shape[0], u)) if zero_states else
                       jnp.asarray(rng.normal(size=(x.shape[0], u)).astype(np.float32))
                       for _ in range(2))
        setups.append((cfg, params, states))
        seq = layer(seq, initial_state=list(states)) if i < len(units) - 1 else None
        layers.append(layer)
    return setups


def _per_layer(setups, x):
    seq, finals = x, []
    for cfg, params, states in setups:
        _, seq, final = fused.fused_rnn(cfg, params, seq, states)
        finals.append(final)
    return seq, finals


def _stacked_vs_per_layer(setups, x, threads):
    """Runs the chain as one stacked call on `threads` threads, asserts its final states
    equal the per-layer ones (1e-6) and returns (stacked hs, per-layer hs)."""
    cfgs = [dataclasses.replace(c, plan=dataclasses.replace(c.plan, threads=threads))
            for c, _, _ in setups]
    hs, finals = fused.stacked_rnn(cfgs, [p for _, p, _ in setups], x,
                                   [s for _, _, s in setups])
    want_hs, want_finals = _per_layer(setups, x)
    for got, want in zip(finals, want_finals):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    return hs, want_hs


# threads 1: all layers on one thread; 2: layers grouped on two threads; 3: one per layer;
# 4: one per layer (and the spare one unused); moved: how many panels of a layer's input
# projection the thread below computes. One thread has no thread below (moved has no
# effect), and 4 threads lay 3 layers out as 3 do (lstm_stack.cc): the splits run at 2 and 3.
@pytest.mark.parametrize("threads,moved", [(1, "auto"), (2, "auto"), (2, "0"), (2, "5"),
                                           (3, "auto"), (3, "0"), (3, "5"), (4, "auto")])
def test_every_thread_layout_and_split_gives_per_layer_values(monkeypatch, threads, moved):
    if moved != "auto":
        monkeypatch.setenv("RNNKIT_STACK_MOVED", moved)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(17, 9, 5)).astype(np.float32))
    setups = _chain((24, 40, 16), x, seed=threads)
    hs, want_hs = _stacked_vs_per_layer(setups, x, threads)
    np.testing.assert_allclose(hs, want_hs, atol=1e-6, rtol=0)


def test_row_groups_split_the_batch_when_threads_outnumber_layers():
    # 2 layers on 4 threads: two row groups, each a wavefront of its own
    x = jnp.asarray(np.random.default_rng(2).normal(size=(19, 7, 3)).astype(np.float32))
    setups = _chain((16, 8), x, seed=3, last_sequences=False)
    hs, _ = _stacked_vs_per_layer(setups, x, threads=4)
    assert hs is None


def test_stacked_gradients_match_per_layer():
    x = jnp.asarray(np.random.default_rng(4).normal(size=(6, 8, 5)).astype(np.float32))
    setups = _chain((12, 20), x, seed=5, last_sequences=False)
    cfgs = [c for c, _, _ in setups]

    def loss_stacked(params, x, states):
        _, finals = fused.stacked_rnn(cfgs, params, x, states)
        return jnp.sum(finals[-1][0] ** 2) + jnp.sum(finals[0][1])

    def loss_layers(params, x, states):
        _, finals = _per_layer([(c, p, s) for c, p, s in zip(cfgs, params, states)], x)
        return jnp.sum(finals[-1][0] ** 2) + jnp.sum(finals[0][1])

    args = ([p for _, p, _ in setups], x, [s for _, _, s in setups])
    got = jax.jit(jax.grad(loss_stacked, argnums=(0, 1, 2)))(*args)
    want = jax.jit(jax.grad(loss_layers, argnums=(0, 1, 2)))(*args)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-6)


def _two_lstm_model(**first):
    return models.Sequential([L.Input(shape=(7, 4)),
                              L.LSTM(8, return_sequences=True, **first),
                              L.LSTM(6), L.Dense(1)])


@pytest.mark.parametrize("first", [dict(go_backwards=True), dict(return_state=False,
                                                                  time_major=False,
                                                                  activation="relu")])
def test_ineligible_layers_run_one_by_one(stacked, monkeypatch, first):
    model = _two_lstm_model(**first)
    x = np.random.default_rng(7).normal(size=(5, 7, 4)).astype(np.float32)
    got = np.asarray(model.predict_on_batch(x))
    assert all(not ran for _, ran in stacked)  # never chained, or the chain declined
    np.testing.assert_allclose(got, _layer_by_layer(model, x, monkeypatch), atol=1e-6)


def test_mask_training_and_branches_fall_back(stacked):
    x = np.random.default_rng(8).normal(size=(4, 7, 4)).astype(np.float32)
    x[:, 5:] = 0.0
    masked = models.Sequential([L.Input(shape=(7, 4)), L.Masking(), L.LSTM(8,
                                return_sequences=True), L.LSTM(6)])
    masked.predict_on_batch(x)
    assert stacked == []  # a mask reaches the chain: layer by layer

    model = _two_lstm_model()
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, np.zeros((4, 1), np.float32))
    assert stacked == [(2, False)]  # training: layer by layer
    stacked.clear()

    inp = L.Input(shape=(7, 4))
    h = L.LSTM(8, return_sequences=True)(inp)
    branch = models.Model(inp, [L.LSTM(6)(h), L.Flatten()(h)])
    branch.predict_on_batch(x)
    assert stacked == []  # the first layer's output has two users: no chain

    mixed = models.Sequential([L.Input(shape=(7, 4)), L.LSTM(8, return_sequences=True),
                               L.GRU(6)])
    mixed.predict_on_batch(x)
    assert stacked == [(2, False)]  # an LSTM under a GRU: two kinds, layer by layer


def test_large_batches_and_the_switch_keep_the_batch_split(stacked, monkeypatch):
    model = _two_lstm_model()
    x = np.random.default_rng(9).normal(size=(16, 7, 4)).astype(np.float32)
    monkeypatch.setattr(fused, "cores", lambda: 2)
    model.predict_on_batch(x)  # 16 rows: the batch split already uses both cores
    assert stacked == [(2, False)]
    stacked.clear()
    config.set_stacked_layers(False)
    _two_lstm_model().predict_on_batch(x[:4])
    assert stacked == [(2, False)]


def test_stack_setup_rule():
    x = jnp.zeros((3, 5, 4))
    a, b = L.LSTM(8, return_sequences=True), L.LSTM(6)
    b(a(x))
    assert rnn_stack.stack_setup([a, b], x) is not None
    assert rnn_stack.stack_setup([a], x) is None  # one layer
    assert rnn_stack.stack_setup([a, b], x, training=True) is None
    assert rnn_stack.stack_setup([b, a], jnp.zeros((3, 5, 8))) is None  # b returns (B, H)
    assert rnn_stack.stack_setup([a, b], x.astype(jnp.float16)) is None
    c = L.LSTM(6, return_state=True)
    c(a(x))
    assert rnn_stack.stack_setup([a, c], x) is None
