"""Pure step functions of the Keras recurrent cells: `(params, state, x_t) -> (state, y_t)`.

Shapes: x_t (B, D); h, c (B, H). Weights in Keras layout: kernel (D, gH), recurrent_kernel
(H, gH), gates side by side along the last axis. The input projection `x_t @ kernel` is
computed inside the step: on XLA:CPU that was faster than hoisting it out of the time loop
in 9 of 10 measured workloads (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

Array = jax.Array


class SimpleRNNParams(NamedTuple):
    kernel: Array  # (D, H)
    recurrent_kernel: Array  # (H, H)
    bias: Optional[Array]  # (H,)


class LSTMParams(NamedTuple):
    kernel: Array  # (D, 4H), gates i, f, c, o
    recurrent_kernel: Array  # (H, 4H)
    bias: Optional[Array]  # (4H,)


class GRUParams(NamedTuple):
    kernel: Array  # (D, 3H), gates z, r, h
    recurrent_kernel: Array  # (H, 3H)
    bias: Optional[Array]  # (2, 3H) if reset_after (input row, recurrent row), else (3H,)


class LSTMState(NamedTuple):
    h: Array  # (B, H)
    c: Array  # (B, H)


def _dropped(x, mask):
    return x if mask is None else x * mask


def simple_rnn_step(params: SimpleRNNParams, h: Array, x: Array, *,
                    activation: Callable = jnp.tanh, input_mask=None, recurrent_mask=None):
    """h' = activation(x @ W + b + h @ U); the output is h'."""
    z = _dropped(x, input_mask) @ params.kernel
    if params.bias is not None:
        z = z + params.bias[None, :]
    h_new = activation(z + _dropped(h, recurrent_mask) @ params.recurrent_kernel)
    return h_new, h_new


def lstm_step(params: LSTMParams, state: LSTMState, x: Array, *,
              activation: Callable = jnp.tanh, recurrent_activation: Callable = jax.nn.sigmoid,
              input_mask=None, recurrent_mask=None):
    """z = x @ W + h @ U + b;  i, f, g, o = split(z, 4)
    c' = σ(f) * c + σ(i) * act(g);  h' = σ(o) * act(c');  the output is h'."""
    z = _dropped(x, input_mask) @ params.kernel
    z = z + _dropped(state.h, recurrent_mask) @ params.recurrent_kernel
    if params.bias is not None:
        z = z + params.bias[None, :]
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c = recurrent_activation(f) * state.c + recurrent_activation(i) * activation(g)
    h = recurrent_activation(o) * activation(c)
    return LSTMState(h, c), h


def gru_step(params: GRUParams, h: Array, x: Array, *, reset_after: bool = True,
             activation: Callable = jnp.tanh, recurrent_activation: Callable = jax.nn.sigmoid,
             input_mask=None, recurrent_mask=None):
    """Keras GRU, gates z, r, h.

    reset_after=True:  (xz, xr, xh) = x @ W + b_in;  (uz, ur, uh) = h @ U + b_rec
        z = σ(xz + uz);  r = σ(xr + ur);  ĥ = act(xh + r * uh)
    reset_after=False: (xz, xr, xh) = x @ W + b
        z = σ(xz + h @ Uz);  r = σ(xr + h @ Ur);  ĥ = act(xh + (r * h) @ Uh)
    h' = z * h + (1 - z) * ĥ;  the output is h'.
    """
    units = h.shape[-1]
    xw = _dropped(x, input_mask) @ params.kernel
    h_in = _dropped(h, recurrent_mask)
    if reset_after:
        hu = h_in @ params.recurrent_kernel
        if params.bias is not None:
            xw = xw + params.bias[0][None, :]
            hu = hu + params.bias[1][None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_z, u_r, u_h = jnp.split(hu, 3, axis=-1)
        z = recurrent_activation(x_z + u_z)
        r = recurrent_activation(x_r + u_r)
        hh = activation(x_h + r * u_h)
    else:
        if params.bias is not None:
            xw = xw + params.bias[None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_zr = h_in @ params.recurrent_kernel[:, : 2 * units]
        z = recurrent_activation(x_z + u_zr[:, :units])
        r = recurrent_activation(x_r + u_zr[:, units:])
        hh = activation(x_h + (r * h_in) @ params.recurrent_kernel[:, 2 * units:])
    h_new = z * h + (1.0 - z) * hh
    return h_new, h_new
