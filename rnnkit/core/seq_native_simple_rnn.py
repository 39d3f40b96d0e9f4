"""The SimpleRNN time loops on rnnkit's native CPU library (rnnkit.core.native/simple_rnn.cc).

Same signatures and results as `rnnkit.core.seq_simple_rnn` (see rnnkit.core.fused for the
contract). The forward saves the states Hs (the activation's derivative comes from its
output, so the residuals are `(None, Hs)` like the XLA engine's for tanh / sigmoid /
linear). The reverse loop returns dxs, dW, dU and db itself, as the LSTM's does
(rnnkit.core.seq_native): dx per step, dW and dU from >= 64 buffered rows at a time, so no
(T, B, H) gradient array is written.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core.seq_native import ACT_CODES, _call, _opt


def _attrs(cfg):
    # SimpleRNN has no recurrent activation: only `act`
    return dict(act=ACT_CODES[cfg.activation.kind], threads=int(cfg.plan.threads))


def _run(cfg, p, xs, h0, mask, rm, *, hs: bool):
    T, B, _ = xs.shape
    H = h0.shape[-1]
    return _call("rnnkit_simple_rnn_forward", [(T, B, H) if hs else (0,), (B, H)], xs,
                 p.kernel, p.recurrent_kernel, _opt(p.bias), h0, _opt(mask, jnp.bool_),
                 _opt(rm), **_attrs(cfg))


def primal(cfg, p, xs, h0, mask, rm):
    hs, hT = _run(cfg, p, xs, h0, mask, rm, hs=cfg.return_sequences)
    return (hs if cfg.return_sequences else None), hT


def forward(cfg, p, xs, h0, mask, rm):
    Hs, hT = _run(cfg, p, xs, h0, mask, rm, hs=True)
    return (Hs if cfg.return_sequences else None, hT), (None, Hs)


def backward(cfg, p, xs, h0, mask, rm, Z, Hs, d_hs, d_hT):
    del Z  # always None here: the native engine only runs tanh / sigmoid / linear
    T, B, D = xs.shape
    H = h0.shape[-1]
    track_rm = rm is not None
    has_bias = p.bias is not None
    dxs, dW, dU, db, dh0, drm = _call(
        "rnnkit_simple_rnn_backward",
        [(T, B, D), (D, H), (H, H), (H,) if has_bias else (0,), (B, H),
         (B, H) if track_rm else (0,)],
        xs, p.kernel, p.recurrent_kernel, Hs, h0, _opt(mask, jnp.bool_), _opt(rm), _opt(d_hs),
        d_hT, **_attrs(cfg))
    dp = type(p)(dW, dU, db if has_bias else None)
    return dp, dxs, dh0, (drm if track_rm else None)


class _Loops:
    """The SimpleRNN loops, under the names `rnnkit.core.fused` dispatches on."""

    primal = staticmethod(primal)
    forward = staticmethod(forward)
    backward = staticmethod(backward)


LOOPS = _Loops
