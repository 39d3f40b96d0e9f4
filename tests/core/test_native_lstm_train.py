"""The native LSTM reverse loop (rnnkit/core/native/lstm.cc) in the shape training takes:
gradients of the weights and states only, with the input not differentiated.

When nothing differentiated reaches xs (the layer reads the data), the custom VJP tells the
backward not to compute dx (`SeqConfig.need_dx`), and the native loop's per-step GEMM is
dz @ U^T alone. The weight-gradient sums are kept panel-major
(`update_weight_grads_pm`), so the cases also cover feature counts D + H that are not whole
register blocks, several feature chunks, and updates over more than one K block. These
tests check that those gradients still match the autodiff reference
(atol 2e-6 / rtol 1e-5, as tests/core/test_fast_paths.py), that the compiled program really
asks for no dx, and that a layer whose input IS differentiated (a second stacked layer)
still gets it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import activations as A
from rnnkit.core import engines, fused, native, policy

from test_fast_paths import (_fast_run, _loss_weights, _params, _ref_run,
                             thread_settings)

CASES = [
    # B, T, D, H, bias, mask, backwards, init, dropout, ret
    (64, 9, 16, 40, True, False, False, False, False, False),  # two row blocks of 32
    (13, 1, 5, 37, True, True, False, True, True, True),  # T = 1, odd batch, H % 16 != 0
    (1, 6, 3, 20, False, False, True, True, False, True),  # batch 1: the GEMV
    (37, 70, 7, 33, True, True, False, True, True, False),  # flushes mid-sequence and at t=0
    (20, 4, 300, 16, True, False, False, False, True, True),  # D > 256, several chunks
    # 300 rows in one thread: one update of K = 300 > 256 rows (two K blocks)
    (300, 3, 5, 9, True, True, False, True, False, True),
]


def _need():
    if not engines.native_available("lstm"):
        pytest.skip(f"native lstm loops unavailable: {native.status()}")


def _inputs(case, rng):
    B, T, D, H, bias, use_mask, backwards, use_init, dropout, ret = case
    p = _params("lstm", D, H, bias, rng)
    x = jnp.asarray(rng.normal(size=(B, T, D)).astype(np.float32))
    if use_init:
        state0 = tuple(jnp.asarray(rng.normal(size=(B, H)).astype(np.float32) * 0.5)
                       for _ in range(2))
    else:
        state0 = (jnp.zeros((B, H), jnp.float32),) * 2
    mask = None
    if use_mask:
        m = rng.random((B, T)) > 0.35
        m[0, 0] = False
        mask = jnp.asarray(m)
    rec_mask = None
    if dropout:
        rec_mask = jnp.asarray((rng.random((B, H)) > 0.3).astype(np.float32) / 0.7)
    return p, x, state0, mask, rec_mask


def _runner(case, plan, mask):
    act, ract = A.get("tanh"), A.get("sigmoid")
    backwards, ret = case[6], case[9]

    def run(fn, p, x, state0, rec_mask):
        extra = (plan,) if fn is _fast_run else ()
        return fn("lstm", act, ract, p, x, state0, mask, None, rec_mask, backwards, False, ret,
                  *extra)
    return run


def _loss(run, fn, weights, x, args):  # x is closed over: not differentiated
    out = run(fn, args[0], x, args[1], args[2])
    return sum(jnp.sum(o * w) for o, w in zip(jax.tree_util.tree_leaves(out),
                                                jax.tree_util.tree_leaves(weights)))


@functools.lru_cache(maxsize=None)
def _reference(case):
    """A case's inputs, loss weights and reference gradients, once per case (the reference
    does not depend on the thread count)."""
    rng = np.random.default_rng(sum(case[:4]))
    p, x, state0, mask, rec_mask = _inputs(case, rng)
    run = _runner(case, None, mask)
    weights = _loss_weights(rng, run(_ref_run, p, x, state0, rec_mask))
    args = (p, state0, rec_mask)
    g_ref = jax.jit(jax.grad(lambda a: _loss(run, _ref_run, weights, x, a)))(args)
    return x, mask, args, weights, g_ref


@pytest.mark.parametrize("case,threads", [
    pytest.param(c, t, id="B{}-T{}-D{}-H{}-".format(*c[:4]) + str(t)) for c in CASES
    for t in thread_settings(c[0])])
def test_weight_and_state_grads_without_dx_match_reference(case, threads):
    _need()
    x, mask, args, weights, g_ref = _reference(case)
    run = _runner(case, policy.Plan(engine="native", threads=threads), mask)
    g_fast = jax.jit(jax.grad(lambda a: _loss(run, _fast_run, weights, x, a)))(args)
    assert jax.tree_util.tree_structure(g_ref) == jax.tree_util.tree_structure(g_fast)
    for r, f in zip(jax.tree_util.tree_leaves(g_ref), jax.tree_util.tree_leaves(g_fast)):
        r, f = np.asarray(r), np.asarray(f)
        scale = max(1.0, float(np.max(np.abs(r))))
        np.testing.assert_allclose(f, r, atol=2e-6 * scale, rtol=1e-5)


def _backward_dx_shapes(fn, *args):
    """The first result of every native LSTM backward call in fn's lowered program."""
    text = jax.jit(fn).lower(*args).as_text()
    calls = [line for line in text.splitlines() if "rnnkit_lstm_backward" in line]
    assert calls, "no native LSTM backward in the program"
    return [line.split("-> (", 1)[1].split(",", 1)[0] for line in calls]


def test_backward_computes_dx_only_where_the_input_is_differentiated():
    _need()
    case = (8, 5, 6, 16, True, False, False, False, False, True)
    rng = np.random.default_rng(0)
    p, x, state0, mask, _ = _inputs(case, rng)
    run = _runner(case, policy.Plan(engine="native"), mask)

    def loss_params(p):
        return jnp.sum(run(_fast_run, p, x, state0, None)[0])

    def loss_both(p, x):
        return jnp.sum(run(_fast_run, p, x, state0, None)[0])

    assert _backward_dx_shapes(jax.grad(loss_params), p) == ["tensor<0xf32>"]
    assert _backward_dx_shapes(jax.grad(loss_both, argnums=(0, 1)), p, x) == \
        ["tensor<8x5x6xf32>"]


def test_stacked_layers_differentiate_the_inner_input():
    """Two LSTMs: the first reads the data (no dx), the second reads the first's outputs,
    whose dx carries the gradient of the first layer's weights."""
    _need()
    rng = np.random.default_rng(3)
    B, T, D, H1, H2 = 11, 7, 5, 24, 18
    x = jnp.asarray(rng.normal(size=(B, T, D)).astype(np.float32))
    p1, p2 = _params("lstm", D, H1, True, rng), _params("lstm", H1, H2, True, rng)
    w = jnp.asarray(rng.normal(size=(B, H2)).astype(np.float32))
    zeros = lambda h: (jnp.zeros((B, h), jnp.float32),) * 2
    act, ract = A.get("tanh"), A.get("sigmoid")

    def loss(fn, params):
        extra = (policy.Plan(engine="native"),) if fn is _fast_run else ()
        _, hs, _ = fn("lstm", act, ract, params[0], x, zeros(H1), None, None, None, False,
                      False, True, *extra)
        last, _, _ = fn("lstm", act, ract, params[1], hs, zeros(H2), None, None, None, False,
                        False, False, *extra)
        return jnp.sum(last * w)

    g_ref = jax.jit(jax.grad(lambda a: loss(_ref_run, a)))((p1, p2))
    g_fast = jax.jit(jax.grad(lambda a: loss(_fast_run, a)))((p1, p2))
    for r, f in zip(jax.tree_util.tree_leaves(g_ref), jax.tree_util.tree_leaves(g_fast)):
        np.testing.assert_allclose(np.asarray(f), np.asarray(r), atol=2e-6, rtol=1e-5)
    assert _backward_dx_shapes(jax.grad(lambda a: loss(_fast_run, a)), (p1, p2)) == \
        ["tensor<11x7x24xf32>", "tensor<0xf32>"]
