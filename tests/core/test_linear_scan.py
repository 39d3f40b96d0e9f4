"""The whole-sequence kernels of MinGRU / MinLSTM / LRU (rnnkit.core.kernels.*.sequence on
both engines of rnnkit.core.linear_scan) against the plain step loop, values and
gradients, including T=4096."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit.core import linear_scan
from rnnkit.core.kernels import lru, mingru, minlstm
from rnnkit.core.scan import scan_rnn


def _params(kind, D, U, rng):
    if kind == "lru":
        return lru.init_arrays(jax.random.PRNGKey(0), D, U, 0.5, 0.999, 6.28), (U, U)
    mod, G = (mingru, 2) if kind == "mingru" else (minlstm, 3)
    cls = mod.MinGRUParams if kind == "mingru" else mod.MinLSTMParams
    return cls(jnp.asarray(rng.normal(size=(D, G * U)) * 0.3, jnp.float32),
               jnp.asarray(rng.normal(size=(G * U,)) * 0.3, jnp.float32)), (U,)


KERNELS = {"mingru": mingru, "minlstm": minlstm, "lru": lru}


def _engines(kind):
    engines = ["xla"]
    if linear_scan.engine(KERNELS[kind].NATIVE_SOURCE, jnp.float32) == "native":
        engines.append("native")
    return engines


def _loss(mod, params, xs, state, mask, engine):
    if engine == "sequential":
        last, seq, final = scan_rnn(lambda s, x: mod.step(params, s, x), state, xs, mask=mask)
    else:
        last, seq, final = mod.sequence(params, xs, state, mask, use_engine=engine)
    return (jnp.sum(jnp.sin(seq)) + jnp.sum(last ** 2)
            + sum(jnp.sum(f * (i + 1.5)) for i, f in enumerate(final)))


@pytest.mark.parametrize("kind", sorted(KERNELS))
@pytest.mark.parametrize("T", [1, 37])
def test_values_and_gradients_match_step_loop(kind, T):
    mod = KERNELS[kind]
    rng = np.random.default_rng(T)
    B, D, U = 3, 4, 20  # U not a multiple of 16: the native tail lanes
    params, sizes = _params(kind, D, U, rng)
    xs = jnp.asarray(rng.normal(size=(B, T, D)), jnp.float32)
    state = tuple(jnp.asarray(rng.normal(size=(B, s)), jnp.float32) for s in sizes)
    mask = jnp.asarray(rng.random((B, T)) > 0.3)
    run = jax.jit(lambda p, s, m, zero, e: scan_rnn(
        lambda c, x: mod.step(p, c, x), s, xs, mask=m, zero_output_for_mask=zero)
        if e == "sequential" else mod.sequence(p, xs, s, m, zero_output_for_mask=zero,
                                               use_engine=e), static_argnums=(3, 4))
    for m in (None, mask):
        for zero in ((False,) if m is None else (False, True)):
            want = run(params, state, m, zero, "sequential")
            for engine in _engines(kind):
                got = run(params, state, m, zero, engine)
                for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
        grad = jax.jit(jax.grad(lambda p, s, e: _loss(mod, p, xs, s, m, e), argnums=(0, 1)),
                       static_argnums=2)
        want = grad(params, state, "sequential")
        for engine in _engines(kind):
            got = grad(params, state, engine)
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(
                    jnp.abs(b).max() + 1))


@pytest.mark.parametrize("kind", sorted(KERNELS))
def test_long_sequence_gradients_finite_and_equal(kind):
    mod = KERNELS[kind]
    rng = np.random.default_rng(0)
    B, T, D, U = 2, 4096, 3, 16
    params, sizes = _params(kind, D, U, rng)
    xs = jnp.asarray(rng.normal(size=(B, T, D)), jnp.float32)
    state = tuple(jnp.zeros((B, s), jnp.float32) for s in sizes)
    grad = jax.jit(jax.grad(lambda p, e: _loss(mod, p, xs, state, None, e)),
                   static_argnums=1)
    want = grad(params, "sequential")
    for engine in _engines(kind):
        got = grad(params, engine)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert np.all(np.isfinite(a))
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * float(
                jnp.abs(b).max() + 1))


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("B,T,D,U", [(1, 200, 300, 70), (3, 97, 5, 33), (2, 96, 4, 32)])
def test_native_loop_against_xla_with_input_gradients(kind, B, T, D, U):
    """The native loop's shapes: B = 1 (units split over threads, 70 = 64 + 6 columns),
    D > 256 (the projection's K blocks), T across blocks of 96 steps and at a block
    boundary; masks and output gradients at every step; gradients for x as well."""
    mod = KERNELS[kind]
    if "native" not in _engines(kind):
        pytest.skip("native loops unavailable here")
    rng = np.random.default_rng(B * T + U)
    params, sizes = _params(kind, D, U, rng)
    xs = jnp.asarray(rng.normal(size=(B, T, D)) * 0.2, jnp.float32)
    state = tuple(jnp.asarray(rng.normal(size=(B, s)), jnp.float32) for s in sizes)
    mask = jnp.asarray(rng.random((B, T)) > 0.2)

    def loss(p, x, s, m, e):
        last, seq, final = mod.sequence(p, x, s, m, use_engine=e)
        return jnp.sum(jnp.sin(seq)) + jnp.sum(last ** 2) + jnp.sum(final[0] * 1.5)

    grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)), static_argnums=4)
    for m in (None, mask):
        want = grad(params, xs, state, m, "xla")
        got = grad(params, xs, state, m, "native")
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(
                jnp.abs(b).max() + 1))
    # no bias, final state only
    nobias = params._replace(bias=None)
    run = jax.jit(lambda p, e: mod.sequence(p, xs, state, mask, return_sequences=False,
                                            use_engine=e), static_argnums=1)
    for a, b in zip(jax.tree.leaves(run(nobias, "native")), jax.tree.leaves(run(nobias, "xla"))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-5)
    g = jax.jit(jax.grad(lambda p, e: jnp.sum(mod.sequence(
        p, xs, state, mask, return_sequences=False, use_engine=e)[0] ** 2)),
        static_argnums=1)
    np.testing.assert_allclose(g(nobias, "native").kernel, g(nobias, "xla").kernel,
                               rtol=1e-4, atol=1e-4)


def test_engine_falls_back_to_xla_off_float32():
    assert linear_scan.engine(mingru.NATIVE_SOURCE, jnp.float16) == "xla"
