"""`scan_rnn`: runs any step function over the time axis. Knows nothing about LSTMs."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax


def resolve_unroll(unroll, timesteps: int) -> int:
    """Keras's `unroll=True` means a fully unrolled loop; an int is an unroll factor."""
    if unroll is True:
        return max(int(timesteps), 1)
    if unroll is False or unroll is None:
        return 1
    return max(int(unroll), 1)


def scan_rnn(step: Callable, state, xs, *, mask=None, reverse: bool = False, unroll=1,
             time_major: bool = False, zero_output_for_mask: bool = False,
             return_sequences: bool = True):
    """Runs `step` over the time axis of `xs`.

    Same as `for t in range(T): state, y[:, t] = step(state, xs[:, t])`, where a masked
    step keeps the previous state and repeats the previous output (zeros instead when
    `zero_output_for_mask`). With `reverse` the sequence (and mask) is read from the end,
    and outputs come out in that processing order, as Keras's `go_backwards` does.

    Args:
        step: `(state, x_t) -> (state, y_t)`, `x_t` of shape (B, D).
        state: initial state, a pytree of (B, ...) arrays.
        xs: inputs (B, T, D), or (T, B, D) if `time_major`.
        mask: optional bool (B, T) (or (T, B) if `time_major`); True = use this step.
        unroll: `lax.scan` unroll factor (True = fully unrolled).

    Returns:
        `(last_output (B, H), outputs (B, T, H) or None, final_state)`; outputs is in the
        layout of `xs` and is None unless `return_sequences`.
    """
    if not time_major:
        xs = jnp.swapaxes(xs, 0, 1)
        if mask is not None:
            mask = jnp.swapaxes(mask, 0, 1)
    if reverse:
        xs = jnp.flip(xs, 0)
        if mask is not None:
            mask = jnp.flip(mask, 0)
    timesteps = xs.shape[0]
    out_struct = jax.eval_shape(lambda s, x: step(s, x)[1], state, xs[0])
    zeros = jnp.zeros(out_struct.shape, out_struct.dtype)

    if mask is None:
        def body(carry, x_t):
            st, _ = carry
            st, y = step(st, x_t)
            return (st, y), (y if return_sequences else None)
        seq_in = xs
    else:
        def body(carry, inp):
            st, prev_y = carry
            x_t, m_t = inp
            new_st, y = step(st, x_t)
            keep = m_t[:, None]
            new_st = jax.tree_util.tree_map(
                lambda n, o: jnp.where(keep.reshape(keep.shape + (1,) * (n.ndim - 2)), n, o),
                new_st, st)
            keep_y = keep.reshape(keep.shape + (1,) * (y.ndim - 2))
            y = jnp.where(keep_y, y, jnp.zeros_like(y) if zero_output_for_mask else prev_y)
            return (new_st, y), (y if return_sequences else None)
        seq_in = (xs, mask.astype(bool))

    (final_state, last_output), ys = lax.scan(
        body, (state, zeros), seq_in, unroll=resolve_unroll(unroll, timesteps))
    if return_sequences and not time_major:
        ys = jnp.swapaxes(ys, 0, 1)
    return last_output, (ys if return_sequences else None), final_state
