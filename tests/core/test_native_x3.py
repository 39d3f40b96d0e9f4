"""The split float32 forwards of LSTM and GRU (`rnnkit_lstm_bf16x3_forward` in lstm_bf16.cc,
`rnnkit_gru_bf16x3_forward` in gru_bf16.cc; policy rule 8).

Each step's matmuls run as three bf16 tile products of the operands' hi / lo parts on AMX,
each product within about 1e-5 of exact (relative). These tests check its values and the
gradients built on its saved gates against the reference scan, within 5e-5 (times the
largest value where that is over 1): the split measured 4e-6 to 3e-5 on these cases, exact
float32 2e-7 to 6e-7, and a wrong or missing part of the split gives bf16-level errors
(1e-3). The cases cover the loops' branches (odd batches and thread blocks, masks,
go_backwards, T = 1, H not a multiple of 16, recurrent dropout, no bias, initial states);
the other tests check that the plan picks the split only where it is faster and allowed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnnkit
from rnnkit import activations as A
from rnnkit import layers
from rnnkit.core import engines, native, policy

from test_fast_paths import _fast_run, _loss_weights, _params, _ref_run

ALL = ("xla", "native", "native_bf16x3")
CASES = [
    # B, T, D, H, bias, mask, backwards, init, dropout, ret, threads
    (64, 30, 16, 48, True, False, False, False, False, True, 0),  # two blocks of 32 rows
    (37, 9, 7, 33, True, True, True, True, True, True, 3),  # odd blocks, H % 16 != 0
    (5, 1, 3, 20, False, False, False, True, False, False, 1),  # T = 1, one padded tile
    (20, 12, 40, 16, True, True, False, False, True, False, 0),  # D + H > one K block
]


def _need(kind="lstm"):
    if "native_bf16x3" not in engines.available_engines(kind):
        pytest.skip(f"split float32 {kind} loop unavailable (needs AMX): {native.status()}")


def _inputs(kind, case, rng):
    B, T, D, H, bias, use_mask, _, use_init, dropout = case[:9]
    p = _params(kind, D, H, bias, rng)
    x = jnp.asarray(rng.normal(size=(B, T, D)).astype(np.float32))
    state0 = tuple(jnp.asarray(rng.normal(size=(B, H)).astype(np.float32) * (0.5 * use_init))
                   for _ in range(2 if kind == "lstm" else 1))
    if kind != "lstm":
        state0 = state0[0]  # the reference scan takes a lone h
    mask = None
    if use_mask:
        m = rng.random((B, T)) > 0.35
        m[0, 0] = False
        mask = jnp.asarray(m)
    rm = (jnp.asarray((rng.random((B, H)) > 0.3).astype(np.float32) / 0.7)
          if dropout else None)
    return p, x, state0, mask, rm


def _close(fast, ref, tol):
    assert jax.tree_util.tree_structure(fast) == jax.tree_util.tree_structure(ref)
    for f, r in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(ref)):
        r = np.asarray(r)
        scale = max(1.0, float(np.max(np.abs(r)))) if r.size else 1.0
        np.testing.assert_allclose(np.asarray(f), r, atol=tol * scale, rtol=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "B{}-T{}-D{}-H{}".format(*c[:4]))
def test_split_forward_and_its_gradients_match_the_reference(case, kind):
    _need(kind)
    rng = np.random.default_rng(sum(case[:4]))
    p, x, state0, mask, rm = _inputs(kind, case, rng)
    backwards, ret, threads = case[6], case[9], case[10]
    plan = policy.Plan(engine="native", threads=threads, f32_split=True)
    act, ract = A.get("tanh"), A.get("sigmoid")

    def run(fn, p, x, state0):
        extra = (plan,) if fn is _fast_run else ()
        return fn(kind, act, ract, p, x, state0, mask, None, rm, backwards, False, ret,
                  *extra)

    ref = run(_ref_run, p, x, state0)
    _close(jax.jit(lambda *a: run(_fast_run, *a))(p, x, state0), ref, 5e-5)
    weights = _loss_weights(rng, ref)

    def loss(fn, args):
        out = run(fn, *args)
        return sum(jnp.sum(o * w) for o, w in zip(jax.tree_util.tree_leaves(out),
                                                    jax.tree_util.tree_leaves(weights)))

    args = (p, x, state0)
    _close(jax.jit(jax.grad(lambda a: loss(_fast_run, a)))(args),
           jax.jit(jax.grad(lambda a: loss(_ref_run, a)))(args), 1e-4)


def test_plan_splits_only_with_enough_rows_per_thread(monkeypatch):
    monkeypatch.setattr(policy, "cores", lambda: 2)
    plan = lambda batch, engines=ALL: policy.plan(  # noqa: E731
        "lstm", batch, 100, 64, 256, act_kinds=("tanh", "sigmoid"), engines=engines)
    assert plan(64).f32_split and plan(32).f32_split  # 32 / 16 rows on each of 2 threads
    assert not plan(24).f32_split and not plan(8).f32_split and not plan(1).f32_split
    assert not plan(64, engines=("xla", "native")).f32_split  # no AMX, or "highest"
    assert not policy.plan("lstm", 64, 100, 64, 256, act_kinds=("tanh", "sigmoid"),
                           compute_dtype="bfloat16", engines=ALL + ("native_bf16",)).f32_split
    assert policy.plan("gru", 64, 100, 64, 256, act_kinds=("tanh", "sigmoid"),
                       engines=ALL).f32_split
    assert not policy.plan("gru", 64, 100, 64, 256, act_kinds=("tanh", "sigmoid"),
                           engines=("xla", "native")).f32_split


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_precision_setting_picks_the_handler_a_layer_calls(kind):
    _need(kind)
    batch = 16 * policy.cores() + 16  # >= 16 rows on every thread
    x = jnp.asarray(np.random.default_rng(0).normal(size=(batch, 5, 3)).astype(np.float32))
    cls = {"lstm": layers.LSTM, "gru": layers.GRU}[kind]
    texts = {}
    try:
        for precision in ("high", "highest"):  # a layer traced after the setting changed
            rnnkit.config.set_float32_matmul_precision(precision)
            layer = cls(24)
            texts[precision] = jax.jit(lambda v: layer(v)).lower(x).as_text()
    finally:
        rnnkit.config.set_float32_matmul_precision("high")
    assert f"rnnkit_{kind}_bf16x3_forward" in texts["high"]
    assert f"rnnkit_{kind}_bf16x3_forward" not in texts["highest"]
    assert f"rnnkit_{kind}_forward" in texts["highest"]


def test_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'high', 'highest'"):
        rnnkit.config.set_float32_matmul_precision("tf32")
    assert rnnkit.config.float32_matmul_precision() == "high"
