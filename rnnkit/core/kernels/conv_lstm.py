"""ConvLSTM: an LSTM whose matrix products are convolutions (Keras ConvLSTM1D/2D/3D).

Layout: channels last. x_t (B, *S, C); h, c (B, *S', F); kernel (*k, C, 4F),
recurrent_kernel (*k, F, 4F), bias (4F,); gates i, f, c, o side by side on the last axis,
as Keras stores them. With `*` for convolution:

    z   = W * x_t + U * h_{t-1} + b     W * x: the layer's strides, dilation and padding
    i, f, g, o = split(z, 4)            U * h: always "same" padding, stride 1
    c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ act(g)
    h_t = σ(o) ⊙ act(c_t)               the output is h_t

The input convolution does not depend on the state, so `conv_lstm_sequence` computes it
for all time steps as ONE convolution over B*T frames before the loop; only the recurrent
convolution runs per step (one convolution for the four gates).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax

from rnnkit.core.scan import scan_rnn

Array = jax.Array

KIND = "conv_lstm"
GATES = 4
N_STATES = 2  # (h, c)
EQUATIONS = (
    "z_t = W * x_t + U * h_{t-1} + b      (* = convolution; U * h: 'same', stride 1)",
    "i, f, g, o = split(z_t, 4)",
    "c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ act(g)",
    "h_t = σ(o) ⊙ act(c_t)",
)
PARAM_FORMULA = "4F·(prod(k)·C + prod(k)·F + 1)"  # "+ 1" only with use_bias


class ConvLSTMParams(NamedTuple):
    kernel: Array  # (*k, C, 4F), gates i, f, c, o
    recurrent_kernel: Array  # (*k, F, 4F)
    bias: Optional[Array]  # (4F,)


class ConvLSTMState(NamedTuple):
    h: Array  # (B, *S', F)
    c: Array  # (B, *S', F)


class ConvGeometry(NamedTuple):
    """How the input convolution slides (a static, hashable argument)."""
    strides: tuple
    dilation_rate: tuple
    padding: str  # "valid" | "same"


def param_count(rank_kernel: tuple, channels: int, filters: int, use_bias: bool) -> int:
    k = math.prod(rank_kernel)
    return 4 * filters * (k * channels + k * filters + int(use_bias))


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """One spatial size after the input convolution (TensorFlow/XLA "VALID"/"SAME")."""
    if padding == "same":
        return -(-size // stride)
    span = (kernel - 1) * dilation + 1
    return (size - span) // stride + 1


def _dimension_numbers(rank: int):
    sp = "DHW"[3 - rank:]
    return lax.conv_dimension_numbers((1,) * (rank + 2), (1,) * (rank + 2),
                                      (f"N{sp}C", f"{sp}IO", f"N{sp}C"))


def input_conv(x: Array, kernel: Array, geometry: ConvGeometry, groups: int = 1) -> Array:
    """x (N, *S, groups*C) -> (N, *S', 4F); group g of the channels meets gate g's kernel."""
    rank = x.ndim - 2
    return lax.conv_general_dilated(
        x, kernel, window_strides=geometry.strides, padding=geometry.padding.upper(),
        rhs_dilation=geometry.dilation_rate, dimension_numbers=_dimension_numbers(rank),
        feature_group_count=groups)


def recurrent_conv(h: Array, recurrent_kernel: Array, groups: int = 1) -> Array:
    """h (B, *S', groups*F) -> (B, *S', 4F): "same" padding, stride 1 (as Keras)."""
    rank = h.ndim - 2
    return lax.conv_general_dilated(
        h, recurrent_kernel, window_strides=(1,) * rank, padding="SAME",
        dimension_numbers=_dimension_numbers(rank), feature_group_count=groups)


def _per_gate(x: Array, masks: Optional[Array]):
    """Keras drops units with one mask per gate: (x*m_i, x*m_f, x*m_c, x*m_o) side by side
    on the channel axis, for a grouped convolution. `masks` (4, B, ...) broadcast over any
    time axis of `x` (B, [T,] ...). Returns (x or the stacked channels, group count)."""
    if masks is None:
        return x, 1
    if x.ndim == masks.ndim:  # x (B, T, ...): the same masks at every step
        masks = masks[:, :, None]
    return jnp.concatenate([x * masks[g] for g in range(GATES)], axis=-1), GATES


def _bias_shape(bias: Array, ndim: int) -> Array:
    return bias.reshape((1,) * (ndim - 1) + bias.shape)


def _gates(z: Array, c: Array, activation: Callable, recurrent_activation: Callable):
    i, f, g, o = jnp.split(z, GATES, axis=-1)
    c_new = recurrent_activation(f) * c + recurrent_activation(i) * activation(g)
    h_new = recurrent_activation(o) * activation(c_new)
    return ConvLSTMState(h_new, c_new), h_new


def conv_lstm_step(params: ConvLSTMParams, state: ConvLSTMState, x: Array, *,
                   geometry: ConvGeometry, activation: Callable = jnp.tanh,
                   recurrent_activation: Callable = jax.nn.sigmoid, input_masks=None,
                   recurrent_masks=None):
    """One step: x (B, *S, C) -> (ConvLSTMState, h (B, *S', F)). See the module docstring.

    `input_masks` (4, B, *S, C) / `recurrent_masks` (4, B, *S', F): Keras's dropout, one
    mask per gate, or None.
    """
    xm, gx = _per_gate(x, input_masks)
    hm, gh = _per_gate(state.h, recurrent_masks)
    z = input_conv(xm, params.kernel, geometry, gx) + recurrent_conv(
        hm, params.recurrent_kernel, gh)
    if params.bias is not None:
        z = z + _bias_shape(params.bias, z.ndim)
    return _gates(z, state.c, activation, recurrent_activation)


def conv_lstm_sequence(params: ConvLSTMParams, state: ConvLSTMState, xs: Array, *,
                       geometry: ConvGeometry, activation: Callable = jnp.tanh,
                       recurrent_activation: Callable = jax.nn.sigmoid, input_masks=None,
                       recurrent_masks=None, mask=None, reverse: bool = False,
                       zero_output_for_mask: bool = False, return_sequences: bool = False,
                       unroll=1, hoist_input: bool = True):
    """The recurrence over xs (B, T, *S, C); same values as `conv_lstm_step` in a loop.

    With `hoist_input` the input convolution of all T steps is one convolution over B*T
    frames before the loop (it does not depend on the state); otherwise each step
    convolves its own frame. `mask` (B, T), True = use this step; masked steps keep the
    state and repeat the previous output (zeros with `zero_output_for_mask`). `reverse`
    reads the sequence from the end; outputs come in processing order (Keras
    `go_backwards`).

    Returns `(last (B, *S', F), outputs (B, T, *S', F) or None, ConvLSTMState)`.
    """
    if not hoist_input:
        def step(st, x_t):
            return conv_lstm_step(params, st, x_t, geometry=geometry, activation=activation,
                                  recurrent_activation=recurrent_activation,
                                  input_masks=input_masks, recurrent_masks=recurrent_masks)

        return scan_rnn(step, state, xs, mask=mask, reverse=reverse, unroll=unroll,
                        zero_output_for_mask=zero_output_for_mask,
                        return_sequences=return_sequences)
    batch, steps = xs.shape[:2]
    xm, gx = _per_gate(xs, input_masks)
    frames = xm.reshape((batch * steps,) + xm.shape[2:])
    xw = input_conv(frames, params.kernel, geometry, gx)
    if params.bias is not None:
        xw = xw + _bias_shape(params.bias, xw.ndim)
    xw = xw.reshape((batch, steps) + xw.shape[1:])

    def hoisted_step(st, xw_t):
        hm, gh = _per_gate(st.h, recurrent_masks)
        z = xw_t + recurrent_conv(hm, params.recurrent_kernel, gh)
        return _gates(z, st.c, activation, recurrent_activation)

    return scan_rnn(hoisted_step, state, xw, mask=mask, reverse=reverse, unroll=unroll,
                    zero_output_for_mask=zero_output_for_mask,
                    return_sequences=return_sequences)
