"""Elementwise linear recurrences over a whole sequence: the time loop of MinGRU, MinLSTM
and LRU once every input projection has been computed as one GEMM.

Two forms, both with `mask` semantics of `rnnkit.core.scan.scan_rnn` (a masked step keeps
the state) and batch-major arrays already in processing order:

- `gated_sequence(kind, project, decay, params, xs, h0, mask)`: `h_t = a_t * h_{t-1} +
  (1 - a_t) * c_t`, with `(a, c) = decay(P)` elementwise from the projected gates
  P = `project(params, x)` (B, T, G*U).
- `complex_diag(u, lam, s0, mask)`: `s_t = lam * s_{t-1} + u_t`, complex numbers as
  [re | im] halves of the last axis: u (B, T, 2N), lam (2, N) = [re; im], s0 (B, 2N).

Engines: "native" runs C++ loops with a custom VJP. For the gated cells the loop takes x
itself (`rnnkit/core/native/min_rnn.cc`: per block of steps, the projection GEMM into a
cache-resident tile, then bias, gates and recurrence; the reverse loop accumulates dW and db
per block), so a forward pass is one GEMM plus one pass over its output and no (B, T, G*U)
array is written at inference. For LRU (`lru.cc`) the loop runs after the projection GEMM,
its reverse pass the adjoint recurrence. "xla" is a `lax.scan` of the elementwise step
(autodiff). Measured on the 2-core dev VM at B8 T4096 U256 (forward / gradient of the bare
recurrence): lax.scan 73 / 115 ms, a blocked two-level scan (64-step blocks) 103 / 282 ms,
`lax.associative_scan` 123 / 243 ms. `engine(source, dtype)` picks native wherever it loads
(CPU backend, float32, AVX-512F).
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax import lax

from rnnkit import config
from rnnkit.core import native
from rnnkit.core.native import ffi

__all__ = ["engine", "gated", "complex_diag"]


GATED_SOURCE = "min_rnn.cc"  # rnnkit_{mingru,minlstm}_{forward,backward}
COMPLEX_SOURCE = "lru.cc"  # rnnkit_lru_{forward,backward}


def engine(source: str, dtype) -> str:
    """"native" when the C++ loops in `source` apply to arrays of `dtype`, else "xla".
    (Builds the native library on first use, once per machine.)"""
    if (not config.native_kernels_enabled() or jnp.dtype(dtype) != jnp.float32
            or jax.default_backend() != "cpu"):
        return "xla"
    return "native" if native.load(source) else "xla"


def _call(name, shapes, *args):
    source = COMPLEX_SOURCE if name.startswith("rnnkit_lru_") else GATED_SOURCE
    return ffi.call(source, name, shapes, *args)


_opt = ffi.opt


def lead(v, like):
    """v (..., N) with leading unit axes to the rank of `like` (explicit broadcasting: the
    tests run with jax_numpy_rank_promotion="raise")."""
    return v.reshape((1,) * (like.ndim - v.ndim) + v.shape)


def _time_major(a):
    return jnp.swapaxes(a, 0, 1)


# --- gated: h = a h + (1 - a) c ----------------------------------------------------------

def gated(decay: Callable, P, h0, mask=None, *, return_sequences=True):
    """Runs `h_t = a_t * h_{t-1} + (1 - a_t) * c_t` over P (B, T, G*U) as a `lax.scan`.

    Args:
        decay: `P -> (a, c)`, elementwise, each (..., U).
        h0: (B, U); mask: bool (B, T) or None.

    Returns:
        `(hs (B, T, U) or None, hT (B, U))`.
    """
    a, c = decay(P)
    xs = (_time_major(a), _time_major(c))
    if mask is not None:
        xs = xs + (_time_major(mask),)

    def body(h, inp):
        new = inp[1] + inp[0] * (h - inp[1])
        if mask is not None:
            new = jnp.where(inp[2][:, None], new, h)
        return new, (new if return_sequences else None)

    hT, hs = lax.scan(body, h0, xs)
    return (_time_major(hs) if return_sequences else None), hT


# The native form takes x itself: projection, bias, gates and recurrence are one C++ loop
# over blocks of steps (GATED_SOURCE). For the backward pass it saves P and the state before
# each block (hc), and its reverse loop recomputes a block's states, then accumulates dW and
# db from the block's gate gradients while they are in cache: no (B, T, G*U) gradient and no
# (B, T, U) state sequence is written for it. dx needs dP: a second reverse loop
# (`gate_grads`) and an XLA GEMM, both dropped by XLA when nothing uses dx (an input
# layer's x).
GATED_BLOCK = 96  # kSteps of min_rnn.cc: steps per block, one saved state per block


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _gated_native(kind, seq, xs, kernel, bias, h0, mask):
    hs, hT, _, _ = _gated_native_forward(kind, seq, False, xs, kernel, bias, h0, mask)
    return hs, hT


def _gated_native_forward(kind, seq, save, xs, kernel, bias, h0, mask):
    B, T, _ = xs.shape
    U = h0.shape[-1]
    blocks = -(-T // GATED_BLOCK)
    hs, hT, P, hc = _call(f"rnnkit_{kind}_forward",
                          [(B, T, U) if seq else (0,), (B, U),
                           (B, T, kernel.shape[-1]) if save else (0,),
                           (B, blocks, U) if save else (0,)],
                          xs, kernel, bias, h0, mask)
    return (hs if seq else None), hT, P, hc


def _gated_native_fwd(kind, seq, xs, kernel, bias, h0, mask):
    hs, hT, P, hc = _gated_native_forward(kind, seq, True, xs, kernel, bias, h0, mask)
    return (hs, hT), (xs, kernel, bias, P, hc, mask)


def _gated_native_bwd(kind, seq, res, cts):
    xs, kernel, bias, P, hc, mask = res
    d_hs, d_hT = cts
    d_hs = _opt(d_hs if seq else None)
    dW, db, dh0 = _call(f"rnnkit_{kind}_backward", [kernel.shape, kernel.shape[-1:],
                                                     d_hT.shape],
                        xs, P, hc, mask, d_hs, d_hT)
    dP, = _call(f"rnnkit_{kind}_gate_grads", [P.shape], P, hc, mask, d_hs, d_hT)
    B, T, D = xs.shape
    dxs = (dP.reshape(B * T, -1) @ kernel.T).reshape(B, T, D)
    return dxs, dW, (db if bias.shape[0] else jnp.zeros_like(bias)), dh0, None


_gated_native.defvjp(_gated_native_fwd, _gated_native_bwd)


# --- complex diagonal: s = lam s + u -------------------------------------------------------

def complex_diag(u, lam, s0, mask=None, *, return_sequences=True, use_engine="xla"):
    """Runs `s_t = lam * s_{t-1} + u_t` (complex, diagonal lam) over u (B, T, 2N).

    Complex values are [re | im] halves of the last axis; lam is (2, N) = [re; im].

    Returns:
        `(S (B, T, 2N) or None, sT (B, 2N))`.
    """
    if use_engine == "native":
        return _complex_native(bool(return_sequences), u, lam, s0, _opt(mask, jnp.bool_))
    N = lam.shape[-1]
    lr, li = lam[0], lam[1]
    xs = (_time_major(u),) + ((_time_major(mask),) if mask is not None else ())

    def body(s, inp):
        re, im = s[:, :N], s[:, N:]
        a, c = lead(lr, re), lead(li, re)
        new = jnp.concatenate([a * re - c * im, c * re + a * im], -1) + inp[0]
        if mask is not None:
            new = jnp.where(inp[1][:, None], new, s)
        return new, (new if return_sequences else None)

    sT, S = lax.scan(body, s0, xs)
    return (_time_major(S) if return_sequences else None), sT


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _complex_native(seq, u, lam, s0, mask):
    B, T, N2 = u.shape
    S, sT = _call("rnnkit_lru_forward", [(B, T, N2) if seq else (0,), (B, N2)],
                  u, lam, s0, mask)
    return (S if seq else None), sT


def _complex_native_fwd(seq, u, lam, s0, mask):
    B, T, N2 = u.shape
    S, sT = _call("rnnkit_lru_forward", [(B, T, N2), (B, N2)], u, lam, s0, mask)
    return ((S if seq else None), sT), (S, lam, s0, mask)


def _complex_native_bwd(seq, res, cts):
    S, lam, s0, mask = res
    d_S, d_sT = cts
    du, dlam, ds0 = _call("rnnkit_lru_backward", [S.shape, s0.shape, s0.shape], S, lam, s0,
                          mask, _opt(d_S if seq else None), d_sT)
    return du, dlam.sum(0).reshape(lam.shape), ds0, None


_complex_native.defvjp(_complex_native_fwd, _complex_native_bwd)


# --- Keras output masking over whole sequences -------------------------------------------

def last_valid_index(mask):
    """(B, T) bool -> (B, T) int: index of the last unmasked step <= t, -1 before any."""
    steps = jnp.arange(mask.shape[1], dtype=jnp.int32)
    return lax.cummax(jnp.where(mask, steps, -1), axis=1)


def mask_outputs(ys, mask, zero_output_for_mask, *, carried):
    """Keras's output rule for masked steps over a whole sequence ys (B, T, O): a masked step
    repeats the previous output (zeros before the first unmasked step), or outputs zeros
    with `zero_output_for_mask`. `carried`: ys already holds the carried value at masked
    steps (the output is the state), so only the leading steps need zeroing."""
    if mask is None:
        return ys
    if zero_output_for_mask:
        return jnp.where(mask[..., None], ys, jnp.zeros((), ys.dtype))
    idx = last_valid_index(mask)
    if not carried:
        ys = jnp.take_along_axis(ys, jnp.maximum(idx, 0)[..., None], axis=1)
    return jnp.where((idx >= 0)[..., None], ys, jnp.zeros((), ys.dtype))


def mask_last(last, mask, zero_output_for_mask):
    """The last output (B, O) under the same rule: `last` is the output of the last
    unmasked step (or of the last step with `zero_output_for_mask`)."""
    if mask is None:
        return last
    keep = mask[:, -1] if zero_output_for_mask else jnp.any(mask, axis=1)
    return jnp.where(keep[:, None], last, jnp.zeros((), last.dtype))


def gated_sequence(kind, project, decay, params, xs, state, mask=None, *,
                   return_sequences=True, zero_output_for_mask=False, use_engine="xla"):
    """A gated cell whose output is its state (MinGRU, MinLSTM) over xs (B, T, D) in
    processing order, params with `kernel` (D, G*U) and `bias` (G*U,) or None: on "xla",
    one GEMM `project` for all steps, then `gated`; on "native", one C++ loop (GATED_SOURCE
    handlers `rnnkit_<kind>_*`). Returns `(last_output, outputs or None, (hT,))` as
    `rnnkit.core.scan.scan_rnn`."""
    B, T, D = xs.shape
    if use_engine == "native" and params.kernel.dtype == jnp.float32:
        hs, hT = _gated_native(kind, bool(return_sequences), xs, params.kernel,
                               _opt(params.bias), state[0], _opt(mask, jnp.bool_))
    else:
        P = project(params, xs.reshape(B * T, D)).reshape(B, T, -1)
        hs, hT = gated(decay, P, state[0], mask, return_sequences=return_sequences)
    if return_sequences:
        hs = mask_outputs(hs, mask, zero_output_for_mask, carried=True)
    # hT is h after the last unmasked step, which is also h at the last step
    return mask_last(hT, mask, zero_output_for_mask), hs, (hT,)
