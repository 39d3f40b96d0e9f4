"""Random arguments for the native LSTM handlers (rnnkit_lstm_forward / _backward), shared by
the unit-split tests of the forward and the reverse loop."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit.core import engines, native


def require_native_lstm():
    """Skips the calling test where the native LSTM loops cannot run on this machine."""
    if not engines.native_available("lstm"):
        pytest.skip(f"native lstm loops unavailable: {native.status()}")


def case_id(case):
    """A test id from a case tuple that starts with B, T, D, H."""
    return "B{}-T{}-D{}-H{}".format(*case[:4])


def rand(rng, *shape):
    """Standard-normal float32 of `shape` as a JAX array."""
    return jnp.asarray(rng.normal(size=shape).astype(np.float32))


def lstm_inputs(rng, B, T, D, H, *, batch_major, mask, rm, init=True):
    """(xs, W, U, b, h0, c0, mask, rm) as the handlers take them: xs (B, T, D) or (T, B, D),
    Keras-layout weights of O(1) pre-activations, initial states (zeros without `init`), a
    (T, B) mask with ~30% of the steps off and a (B, H) recurrent-dropout multiplier, or (0,)
    arrays where `mask` / `rm` are False."""
    xs = rand(rng, B, T, D) if batch_major else rand(rng, T, B, D)
    W, U, b = rand(rng, D, 4 * H) * 0.3, rand(rng, H, 4 * H) / np.sqrt(H), rand(rng, 4 * H) * 0.3
    zeros = jnp.zeros((B, H), jnp.float32)
    h0, c0 = (rand(rng, B, H) * 0.5, rand(rng, B, H) * 0.5) if init else (zeros, zeros)
    m = jnp.asarray(rng.random((T, B)) > 0.3) if mask else jnp.zeros((0,), jnp.bool_)
    r = (jnp.asarray((rng.random((B, H)) > 0.3) / 0.7, jnp.float32) if rm
         else jnp.zeros((0,), jnp.float32))
    return xs, W, U, b, h0, c0, m, r
