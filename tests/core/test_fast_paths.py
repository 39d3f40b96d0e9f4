"""The fused recurrent kernels (rnnkit.core.fused) against the reference path.

The reference is `rnnkit.core.scan.scan_rnn` over the pure cell steps of
`rnnkit.core.cells`, differentiated by JAX autodiff. Values must agree to float32 rounding
and gradients (params, inputs, initial states, recurrent-dropout mask) to ~1e-6, on random
shapes, masks, go_backwards, initial states, dropout masks, activations and both GRU modes.
No timings are asserted.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnkit
from rnnkit import activations as A
from rnnkit import config
from rnnkit.core import cells, fused, policy
from rnnkit.core.scan import scan_rnn

KINDS = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_v1": 3}


def _params(kind, D, H, bias, rng):
    g = KINDS[kind] * H
    W = rng.normal(size=(D, g)).astype(np.float32) * (1.0 / np.sqrt(D))
    U = rng.normal(size=(H, g)).astype(np.float32) * (1.0 / np.sqrt(H))
    if not bias:
        b = None
    elif kind == "gru":
        b = rng.normal(size=(2, g)).astype(np.float32) * 0.3
    else:
        b = rng.normal(size=(g,)).astype(np.float32) * 0.3
    cls = {"simple_rnn": cells.SimpleRNNParams, "lstm": cells.LSTMParams,
           "gru": cells.GRUParams, "gru_v1": cells.GRUParams}[kind]
    return cls(jnp.asarray(W), jnp.asarray(U), None if b is None else jnp.asarray(b))


def _ref_run(kind, act, ract, p, x, state0, mask, in_mask, rec_mask, reverse, zero_out, ret):
    if kind == "lstm":
        def step(st, x_t):
            return cells.lstm_step(p, st, x_t, activation=act, recurrent_activation=ract,
                                   input_mask=in_mask, recurrent_mask=rec_mask)
        state0 = cells.LSTMState(*state0)
    elif kind in ("gru", "gru_v1"):
        def step(h, x_t):
            return cells.gru_step(p, h, x_t, reset_after=kind == "gru", activation=act,
                                  recurrent_activation=ract, input_mask=in_mask,
                                  recurrent_mask=rec_mask)
    else:
        def step(h, x_t):
            return cells.simple_rnn_step(p, h, x_t, activation=act, input_mask=in_mask,
                                         recurrent_mask=rec_mask)
    last, ys, final = scan_rnn(step, state0, x, mask=mask, reverse=reverse,
                               zero_output_for_mask=zero_out, return_sequences=ret)
    if kind == "lstm":
        final = (final.h, final.c)
    return last, ys, final


def _fast_run(kind, act, ract, p, x, state0, mask, in_mask, rec_mask, reverse, zero_out, ret,
              plan):
    cfg = fused.SeqConfig(kind, fused.Act(act), None if ract is None else fused.Act(ract),
                          ret, plan)
    # the kernels take and return the state as a tuple: (h,) or (h, c)
    states = tuple(state0) if isinstance(state0, tuple) else (state0,)
    last, ys, final = fused.fused_rnn(cfg, p, x, states, mask=mask, input_mask=in_mask,
                                      rec_mask=rec_mask, reverse=reverse,
                                      zero_output_for_mask=zero_out)
    return last, ys, (final if isinstance(state0, tuple) else final[0])


def _loss_weights(rng, out):
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(rng.normal(size=a.shape).astype(np.float32)), out)


CASES = [
    # kind, B, T, D, H, act, ract, bias, mask, backwards, init, dropout, zero_out, ret, concat
    ("lstm", 3, 6, 4, 5, "tanh", "sigmoid", True, False, False, False, False, False, True, False),
    ("lstm", 4, 7, 3, 6, "tanh", "sigmoid", True, True, True, True, True, False, True, False),
    ("lstm", 2, 5, 3, 4, "relu", "hard_sigmoid", False, True, False, True, False, True, True,
     True),
    ("lstm", 1, 4, 2, 3, "tanh", "sigmoid", True, True, False, True, True, False, False, True),
    ("gru", 3, 6, 4, 5, "tanh", "sigmoid", True, True, True, True, True, False, True, False),
    ("gru", 2, 5, 3, 4, "selu", "hard_sigmoid", False, False, False, True, False, False, True,
     True),
    ("gru", 4, 3, 2, 3, "tanh", "sigmoid", True, True, False, False, False, True, False, True),
    ("gru_v1", 3, 6, 4, 5, "tanh", "sigmoid", True, True, True, True, True, False, True,
     False),
    ("gru_v1", 2, 5, 3, 4, "softsign", "hard_sigmoid", False, False, True, True, False, False,
     True, True),
    ("gru_v1", 1, 4, 2, 3, "tanh", "sigmoid", True, True, False, False, True, True, True, True),
    ("simple_rnn", 3, 6, 4, 5, "tanh", None, True, True, True, True, True, False, True, False),
    ("simple_rnn", 2, 5, 3, 4, "relu", None, False, True, False, True, False, True, True, True),
    ("simple_rnn", 4, 3, 2, 3, "linear", None, True, False, False, False, True, False, False,
     False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c[:5])))
def test_fused_matches_reference_values_and_grads(case):
    check_case(case, policy.Plan(infer_unroll=2, fwd_unroll=1, bwd_unroll=2, concat=case[-1]))


def check_case(case, plan):
    """Values and gradients of the fused kernel under `plan` against the reference path."""
    kind, act, ract, backwards, zero_out, ret, args, masks, ref_out, weights, g_ref = \
        _reference(case)
    mask, in_mask = masks

    def run(fn, args):
        p, x, state0, rec_mask = args
        extra = (plan,) if fn is _fast_run else ()
        return fn(kind, act, ract, p, x, state0, mask, in_mask, rec_mask, backwards, zero_out,
                  ret, *extra)

    fast_out = jax.jit(lambda a: run(_fast_run, a))(args)
    for r, f in zip(jax.tree_util.tree_leaves(ref_out), jax.tree_util.tree_leaves(fast_out)):
        np.testing.assert_allclose(np.asarray(f), np.asarray(r), atol=2e-6, rtol=1e-5)
    assert jax.tree_util.tree_structure(ref_out) == jax.tree_util.tree_structure(fast_out)

    def loss(fn, a):
        out = run(fn, a)
        return sum(jnp.sum(o * w) for o, w in zip(jax.tree_util.tree_leaves(out),
                                                    jax.tree_util.tree_leaves(weights)))

    g_fast = jax.jit(jax.grad(lambda a: loss(_fast_run, a)))(args)
    for r, f in zip(jax.tree_util.tree_leaves(g_ref), jax.tree_util.tree_leaves(g_fast)):
        r, f = np.asarray(r), np.asarray(f)
        scale = max(1.0, float(np.max(np.abs(r))))
        np.testing.assert_allclose(f, r, atol=2e-6 * scale, rtol=1e-5)
    assert jax.tree_util.tree_structure(g_ref) == jax.tree_util.tree_structure(g_fast)


def thread_settings(batch):
    """The thread counts to check a native loop at for `batch` rows: 1, 0 (one per core,
    >= 8 rows each) and 3, less those that split the batch exactly as one thread does on
    any machine (the loops read `threads` only through row_block_count in rnn_common.h):
    0 below 16 rows, and 3 at batch 1."""
    return [t for t in (1, 0, 3) if not (t == 0 and batch < 16) and not (t == 3 and batch == 1)]


@functools.lru_cache(maxsize=None)
def _reference(case):
    """A case's inputs, reference values, loss weights and reference gradients: computed
    once per case, since the reference does not depend on the plan (tests/core/test_native.py
    checks each case under several thread counts against the same reference)."""
    (kind, B, T, D, H, act_name, ract_name, bias, use_mask, backwards, use_init, dropout,
     zero_out, ret, concat) = case
    rng = np.random.default_rng(abs(hash(case)) % (2 ** 32))
    act = A.get(act_name)
    ract = None if ract_name is None else A.get(ract_name)
    p = _params(kind, D, H, bias, rng)
    x = jnp.asarray(rng.normal(size=(B, T, D)).astype(np.float32))
    if use_init:
        h0 = jnp.asarray(rng.normal(size=(B, H)).astype(np.float32) * 0.5)
        c0 = jnp.asarray(rng.normal(size=(B, H)).astype(np.float32) * 0.5)
    else:
        h0 = c0 = jnp.zeros((B, H), jnp.float32)
    state0 = (h0, c0) if kind == "lstm" else h0
    mask = None
    if use_mask:
        m = rng.random((B, T)) > 0.35
        m[0, :2] = False  # leading masked steps: the output is zeros until the first step
        if B > 1:
            m[1, :] = False  # a fully masked row
        mask = jnp.asarray(m)
    in_mask = rec_mask = None
    if dropout:
        in_mask = jnp.asarray((rng.random((B, D)) > 0.3).astype(np.float32) / 0.7)
        rec_mask = jnp.asarray((rng.random((B, H)) > 0.3).astype(np.float32) / 0.7)

    def run(a):
        p, x, state0, rec_mask = a
        return _ref_run(kind, act, ract, p, x, state0, mask, in_mask, rec_mask, backwards,
                        zero_out, ret)

    args = (p, x, state0, rec_mask)
    ref_out = jax.jit(run)(args)
    weights = _loss_weights(rng, ref_out)

    def loss(a):
        return sum(jnp.sum(o * w) for o, w in zip(jax.tree_util.tree_leaves(run(a)),
                                                    jax.tree_util.tree_leaves(weights)))

    g_ref = jax.jit(jax.grad(loss))(args)
    return (kind, act, ract, backwards, zero_out, ret, args, (mask, in_mask), ref_out,
            weights, g_ref)


# --- layer level: RNN.call dispatch, fast path vs reference path ------------------------

from rnnkit import layers as L  # noqa: E402

LAYER_CASES = [
    # (layer, kwargs, call kwargs: mask / initial_state / training, time_major)
    ("LSTM", dict(return_sequences=True, go_backwards=True), dict(mask=True, init=True), False),
    ("LSTM", dict(return_state=True, use_bias=False, unroll=True), dict(), False),
    ("LSTM", dict(dropout=0.3, recurrent_dropout=0.2, seed=3, return_sequences=True),
     dict(training=True), False),
    ("GRU", dict(return_sequences=True, zero_output_for_mask=True), dict(mask=True), False),
    ("GRU", dict(reset_after=False, go_backwards=True, return_state=True),
     dict(mask=True, init=True), False),
    ("GRU", dict(recurrent_dropout=0.25, seed=5, reset_after=False), dict(training=True),
     False),
    ("SimpleRNN", dict(activation="relu", return_sequences=True, time_major=True),
     dict(mask=True), True),
    ("SimpleRNN", dict(dropout=0.2, recurrent_dropout=0.2, seed=1), dict(training=True,
                                                                          init=True), False),
]


def _layer_run(layer_name, kwargs, call, time_major, fast, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    B, T, D, H = 3, 6, 4, 5
    config.set_fast_paths(fast)
    try:
        rnnkit.set_random_seed(7)
        layer = getattr(L, layer_name)(H, **kwargs)
        shape = (T, B, D) if time_major else (B, T, D)
        x = rng.normal(size=shape).astype(np.float32)
        layer.build(shape)
        ckw = {}
        if call.get("mask"):
            m = rng.random((B, T)) > 0.3
            m[0, :2] = False
            ckw["mask"] = m
        if call.get("init"):
            n = 2 if layer_name == "LSTM" else 1
            ckw["initial_state"] = [rng.normal(size=(B, H)).astype(np.float32)
                                    for _ in range(n)]
        if call.get("training"):
            ckw["training"] = True
        values = [v.value for v in layer.variables]  # before the call: same dropout seed
        out = layer(x, **ckw)
        n_train = len(layer.trainable_weights)

        def loss(train_vals):
            o, _, _ = layer.stateless_call(list(train_vals) + values[n_train:], x, **ckw)
            return sum(jnp.sum(jnp.sin(t)) for t in jax.tree_util.tree_leaves(o))

        grads = jax.jit(jax.grad(loss))(values[:n_train])
        return out, grads
    finally:
        config.set_fast_paths(True)


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: f"{c[0]}-{sorted(c[1])}")
def test_layer_fast_path_matches_reference(case):
    name, kwargs, call, time_major = case
    out_f, g_f = _layer_run(name, kwargs, call, time_major, fast=True)
    out_r, g_r = _layer_run(name, kwargs, call, time_major, fast=False)
    for f, r in zip(jax.tree_util.tree_leaves(out_f), jax.tree_util.tree_leaves(out_r)):
        np.testing.assert_allclose(np.asarray(f), np.asarray(r), atol=2e-6, rtol=1e-5)
    for f, r in zip(g_f, g_r):
        r = np.asarray(r)
        np.testing.assert_allclose(np.asarray(f), r, rtol=1e-5,
                                   atol=2e-6 * max(1.0, float(np.max(np.abs(r)))))


def test_fast_path_dispatch_rules():
    from rnnkit.layers.rnn import _fusable_cell

    assert _fusable_cell(L.LSTMCell(3)) and _fusable_cell(L.GRUCell(3))
    assert _fusable_cell(L.SimpleRNNCell(3))

    class Renamed(L.LSTMCell):  # overrides nothing that computes: still fused
        pass

    class Custom(L.GRUCell):  # own step: the reference path runs it
        def rnn_step(self, batch, input_dim, training):
            return super().rnn_step(batch, input_dim, training)

    assert _fusable_cell(Renamed(3)) and not _fusable_cell(Custom(3))
    # a stack of cells and float64-free custom cells go through the reference path
    assert not _fusable_cell(L.StackedRNNCells([L.LSTMCell(2), L.LSTMCell(2)]))


def test_policy_plans():
    p = policy.plan("lstm", 1, 100, 8, 64)
    assert p.concat and p.infer_unroll == 1 and p.devices == 1
    p = policy.plan("gru", 64, 100, 64, 256)
    assert not p.concat and p.infer_unroll == policy.INFER_UNROLL_WIDE
    assert p.fwd_unroll == 1 and p.bwd_unroll == 1
    assert policy.plan("lstm", 4, 3, 2, 2, user_unroll=True).infer_unroll == 3
    assert policy.plan("simple_rnn", 16, 1000, 32, 128).infer_unroll == 1


def test_bf16_policy_is_close_and_float32_out():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 20, 8)).astype(np.float32)
    a = L.LSTM(16, return_sequences=True)
    b = L.LSTM(16, return_sequences=True, dtype="mixed_bfloat16")
    a.build(x.shape)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    ya, yb = np.asarray(a(x)), np.asarray(b(x))
    assert yb.dtype == np.float32 and b.get_config()["dtype"] == "mixed_bfloat16"
    err = float(np.max(np.abs(ya - yb)))
    assert 0 < err < 2e-2


def test_config_errors_and_cache(tmp_path):
    with pytest.raises(ValueError, match="positive int"):
        config.set_cpu_devices(0)
    jnp.zeros(1).block_until_ready()  # the backend is running now
    n = jax.local_device_count()
    config.set_cpu_devices(n)  # the current count is accepted
    with pytest.raises(RuntimeError, match="before JAX initialises"):
        config.set_cpu_devices(n + 1)
    with pytest.raises(ValueError, match="dtype policy"):
        config.set_dtype_policy("float8")
    before = jax.config.jax_compilation_cache_dir
    try:
        assert config.enable_compilation_cache(tmp_path / "cc") == str(tmp_path / "cc")
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cc")
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
        config._state["compilation_cache"] = None


_SPLIT_SCRIPT = r"""
import numpy as np, rnnkit
from rnnkit import config, layers as L, models as M, optimizers as O
import jax
assert jax.device_count() == 2 and config.cpu_devices() == 2
rng = np.random.default_rng(0)
x = rng.normal(size=(8, 7, 3)).astype(np.float32)
y = rng.normal(size=(8, 1)).astype(np.float32)
res = {}
for split in (1, 2):
    config._state["cpu_devices"] = split
    rnnkit.set_random_seed(0)
    m = M.Sequential([L.Input(shape=(7, 3)), L.GRU(5, return_sequences=True),
                      L.LSTM(4, go_backwards=True), L.Dense(1)])
    m.compile(optimizer=O.SGD(learning_rate=0.1), loss="mse")
    losses = [m.train_on_batch(x, y) for _ in range(2)]
    res[split] = (np.array(losses), m.predict_on_batch(x), m.predict_on_batch(x[:3]))
for a, b in zip(res[1], res[2]):
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
print("SPLIT-OK")
"""


def test_cpu_device_split_matches_one_device(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, RNNKIT_CPU_DEVICES="2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _SPLIT_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert "SPLIT-OK" in out.stdout, out.stdout + out.stderr
