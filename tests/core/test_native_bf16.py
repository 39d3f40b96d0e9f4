"""The bf16 native loops (AMX tile unit: lstm_bf16.cc, gru_bf16.cc, simple_rnn_bf16.cc) of
the mixed_bfloat16 policy.

They round the matmul operands to bf16 and accumulate in float32, exactly what the XLA
engine does under compute_dtype "bfloat16", so both engines must agree closely (stated
tolerance: atol 2e-3 on values (1e-2 for SimpleRNN, see ENGINE_ATOL), 5e-3 x the gradient's
scale on gradients; they differ only by the summation order of the float32 accumulations,
amplified where a bf16 rounding flips).
Against the float32 result the error is the bf16 rounding itself, stated as atol 3e-2 on
values (like torch.autocast's bf16 LSTM). Skipped where the CPU has no AMX-BF16.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import activations as A
from rnnkit import layers as L
from rnnkit.core import engines, native, policy

from test_fast_paths import _fast_run, _loss_weights, _params

AMX = {"amx_bf16", "amx_tile", "avx512_bf16"} <= native.cpu_flags()
needs_amx = pytest.mark.skipif(
    not AMX or not engines.native_bf16_available("lstm"),
    reason="no AMX-BF16 on this CPU (or the native kernels are off): XLA runs bf16")

CASES = [
    # kind, B, T, D, H, bias, mask, backwards, init, dropout, return_sequences
    ("lstm", 5, 7, 3, 20, True, False, False, False, False, True),
    ("lstm", 37, 12, 10, 33, True, True, True, True, True, True),
    ("lstm", 64, 30, 64, 64, False, True, False, True, False, False),
    ("lstm", 1, 9, 4, 16, True, False, False, True, True, True),
    # 40 rows per thread: a 16-row remainder tile in the products of every step
    ("lstm", 80, 6, 16, 48, True, True, False, False, True, True),
    ("simple_rnn", 5, 7, 3, 20, True, False, False, False, False, True),
    ("simple_rnn", 37, 12, 10, 33, True, True, True, True, True, True),
    ("simple_rnn", 64, 30, 64, 64, False, True, False, True, False, False),
    ("gru", 5, 7, 3, 20, True, False, False, False, False, True),
    ("gru", 29, 11, 9, 35, True, True, True, True, True, True),
    ("gru", 48, 20, 32, 64, False, True, False, True, False, False),
]


# native vs XLA under bf16, values: a SimpleRNN step has no gates to damp a flipped bf16
# rounding, so both engines drift ~1e-2 from float32 and ~4e-3 from each other there (as
# close to float32 as each other: 0.0094 vs 0.0095 at B37 T12 H33)
ENGINE_ATOL = {"lstm": 2e-3, "gru": 2e-3, "simple_rnn": 1e-2}


def _inputs(case, rng):
    kind, B, T, D, H, bias, use_mask, backwards, use_init, dropout, ret = case
    p = _params(kind, D, H, bias, rng)
    x = jnp.asarray(rng.normal(size=(B, T, D)).astype(np.float32))
    h0 = jnp.asarray(rng.normal(size=(B, H)).astype(np.float32) * 0.5) if use_init else \
        jnp.zeros((B, H), jnp.float32)
    state0 = (h0, h0 * 0.5) if kind == "lstm" else h0
    mask = None
    if use_mask:
        m = rng.random((B, T)) > 0.35
        m[0, :2] = False
        mask = jnp.asarray(m)
    rec_mask = jnp.asarray((rng.random((B, H)) > 0.3).astype(np.float32) / 0.7) \
        if dropout else None
    return p, x, state0, mask, rec_mask


def _run(case, plan, args, mask, acts=("tanh", "sigmoid")):
    kind, *_, backwards, _, _, ret = case
    p, x, state0, rec_mask = args
    return _fast_run(kind, A.get(acts[0]), A.get(acts[1]), p, x, state0, mask, None, rec_mask,
                     backwards, False, ret, plan)


@needs_amx
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-B{c[1]}-T{c[2]}-H{c[4]}")
def test_bf16_native_matches_bf16_xla_and_f32(case):
    rng = np.random.default_rng(7)
    p, x, state0, mask, rec_mask = _inputs(case, rng)
    args = (p, x, state0, rec_mask)
    plans = {"native": policy.Plan(engine="native", compute_dtype="bfloat16"),
             "xla": policy.Plan(engine="xla", compute_dtype="bfloat16"),
             "f32": policy.Plan(engine="xla")}
    outs = {k: jax.jit(lambda a, pl=pl: _run(case, pl, a, mask))(args) for k, pl in plans.items()}
    for n, b, f in zip(*(jax.tree_util.tree_leaves(outs[k]) for k in ("native", "xla", "f32"))):
        n, b, f = (np.asarray(v, np.float32) for v in (n, b, f))
        assert np.all(np.isfinite(n))
        np.testing.assert_allclose(n, b, atol=ENGINE_ATOL[case[0]], rtol=0)
        np.testing.assert_allclose(n, f, atol=3e-2, rtol=0)
        assert np.max(np.abs(n - f)) > 0  # the bf16 path really rounded (it is not f32)

    weights = _loss_weights(rng, outs["f32"])

    def loss(plan, a):
        out = _run(case, plan, a, mask)
        return sum(jnp.sum(o.astype(jnp.float32) * w) for o, w in
                   zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(weights)))

    g_nat = jax.jit(jax.grad(lambda a: loss(plans["native"], a)))(args)
    g_xla = jax.jit(jax.grad(lambda a: loss(plans["xla"], a)))(args)
    for n, b in zip(jax.tree_util.tree_leaves(g_nat), jax.tree_util.tree_leaves(g_xla)):
        n, b = np.asarray(n, np.float32), np.asarray(b, np.float32)
        scale = max(1.0, float(np.max(np.abs(b))))
        np.testing.assert_allclose(n, b, atol=5e-3 * scale, rtol=0)


def test_policy_plans_the_bf16_native_loops_only_when_available():
    acts = ("tanh", "sigmoid")
    with_bf16 = policy.plan("lstm", 64, 100, 64, 256, compute_dtype="bfloat16",
                            act_kinds=acts, dtype="mixed",
                            engines=("xla", "native", "native_bf16"))
    assert (with_bf16.engine, with_bf16.compute_dtype) == ("native", "bfloat16")
    without = policy.plan("lstm", 64, 100, 64, 256, compute_dtype="bfloat16", act_kinds=acts,
                          dtype="mixed", engines=("xla", "native"))
    assert without.engine == "xla"
    other_act = policy.plan("lstm", 64, 100, 64, 256, compute_dtype="bfloat16",
                            act_kinds=("relu", "sigmoid"), dtype="mixed",
                            engines=("xla", "native", "native_bf16"))
    assert other_act.engine == "xla"
    f32 = policy.plan("lstm", 64, 100, 64, 256, act_kinds=acts,
                      engines=("xla", "native", "native_bf16"))
    assert (f32.engine, f32.compute_dtype) == ("native", "float32")


def test_bf16_engine_is_only_offered_for_bf16_compute():
    assert "native_bf16" not in engines.available_engines("lstm")
    # kinds without bf16 loops never offer them
    assert "native_bf16" not in engines.available_engines("gru_v1", "bfloat16")


@needs_amx
@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
def test_mixed_bfloat16_layer_matches_float32(cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 12, 8)).astype(np.float32)
    layer = cls(24, dtype="mixed_bfloat16", return_sequences=True)
    ref = cls(24, return_sequences=True)
    y = np.asarray(layer(x), np.float32)
    ref(x)
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(y, np.asarray(ref(x)), atol=3e-2)


@needs_amx
@pytest.mark.parametrize("acts", [("linear", "sigmoid"), ("sigmoid", "tanh"), ("tanh", "linear")])
def test_bf16_native_other_activations_match_bf16_xla(acts):
    # the bf16 loops compile one variant per (activation, recurrent_activation) pair
    case = ("lstm", 6, 5, 7, 21, True, False, False, True, False, True)
    rng = np.random.default_rng(3)
    p, x, state0, mask, rec_mask = _inputs(case, rng)
    args = (p, x, state0, rec_mask)
    outs = [jax.jit(lambda a, pl=pl: _run(case, pl, a, mask, acts))(args) for pl in
            (policy.Plan(engine="native", compute_dtype="bfloat16"),
             policy.Plan(engine="xla", compute_dtype="bfloat16"))]
    for n, b in zip(*(jax.tree_util.tree_leaves(o) for o in outs)):
        n, b = np.asarray(n), np.asarray(b)
        # linear gates leave the values unbounded (c reaches ~30 here) and amplify where a
        # bf16 rounding flips: the tolerance is relative to their scale, 5e-3 as for the
        # gradients (both engines are ~3e-2 x scale from float32 here)
        scale = max(1.0, float(np.max(np.abs(b))))
        np.testing.assert_allclose(n, b, atol=5e-3 * scale, rtol=0)
