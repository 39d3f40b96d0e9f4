"""The fused recurrent kernels (rnnkit.core.fused) against the reference path.

The reference is `rnnkit.core.scan.scan_rnn` over the pure cell steps of
`rnnkit.core.cells`, differentiated by JAX autodiff. Values must agree to float32 rounding
and gradients (params, inputs, initial states, recurrent-dropout mask) to ~1e-6, on random
shapes, masks, go_backwards, initial states, dropout masks, activations and both GRU modes.
No timings are asserted.
"""

from __future__ import annotations

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
    return fused.fused_rnn(cfg, p, x, state0, mask=mask, input_mask=in_mask,
                           rec_mask=rec_mask, reverse=reverse, zero_output_for_mask=zero_out)


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
    plan = policy.Plan(infer_unroll=2, fwd_unroll=1, bwd_unroll=2, concat=concat)

    def run(fn, args):
        p, x, state0, rec_mask = args
        extra = (plan,) if fn is _fast_run else ()
        return fn(kind, act, ract, p, x, state0, mask, in_mask, rec_mask, backwards, zero_out,
                  ret, *extra)

    args = (p, x, state0, rec_mask)
    ref_out = jax.jit(lambda a: run(_ref_run, a))(args)
    fast_out = jax.jit(lambda a: run(_fast_run, a))(args)
    for r, f in zip(jax.tree_util.tree_leaves(ref_out), jax.tree_util.tree_leaves(fast_out)):
        np.testing.assert_allclose(np.asarray(f), np.asarray(r), atol=2e-6, rtol=1e-5)
    assert jax.tree_util.tree_structure(ref_out) == jax.tree_util.tree_structure(fast_out)

    weights = _loss_weights(rng, ref_out)

    def loss(fn, a):
        out = run(fn, a)
        return sum(jnp.sum(o * w) for o, w in zip(jax.tree_util.tree_leaves(out),
                                                    jax.tree_util.tree_leaves(weights)))

    g_ref = jax.jit(jax.grad(lambda a: loss(_ref_run, a)))(args)
    g_fast = jax.jit(jax.grad(lambda a: loss(_fast_run, a)))(args)
    for r, f in zip(jax.tree_util.tree_leaves(g_ref), jax.tree_util.tree_leaves(g_fast)):
        r, f = np.asarray(r), np.asarray(f)
        scale = max(1.0, float(np.max(np.abs(r))))
        np.testing.assert_allclose(f, r, atol=2e-6 * scale, rtol=1e-5)
    assert jax.tree_util.tree_structure(g_ref) == jax.tree_util.tree_structure(g_fast)
