"""The SimpleRNN cell kind: its spec (`KERNEL`), XLA sequence kernels and native loops.

State (h,). The sequence kernels follow `rnnkit.core.kernels.spec.SequenceKernels`. The
native forward (simple_rnn.cc) saves the states Hs (the activation's derivative comes from
its output, so the residuals are `(None, Hs)` like the XLA engine's for tanh / sigmoid /
linear); its reverse loop returns dxs, dW, dU and db itself, as the LSTM's does: dx per
step, dW and dU from >= 64 buffered rows at a time, so no (T, B, H) gradient array is
written.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core import cells
from rnnkit.core.kernels.common import (cast_w, cdt_of, flat, keep, mm, prev_seq,
                                        reverse_h_loop, scan, t_mm)
from rnnkit.core.kernels.spec import (CellKernel, ExplainText, SequenceKernels,
                                       dense_weight_shapes)
from rnnkit.core.native import ffi


def primal(cfg, p, xs, state0, mask, rm):
    (h0,) = state0
    act = cfg.activation
    cdt = cdt_of(cfg)
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias
    concat = cfg.plan.concat
    WU = jnp.concatenate([W, U], axis=0) if concat else None
    ret = cfg.return_sequences

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            z = mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if b is not None:
                z = z + b[None, :]
        else:
            z = mm(x_t, W, cdt)
            if b is not None:
                z = z + b[None, :]
            z = z + mm(hr, U, cdt)
        h_new = keep(m_t, act(z), h)
        return h_new, (h_new if ret else None)

    hT, hs = scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, (hT,)


def forward(cfg, p, xs, state0, mask, rm):
    (h0,) = state0
    act = cfg.activation
    cdt = cdt_of(cfg)
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias
    save_pre = act.kind is None

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        z = mm(x_t, W, cdt)
        if b is not None:
            z = z + b[None, :]
        z = z + mm(hr, U, cdt)
        y = act(z)
        h_new = keep(m_t, y, h)
        if save_pre:
            return h_new, (z, h_new)
        # masked steps get a zero gradient, so the kept state can stand in for y there
        return h_new, h_new

    if save_pre:
        hT, (Z, Hs) = scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    else:
        hT, Hs = scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
        Z = None
    return (Hs if cfg.return_sequences else None, (hT,)), (Z, Hs)


def backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    Z, Hs = res
    act = cfg.activation
    cdt = cdt_of(cfg)
    T, B, D = xs.shape
    UT = cast_w(p.recurrent_kernel.T, cdt)
    Hprev = prev_seq(h0, Hs)
    track_rm = rm is not None
    res_seq = Hs if Z is None else Z

    def step_grads(dh_n, res_t, h_prev):
        dz = act.grad(res_t, dh_n)
        return mm(dz, UT, cdt), None, dz

    (dh0, drm), dZ = reverse_h_loop(cfg, rm, res_seq, Hprev if track_rm else None, mask,
                                    d_hs, d_hT, step_grads)
    dZ2 = flat(dZ)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = t_mm(flat(xs), dZ2, cdt)
    dU = t_mm(flat(HR), dZ2, cdt)
    db = None if p.bias is None else jnp.sum(dZ2, axis=0)
    dxs = mm(dZ2, cast_w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, (dh0,), drm


# --- native loops (rnnkit/core/native/simple_rnn.cc; simple_rnn_bf16.cc for bf16) --------

SOURCE = "simple_rnn.cc"


def _native_run(cfg, p, xs, h0, mask, rm, *, hs: bool):
    T, B, _ = xs.shape
    H = h0.shape[-1]
    source, prefix = ffi.native_source(cfg, SOURCE)
    return ffi.call(source, prefix + "_forward", [(T, B, H) if hs else (0,), (B, H)],
                    ffi.f32(xs), p.kernel, p.recurrent_kernel, ffi.opt(p.bias), h0,
                    ffi.opt(mask, jnp.bool_), ffi.opt(rm),
                    **ffi.act_attrs(cfg, recurrent=False))


def native_primal(cfg, p, xs, state0, mask, rm):
    hs, hT = _native_run(cfg, p, xs, state0[0], mask, rm, hs=cfg.return_sequences)
    return (hs if cfg.return_sequences else None), (hT,)


def native_forward(cfg, p, xs, state0, mask, rm):
    Hs, hT = _native_run(cfg, p, xs, state0[0], mask, rm, hs=True)
    return (Hs if cfg.return_sequences else None, (hT,)), (None, Hs)


def native_backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    _, Hs = res  # res[0] is always None: the native engine runs tanh / sigmoid / linear only
    T, B, D = xs.shape
    H = h0.shape[-1]
    track_rm = rm is not None
    has_bias = p.bias is not None
    source, prefix = ffi.native_source(cfg, SOURCE)
    dxs, dW, dU, db, dh0, drm = ffi.call(
        source, prefix + "_backward",
        [(T, B, D), (D, H), (H, H), (H,) if has_bias else (0,), (B, H),
         (B, H) if track_rm else (0,)],
        ffi.f32(xs), p.kernel, p.recurrent_kernel, Hs, h0, ffi.opt(mask, jnp.bool_), ffi.opt(rm),
        ffi.opt(d_hs), d_hT, **ffi.act_attrs(cfg, recurrent=False))
    dp = type(p)(dW, dU, db if has_bias else None)
    return dp, dxs.astype(xs.dtype), (dh0,), (drm if track_rm else None)


KERNEL = CellKernel(
    kind="simple_rnn",
    gates=1,
    states=("h",),
    step=cells.simple_rnn_step,
    equations=(
        ("h_t = {act}(x_t @ kernel{bias} + h_(t-1) @ recurrent_kernel)", "(batch, {u})"),
        "output_t = h_t;  state = [h_t]",
    ),
    explain=ExplainText(gate_order="(one block)", activation_use="the new state h_t"),
    param_formula="H·(D + H + 1)",  # + 1: the bias (use_bias=True)
    weight_shapes=dense_weight_shapes(1),
    xla=SequenceKernels(primal, forward, backward),
    native=SequenceKernels(native_primal, native_forward, native_backward, source=SOURCE),
    native_bf16_source="simple_rnn_bf16.cc",
    concat=True,
)
