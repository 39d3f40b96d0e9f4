"""The GRU time loops on rnnkit's native CPU library (rnnkit.core.native, `gru.cc`), both
reset_after modes.

Same signatures and results as rnnkit.core.seq_gru's `primal` / `forward` / `backward`
(reset_after=True, kind "gru") and `*_v1` (reset_after=False, kind "gru_v1"). The forward
saves the gates in one (T, B, 4H) array [z, r, hh, (h rm) U_h + b_rec_h] (reset_after) or
(T, B, 3H) [z, r, hh]. The reverse loop returns the per-step gradients of the gate
pre-activations: z and r (T, B, 2H), the candidate (T, B, H) and, with reset_after, the
candidate's recurrent part (T, B, H). From them `seq_gru.param_grads` / `param_grads_v1`
compute dW, dU, db and dx as single XLA GEMMs over all T*B rows, as the XLA engine does
after its loop.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core import seq_gru
from rnnkit.core.seq_common import flat
from rnnkit.core.seq_native import _attrs, _call, _empty, _opt


def _run(cfg, p, xs, h0, mask, rm, *, reset_after: bool, hs: bool, train: bool):
    T, B, _ = xs.shape
    H = h0.shape[-1]
    G = (4 if reset_after else 3) * H
    bias = _empty() if p.bias is None else p.bias.reshape(-1)
    return _call("rnnkit_gru_forward", [(T, B, H) if hs else (0,), (B, H),
                                        (T, B, G) if train else (0,)],
                 xs, p.kernel, p.recurrent_kernel, bias, h0, _opt(mask, jnp.bool_), _opt(rm),
                 reset_after=int(reset_after), **_attrs(cfg))


class _Loops:
    """primal / forward / backward of one GRU mode, under the names rnnkit.core.fused
    dispatches on."""

    def __init__(self, reset_after: bool):
        self.reset_after = reset_after

    def primal(self, cfg, p, xs, h0, mask, rm):
        hs, hT, _ = _run(cfg, p, xs, h0, mask, rm, reset_after=self.reset_after,
                         hs=cfg.return_sequences, train=False)
        return (hs if cfg.return_sequences else None), hT

    def forward(self, cfg, p, xs, h0, mask, rm):
        Hs, hT, G = _run(cfg, p, xs, h0, mask, rm, reset_after=self.reset_after, hs=True,
                         train=True)
        return (Hs if cfg.return_sequences else None, hT), (G, Hs)

    def backward(self, cfg, p, xs, h0, mask, rm, G, Hs, d_hs, d_hT):
        T, B, _ = xs.shape
        H = h0.shape[-1]
        ra = self.reset_after
        track_rm = rm is not None
        # dZR (T, B, 2H), dPH (T, B, H) and, with reset_after, dPHR = dPH * r (T, B, H)
        dZR, dPH, dPHR, dh0, drm = _call(
            "rnnkit_gru_backward",
            [(T, B, 2 * H), (T, B, H), (T, B, H) if ra else (0,), (B, H),
             (B, H) if track_rm else (0,)],
            p.recurrent_kernel, G, Hs, h0, _opt(mask, jnp.bool_), _opt(rm), _opt(d_hs), d_hT,
            reset_after=int(ra), **_attrs(cfg))
        if ra:
            dp, dxs = seq_gru.param_grads(cfg, p, xs, h0, Hs, rm, flat(dZR), flat(dPH),
                                          flat(dPHR))
        else:
            dp, dxs = seq_gru.param_grads_v1(cfg, p, xs, h0, Hs, rm, G[..., H:2 * H],
                                             flat(dZR), flat(dPH))
        return dp, dxs, dh0, (drm if track_rm else None)


_LOOPS = {"gru": _Loops(True), "gru_v1": _Loops(False)}


def loops(kind):
    """The native primal / forward / backward of "gru" (reset_after=True) or "gru_v1"."""
    try:
        return _LOOPS[kind]
    except KeyError:
        raise ValueError(f"no native GRU loops for cell kind {kind!r}") from None
