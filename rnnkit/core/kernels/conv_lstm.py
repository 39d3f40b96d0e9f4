"""ConvLSTM: an LSTM whose matrix products are convolutions (Keras ConvLSTM1D/2D/3D).

Layout: channels last. x_t (B, *S, C); h, c (B, *S', F); kernel (*k, C, 4F),
recurrent_kernel (*k, F, 4F), bias (4F,); gates i, f, c, o side by side on the last axis,
as Keras stores them. With `*` for convolution:

    z   = W * x_t + U * h_{t-1} + b     W * x: the layer's strides, dilation and padding
    i, f, g, o = split(z, 4)            U * h: always "same" padding, stride 1
    c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ act(g)
    h_t = σ(o) ⊙ act(c_t)               the output is h_t

Each convolution covers the four gates at once. On CPU, where `native_applies`, a native
loop (rnnkit/core/native/conv_lstm.cc) runs the forward. Otherwise, to run,
`conv_lstm_sequence` convolves each frame inside its step (measured faster). To
differentiate (either forward), the input convolution, which does not depend on the state,
is ONE convolution VJP over all B*T frames after the backward loop.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import lax

from rnnkit import config
from rnnkit.core import native
from rnnkit.core.kernels.common import Act
from rnnkit.core.kernels.spec import CellKernel
from rnnkit.core.native import ffi
from rnnkit.core.scan import resolve_unroll, scan_rnn

Array = jax.Array

GATES = 4
EQUATIONS = (
    "z_t = W * x_t + U * h_(t-1) + b      (* = convolution; U * h: 'same', stride 1)",
    "i, f, g, o = split(z_t, 4)           (on the channel axis)",
    "c_t = σ(f) ⊙ c_(t-1) + σ(i) ⊙ act(g)",
    "h_t = σ(o) ⊙ act(c_t)",
)


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


def weight_shapes(kernel_size: tuple, channels: int, filters: int,
                  use_bias: bool = True) -> dict:
    """Keras's layout: kernel (*k, C, 4F), recurrent_kernel (*k, F, 4F), bias (4F,)."""
    g = GATES * filters
    return {"kernel": tuple(kernel_size) + (channels, g),
            "recurrent_kernel": tuple(kernel_size) + (filters, g),
            "bias": (g,) if use_bias else None}


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """One spatial size after the input convolution (TensorFlow/XLA "VALID"/"SAME")."""
    if padding == "same":
        return -(-size // stride)
    span = (kernel - 1) * dilation + 1
    return (size - span) // stride + 1


def _pads(sizes, ksize, strides, dilation, padding) -> list:
    """(before, after) per spatial axis; "same" as TensorFlow/XLA: the odd pixel goes after."""
    if padding == "valid":
        return [(0, 0)] * len(ksize)
    out = []
    for n, k, s, d in zip(sizes, ksize, strides, dilation):
        total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        out.append((total // 2, total - total // 2))
    return out


def _patches(x: Array, ksize: tuple, strides: tuple, dilation: tuple, pads: list) -> Array:
    """x (N, *S, C) -> (N, *S', prod(k)*C): the input window of every output position,
    kernel offsets major and channels minor (the order of a (*k, C, O) kernel's rows)."""
    outs = [(n + b + a - (k - 1) * d - 1) // s + 1 for n, (b, a), k, s, d in
            zip(x.shape[1:-1], pads, ksize, strides, dilation)]
    xp = jnp.pad(x, [(0, 0)] + list(pads) + [(0, 0)]) if any(map(sum, pads)) else x
    cols = []
    for offset in itertools.product(*(range(k) for k in ksize)):
        start = [o * d for o, d in zip(offset, dilation)]
        limit = [b + (n - 1) * s + 1 for b, n, s in zip(start, outs, strides)]
        cols.append(lax.slice(xp, (0, *start, 0), (x.shape[0], *limit, x.shape[-1]),
                              (1, *strides, 1)))
    return cols[0] if len(cols) == 1 else jnp.concatenate(cols, axis=-1)


def _dimension_numbers(rank: int):
    sp = "DHW"[3 - rank:]
    return lax.conv_dimension_numbers((1,) * (rank + 2), (1,) * (rank + 2),
                                      (f"N{sp}C", f"{sp}IO", f"N{sp}C"))


def conv(x: Array, w: Array, strides: tuple, dilation: tuple, padding,
         groups: int = 1) -> Array:
    """N-D convolution, channels last: x (N, *S, groups*C), w (*k, C, O) -> (N, *S', O);
    group g of the input channels meets output channels g*O/groups:(g+1)*O/groups.
    `padding`: "valid", "same" (TensorFlow/XLA) or a list of (before, after) pairs."""
    rank = x.ndim - 2
    pads = padding if isinstance(padding, list) else _pads(x.shape[1:-1], w.shape[:rank],
                                                           strides, dilation, padding)
    return lax.conv_general_dilated(
        x, w, window_strides=strides, padding=pads, rhs_dilation=dilation,
        dimension_numbers=_dimension_numbers(rank), feature_group_count=groups)


def input_conv(x: Array, kernel: Array, geometry: ConvGeometry, groups: int = 1) -> Array:
    """x (N, *S, groups*C) -> (N, *S', 4F); group g of the channels meets gate g's kernel."""
    return conv(x, kernel, geometry.strides, geometry.dilation_rate, geometry.padding, groups)


def recurrent_conv(h: Array, recurrent_kernel: Array, groups: int = 1) -> Array:
    """h (B, *S', groups*F) -> (B, *S', 4F): "same" padding, stride 1 (as Keras)."""
    ones = (1,) * (h.ndim - 2)
    return conv(h, recurrent_kernel, ones, ones, "same", groups)


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
                       unroll=1, fused: bool = True):
    """The recurrence over xs (B, T, *S, C); same values as `conv_lstm_step` in a loop.

    `fused` runs `_sequence` (its own VJP, see below); otherwise `conv_lstm_step` runs
    under `scan_rnn` and JAX differentiates the loop (the reference). `mask` (B, T), True = use this step; masked steps keep the
    state and repeat the previous output (zeros with `zero_output_for_mask`). `reverse`
    reads the sequence from the end; outputs come in processing order (Keras
    `go_backwards`).

    Returns `(last (B, *S', F), outputs (B, T, *S', F) or None, ConvLSTMState)`.
    """
    static = (activation, recurrent_activation, resolve_unroll(unroll, xs.shape[1]), geometry)
    if fused and native_applies(params, state, xs, activation, recurrent_activation,
                                input_masks, recurrent_masks, mask):
        seq, h_last, c_last = _native_sequence(static + (reverse, return_sequences), params,
                                               xs, state.h, state.c)
        return h_last, seq, ConvLSTMState(h_last, c_last)
    if not fused:
        def step(st, x_t):
            return conv_lstm_step(params, st, x_t, geometry=geometry, activation=activation,
                                  recurrent_activation=recurrent_activation,
                                  input_masks=input_masks, recurrent_masks=recurrent_masks)

        return scan_rnn(step, state, xs, mask=mask, reverse=reverse, unroll=unroll,
                        zero_output_for_mask=zero_output_for_mask,
                        return_sequences=return_sequences)
    xs_t = jnp.swapaxes(xs, 0, 1)  # (T, B, *S, C): the small input, not the 4F-wide xw
    keep = None if mask is None else jnp.swapaxes(jnp.asarray(mask, bool), 0, 1)
    if reverse:
        xs_t = jnp.flip(xs_t, 0)
        keep = None if keep is None else jnp.flip(keep, 0)
    keep_f = None if keep is None else keep.astype(xs_t.dtype)
    hs, c_last = _sequence(static, params, xs_t, state.h, state.c, keep_f, input_masks,
                           recurrent_masks)
    ys = hs
    if keep is not None:  # a masked step repeats the last output (zeros before the first)
        shown = keep if zero_output_for_mask else jnp.cumsum(keep, axis=0) > 0
        ys = jnp.where(shown.reshape(shown.shape + (1,) * (hs.ndim - 2)), hs, 0.0)
    seq = jnp.swapaxes(ys, 0, 1) if return_sequences else None
    return ys[-1], seq, ConvLSTMState(hs[-1], c_last)


# --- the recurrence's own VJP ---------------------------------------------------------------
# Differentiating a scan whose body convolves makes XLA:CPU run the convolution gradients
# inside the reverse loop: measured 21 s of CPU for the gradient of 10 steps at B8 30x30x32
# (F=32), against 0.14 s for the forward and 0.035 s for one step's gradient outside a loop.
# The backward loop below only propagates dz_t and dh_{t-1} (forward-style convolutions);
# dU is ONE windows^T @ dz GEMM over all T*B frames after the loop (0.5 s for the same case).

def _keep(k_t, new, old):
    return new if k_t is None else jnp.where(
        k_t.reshape(k_t.shape + (1,) * (new.ndim - 1)) > 0.5, new, old)


def _rec(h, U, rm):
    hm, groups = _per_gate(h, rm)
    return recurrent_conv(hm, U, groups)


def _rec_transposed(dz, U, rm):
    """d(U * h)/dh applied to dz: a "same" convolution of dz with U flipped in space and
    its in/out channels swapped, padded on the mirrored sides."""
    rank = dz.ndim - 2
    ksize, f = U.shape[:rank], U.shape[-2]
    flipped = jnp.flip(U, tuple(range(rank)))
    pads = [(a, b) for b, a in _pads(dz.shape[1:-1], ksize, (1,) * rank, (1,) * rank, "same")]
    ones = (1,) * rank
    if rm is None:
        return conv(dz, jnp.swapaxes(flipped, -1, -2), ones, ones, pads)
    w = flipped.reshape(ksize + (f, GATES, f))  # gate g: (*k, F_in, F_out) -> swap in/out
    w = jnp.swapaxes(w, -1, -3).reshape(ksize + (f, GATES * f))
    dhm = conv(dz, w, ones, ones, pads, GATES)
    return sum(dhm[..., g * f:(g + 1) * f] * rm[g] for g in range(GATES))


def _rec_weight_grad(h_prev, dz, U, rm):
    """dU = sum over t, b, positions of windows(h_{t-1})^T @ dz_t, as one GEMM per gate
    group: h_prev, dz (T, B, *S', F / 4F)."""
    rank = dz.ndim - 3
    ksize, f = U.shape[:rank], U.shape[-2]
    ones = (1,) * rank
    frames = h_prev.reshape((-1,) + h_prev.shape[2:])
    pads = _pads(frames.shape[1:-1], ksize, ones, ones, "same")
    dz2 = dz.reshape(-1, dz.shape[-1])
    if rm is None:
        cols = _patches(frames, ksize, ones, ones, pads).reshape(dz2.shape[0], -1)
        return (cols.T @ dz2).reshape(U.shape)
    per_gate = []
    for g in range(GATES):
        masked = (h_prev * rm[g][None]).reshape(frames.shape)
        cols = _patches(masked, ksize, ones, ones, pads).reshape(dz2.shape[0], -1)
        per_gate.append(cols.T @ dz2[:, g * f:(g + 1) * f])
    return jnp.concatenate(per_gate, axis=-1).reshape(U.shape)


def _run(static, params, xs, h0, c0, keep, im, rm, save):
    """The loop itself: each step convolves its frame and the state. With `save`, also the
    (h, c, z) of every step, which the backward loop reads."""
    act, ract, unroll, geometry = static
    W, U, b = params

    def body(carry, inp):
        h, c = carry
        x_t, k_t = inp
        xm, gx = _per_gate(x_t, im)
        z = input_conv(xm, W, geometry, gx) + _rec(h, U, rm)
        if b is not None:
            z = z + _bias_shape(b, z.ndim)
        st, _ = _gates(z, c, act, ract)
        h_new, c_new = _keep(k_t, st.h, h), _keep(k_t, st.c, c)
        return (h_new, c_new), ((h_new, c_new, z) if save else h_new)

    (_, c_last), out = lax.scan(body, (h0, c0), (xs, keep), unroll=unroll)
    return c_last, out


def _recurrence_bwd(static, res, cts):
    """dU, dz of every step (= d(W * x_t + b)), dh0, dc0 from the saved (h, c, z)."""
    act, ract, unroll, _ = static
    U, h0, c0, keep, rm, hs, cs, zs = res
    d_hs, d_c_last = cts
    c_prev = jnp.concatenate([c0[None], cs[:-1]], axis=0)

    def gates(z, c):
        st, _ = _gates(z, c, act, ract)
        return st.h, st.c

    def body(carry, inp):
        dh, dc = carry
        dh_t, z_t, c_p, k_t = inp
        dh = dh + dh_t
        zero = jnp.zeros_like(dh)
        dh_new, dc_new = _keep(k_t, dh, zero), _keep(k_t, dc, zero)
        _, pullback = jax.vjp(gates, z_t, c_p)
        dz, dc_p = pullback((dh_new, dc_new))
        dh_p = _rec_transposed(dz, U, rm)
        if k_t is not None:  # a masked step passed its state through unchanged
            dh_p, dc_p = dh_p + _keep(k_t, zero, dh), dc_p + _keep(k_t, zero, dc)
        return (dh_p, dc_p), dz

    (dh0, dc0), dzs = lax.scan(body, (jnp.zeros_like(h0), d_c_last), (d_hs, zs, c_prev, keep),
                               reverse=True, unroll=unroll)
    h_prev = jnp.concatenate([h0[None], hs[:-1]], axis=0)
    dU = _rec_weight_grad(h_prev, dzs, U, rm)
    zero = (lambda a: None if a is None else jnp.zeros_like(a))
    return dU, dzs, dh0, dc0, zero(keep), zero(rm)



# --- the whole sequence ----------------------------------------------------------------------
# Each step convolves its own frame: measured ~1.8x faster (to run) than one input
# convolution over all B*T frames before the loop, whose 4F-wide result XLA:CPU then reads
# slowly inside the loop (ConvLSTM2D(32, 3x3) at B8 T10 32x32x8, see
# benchmarks/PERF_NOTES.md). The gradient of the input convolution does not depend on the
# state: it is one convolution VJP over all B*T frames after the backward loop.

def _input_all(xs, W, b, im, geometry):
    """xs (T, B, *S, C) -> W * x_t + b for every step, (T, B, *S', 4F), as one convolution."""
    steps, batch = xs.shape[:2]
    xm, groups = _per_gate(jnp.swapaxes(xs, 0, 1), im)  # masks are (4, B, ...): batch first
    xm = jnp.swapaxes(xm, 0, 1)
    xw = input_conv(xm.reshape((steps * batch,) + xm.shape[2:]), W, geometry, groups)
    if b is not None:
        xw = xw + _bias_shape(b, xw.ndim)
    return xw.reshape((steps, batch) + xw.shape[1:])


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sequence(static, params, xs, h0, c0, keep, im, rm):
    """xs (T, B, *S, C) in processing order; keep (T, B) 1.0/0.0 or None; im / rm: dropout
    masks (4, B, ...) or None. Returns (h after every step (T, B, *S', F), final c)."""
    c_last, hs = _run(static, params, xs, h0, c0, keep, im, rm, save=False)
    return hs, c_last


def _sequence_fwd(static, params, xs, h0, c0, keep, im, rm):
    c_last, (hs, cs, zs) = _run(static, params, xs, h0, c0, keep, im, rm, save=True)
    res = (params.recurrent_kernel, h0, c0, keep, rm, hs, cs, zs)
    return (hs, c_last), (res, params, xs, im)


def _sequence_bwd(static, res, cts):
    rec_res, params, xs, im = res
    dU, dxw, dh0, dc0, dkeep, drm = _recurrence_bwd(static, rec_res, cts)
    _, pullback = jax.vjp(lambda x, W, b: _input_all(x, W, b, im, static[3]), xs,
                          params.kernel, params.bias)
    dxs, dW, db = pullback(dxw)
    zero = (lambda a: None if a is None else jnp.zeros_like(a))
    return ConvLSTMParams(dW, dU, db), dxs, dh0, dc0, dkeep, zero(im), drm


_sequence.defvjp(_sequence_fwd, _sequence_bwd)


# --- native inference loop (rnnkit/core/native/conv_lstm.cc) ------------------------------
# Both convolutions as one implicit GEMM per row of output pixels, fused with the gate math,
# the output rows split over the cores (XLA runs the per-step convolution on one core).
# ConvLSTM2D(32, 3x3) at B8 T10 32x32x8: see benchmarks/PERF_NOTES.md ("native loop").
# Under differentiation it also writes the (h, c, z) of every step, and `_sequence`'s XLA
# backward runs on them.

SOURCE = "conv_lstm.cc"
NATIVE_THREADS = 0  # threads of the native loop; 0: one per usable core (tests force splits)


def native_applies(params, state, xs, activation, recurrent_activation, input_masks=None,
                   recurrent_masks=None, mask=None) -> bool:
    """THE rule for when `conv_lstm_sequence` runs the native loop instead of XLA's: native
    kernels on (`rnnkit.config.set_native_kernels`), the CPU backend, 1-3 spatial axes,
    float32 inputs, weights and states, activations tanh / sigmoid / linear, and no step
    mask or dropout masks. Builds and loads the library on first use (False when it
    cannot)."""
    arrays = [xs, state.h, state.c, params.kernel, params.recurrent_kernel]
    arrays += [] if params.bias is None else [params.bias]
    if not config.native_kernels_enabled() or jax.default_backend() != "cpu":
        return False
    if mask is not None or input_masks is not None or recurrent_masks is not None:
        return False
    if not 1 <= xs.ndim - 3 <= 3 or any(a.dtype != jnp.float32 for a in arrays):
        return False
    kinds = (Act(activation).kind, Act(recurrent_activation).kind)
    if any(k not in ffi.ACT_CODES for k in kinds):
        return False
    return native.load(SOURCE)


def _native_call(static, params, xs, h0, c0, train=False):
    """xs (B, T, *S, C) -> (hs (B, T, *S', F) in processing order or None, h_T, c_T); with
    `train`: (hs, cs, zs) time-major (T, B, *S', F / 4F), the residuals of `_sequence_fwd`,
    then h_T, c_T."""
    act, ract, _, geometry, reverse, return_sequences = static
    rank = xs.ndim - 3
    ksize = params.kernel.shape[:rank]
    pads = _pads(xs.shape[2:-1], ksize, geometry.strides, geometry.dilation_rate,
                 geometry.padding)
    steps, batch = xs.shape[1], xs.shape[0]
    if any(map(sum, pads)):  # the loop reads its input taps without bounds checks
        xs = jnp.pad(xs, [(0, 0), (0, 0)] + pads + [(0, 0)])
    lead = (1,) * (3 - rank)
    s, d = lead + tuple(geometry.strides), lead + tuple(geometry.dilation_rate)
    frames = (steps, batch) + h0.shape[1:]
    seq = frames if train else (batch, steps) + h0.shape[1:] if return_sequences else (0,)
    shapes = [seq, h0.shape, c0.shape, frames if train else (0,),
              frames[:-1] + (GATES * frames[-1],) if train else (0,)]
    hs, h_last, c_last, cs, zs = ffi.call(
        SOURCE, "rnnkit_conv_lstm_forward", shapes, xs, params.kernel,
        params.recurrent_kernel, ffi.opt(params.bias), h0, c0,
        act=ffi.ACT_CODES[Act(act).kind], ract=ffi.ACT_CODES[Act(ract).kind],
        threads=NATIVE_THREADS, reverse=int(reverse), time_major=int(train), sd=s[0], sh=s[1],
        sw=s[2], dd=d[0], dh=d[1], dw=d[2])
    if train:
        return (hs, cs, zs), h_last, c_last
    return (hs if return_sequences else None), h_last, c_last


def _time_major(static, xs):
    xs_t = jnp.swapaxes(xs, 0, 1)
    return jnp.flip(xs_t, 0) if static[4] else xs_t


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _native_sequence(static, params, xs, h0, c0):
    """static: (act, ract, unroll, geometry, reverse, return_sequences); xs (B, T, *S, C).
    Returns (hs (B, T, *S', F) or None, h_T, c_T). Its VJP is `_sequence`'s."""
    return _native_call(static, params, xs, h0, c0)


def _native_sequence_fwd(static, params, xs, h0, c0):
    (hs, cs, zs), h_last, c_last = _native_call(static, params, xs, h0, c0, train=True)
    res = ((params.recurrent_kernel, h0, c0, None, None, hs, cs, zs), params,
           _time_major(static, xs), None)
    seq = jnp.swapaxes(hs, 0, 1) if static[5] else None
    return (seq, h_last, c_last), res


def _native_sequence_bwd(static, res, cts):
    d_seq, d_h_last, d_c_last = cts
    steps = res[2].shape[0]  # the time-major xs
    d_hs = jnp.swapaxes(d_seq, 0, 1) if static[5] else jnp.zeros(
        (steps,) + d_h_last.shape, d_h_last.dtype)
    d_hs = d_hs.at[-1].add(d_h_last)
    dp, dxs_t, dh0, dc0, *_ = _sequence_bwd(static[:4], res, (d_hs, d_c_last))
    dxs = jnp.swapaxes(jnp.flip(dxs_t, 0) if static[4] else dxs_t, 0, 1)
    return dp, dxs, dh0, dc0


_native_sequence.defvjp(_native_sequence_fwd, _native_sequence_bwd)


KERNEL = CellKernel(
    kind="conv_lstm", gates=GATES, states=("h", "c"), step=conv_lstm_step,
    equations=EQUATIONS, weight_shapes=weight_shapes,
    param_formula="4F·(prod(k)·C + prod(k)·F + 1)")  # "+ 1" only with use_bias
