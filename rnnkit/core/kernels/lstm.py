"""The LSTM cell kind: its spec (`KERNEL`), XLA sequence kernels and native loops.

Gate order i, f, c, o; state (h, c). The sequence kernels follow the contract of
`rnnkit.core.kernels.spec.SequenceKernels`: primal (inference) loop, forward saving the
gates, reverse loop; the native loops (lstm.cc) also compute dx per step and accumulate
dW, dU and db themselves, so no (T, B, 4H) gradient array is written.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core import cells
from rnnkit.core.kernels.common import (cast_w, cdt_of, flat, keep, mask_f, mm, prev_seq,
                                        scan, t_mm)
from rnnkit.core.kernels.spec import (CellKernel, ExplainText, SequenceKernels,
                                       dense_weight_shapes)
from rnnkit.core.native import ffi


def _lstm_cell(cfg, z, c):
    act, ract = cfg.activation, cfg.recurrent_activation
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c_new = ract(f) * c + ract(i) * act(g)
    h_new = ract(o) * act(c_new)
    return h_new, c_new


def primal(cfg, p, xs, state0, mask, rm):
    h0, c0 = state0
    cdt = cdt_of(cfg)
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias
    concat = cfg.plan.concat
    WU = jnp.concatenate([W, U], axis=0) if concat else None
    ret = cfg.return_sequences

    def body(carry, inp):
        h, c = carry
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            z = mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
        else:
            z = mm(x_t, W, cdt) + mm(hr, U, cdt)
        if b is not None:
            z = z + b[None, :]
        h_new, c_new = _lstm_cell(cfg, z, c)
        h_new, c_new = keep(m_t, h_new, h), keep(m_t, c_new, c)
        return (h_new, c_new), (h_new if ret else None)

    (hT, cT), hs = scan(body, (h0, c0), (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, (hT, cT)


def forward(cfg, p, xs, state0, mask, rm):
    h0, c0 = state0
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = cdt_of(cfg)
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias

    def body(carry, inp):
        h, c = carry
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        z = mm(x_t, W, cdt) + mm(hr, U, cdt)
        if b is not None:
            z = z + b[None, :]
        zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
        i, f, g, o = ract(zi), ract(zf), act(zg), ract(zo)
        c_new = f * c + i * g
        h_new = o * act(c_new)
        # four separate residual arrays: a concatenated (B, 4H) one costs an extra copy
        # per step (LSTM B64 H256 forward: 43.6 vs 36.8 ms)
        res = (ract.residual(zi, i), ract.residual(zf, f), act.residual(zg, g),
               ract.residual(zo, o))
        h_new, c_new = keep(m_t, h_new, h), keep(m_t, c_new, c)
        return (h_new, c_new), (res, h_new, c_new)

    (hT, cT), (G, Hs, Cs) = scan(body, (h0, c0), (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, (hT, cT)), (G, Hs, Cs)


def backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    h0, c0 = state0
    G, Hs, Cs = res
    d_hT, d_cT = d_final
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = cdt_of(cfg)
    T, B, D = xs.shape
    UT = cast_w(p.recurrent_kernel.T, cdt)
    Cprev = prev_seq(c0, Cs)
    Hprev = prev_seq(h0, Hs)
    track_rm = rm is not None

    def body(carry, inp):
        dh, dc, drm = carry
        g_t, c_t, c_prev, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = mask_f(m_t, dh.dtype)
        dh_n, dc_n = (dh, dc) if mf is None else (dh * mf, dc * mf)
        gi, gf, gg, go = g_t
        i, f, g, o = ract.post(gi), ract.post(gf), act.post(gg), ract.post(go)
        tc, dc_from_h = act.value_and_grad(c_t, dh_n * o)
        dc_tot = dc_n + dc_from_h
        dz = jnp.concatenate([ract.grad(gi, dc_tot * g), ract.grad(gf, dc_tot * c_prev),
                              act.grad(gg, dc_tot * i), ract.grad(go, dh_n * tc)], axis=-1)
        dhr = mm(dz, UT, cdt)
        dh_p = dhr if rm is None else dhr * rm
        dc_p = dc_tot * f
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
            dc_p = dc_p + dc * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, dc_p, drm), dz

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, dc0, drm), dZ = scan(
        body, (d_hT, d_cT, drm0), (G, Cs, Cprev, Hprev if track_rm else None, mask, d_hs),
        reverse=True, unroll=cfg.plan.bwd_unroll)
    dp, dxs = param_grads(cfg, p, xs, h0, Hs, rm, flat(dZ), Hprev=Hprev)
    return dp, dxs, (dh0, dc0), drm


def param_grads(cfg, p, xs, h0, Hs, rm, dZ2, *, Hprev=None):
    """dW, dU, db and dxs as single GEMMs over all T*B rows, from dZ2 (T*B, 4H) = the
    gradients of the gate pre-activations."""
    cdt = cdt_of(cfg)
    T, B, D = xs.shape
    if Hprev is None:
        Hprev = prev_seq(h0, Hs)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = t_mm(flat(xs), dZ2, cdt)
    dU = t_mm(flat(HR), dZ2, cdt)
    db = None if p.bias is None else jnp.sum(dZ2, axis=0)
    dxs = mm(dZ2, cast_w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs


# --- native loops (rnnkit/core/native/lstm.cc) ------------------------------------------------

SOURCE = "lstm.cc"


def _native_run(cfg, p, xs, h0, c0, mask, rm, *, hs: bool, train: bool):
    T, B, _ = ffi.tbd(cfg, xs)
    H = h0.shape[-1]
    seq = (B, T, H) if cfg.batch_major else (T, B, H)
    shapes = [seq if hs else (0,), (B, H), (B, H),
              (T, B, 4 * H) if train else (0,), (T, B, H) if train else (0,)]
    source, name = ffi.forward_handler(cfg, SOURCE)
    return ffi.call(source, name, shapes, ffi.f32(xs), p.kernel,
                    p.recurrent_kernel, ffi.opt(p.bias), h0, c0, ffi.opt(mask, jnp.bool_),
                    ffi.opt(rm),
                    **ffi.act_attrs(cfg), batch_major=int(cfg.batch_major))


def native_primal(cfg, p, xs, state0, mask, rm):
    h0, c0 = state0
    hs, hT, cT, _, _ = _native_run(cfg, p, xs, h0, c0, mask, rm, hs=cfg.return_sequences,
                                   train=False)
    return (hs if cfg.return_sequences else None), (hT, cT)


def native_forward(cfg, p, xs, state0, mask, rm):
    h0, c0 = state0
    Hs, hT, cT, G, Cs = _native_run(cfg, p, xs, h0, c0, mask, rm, hs=True, train=True)
    return (Hs if cfg.return_sequences else None, (hT, cT)), (G, Hs, Cs)


def native_backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    h0, c0 = state0
    G, Hs, Cs = res
    d_hT, d_cT = d_final
    T, B, D = ffi.tbd(cfg, xs)
    H = h0.shape[-1]
    track_rm = rm is not None
    has_bias = p.bias is not None
    source, prefix = ffi.native_source(cfg, SOURCE)
    # without dx (nothing differentiated reaches xs) the float32 loop's per-step GEMM is
    # dz @ U^T alone instead of dz @ [U^T | W^T]; the bf16 loop always writes dx
    need_dx = cfg.need_dx or source != SOURCE
    dxs, dW, dU, db, dh0, dc0, drm = ffi.call(
        source, prefix + "_backward",
        [xs.shape if need_dx else (0,), (D, 4 * H), (H, 4 * H),
         (4 * H,) if has_bias else (0,), (B, H), (B, H), (B, H) if track_rm else (0,)],
        ffi.f32(xs), p.kernel, p.recurrent_kernel, G, Cs, c0, Hs, h0, ffi.opt(mask, jnp.bool_),
        ffi.opt(rm), ffi.opt(d_hs), d_hT, d_cT, **ffi.act_attrs(cfg),
        batch_major=int(cfg.batch_major))
    dp = type(p)(dW, dU, db if has_bias else None)
    return (dp, dxs.astype(xs.dtype) if need_dx else None, (dh0, dc0),
            (drm if track_rm else None))


def native_bidirectional(cfg, pf, pb, xs, state_f, state_b):
    """Both directions' inference loops in one call (one thread each); see
    `SequenceKernels.bidirectional`."""
    B, T, _ = xs.shape
    H = state_f[0].shape[-1]
    ret = cfg.return_sequences
    hs, hT, cT = ffi.call(
        SOURCE, "rnnkit_lstm_bidirectional", [(B, T, 2 * H) if ret else (0,), (2, B, H),
                                             (2, B, H)],
        ffi.f32(xs), pf.kernel, pf.recurrent_kernel, ffi.opt(pf.bias), pb.kernel,
        pb.recurrent_kernel, ffi.opt(pb.bias), jnp.stack([state_f[0], state_b[0]]),
        jnp.stack([state_f[1], state_b[1]]), **ffi.act_attrs(cfg))
    return (hs if ret else None), (hT[0], cT[0]), (hT[1], cT[1])


STACK_SOURCE = "lstm_stack.cc"


def native_stack(cfgs, params, xs, states):
    """L stacked layers' inference loops in one call, as a wavefront over the layers
    (lstm_stack.cc); see `SequenceKernels.stack`."""
    B, T, _ = xs.shape
    units = [s[0].shape[-1] for s in states]
    ret = cfgs[-1].return_sequences
    operands = []
    for p, (h0, c0) in zip(params, states):
        operands += [p.kernel, p.recurrent_kernel, ffi.opt(p.bias), h0, c0]
    hs, flat_finals = ffi.call(
        STACK_SOURCE, "rnnkit_lstm_stack",
        [(B, T, units[-1]) if ret else (0,), (sum(2 * B * H for H in units),)],
        ffi.f32(xs), *operands, **ffi.act_attrs(cfgs[0]))
    finals, at = [], 0
    for H in units:
        hT = flat_finals[at:at + B * H].reshape(B, H)
        cT = flat_finals[at + B * H:at + 2 * B * H].reshape(B, H)
        finals.append((hT, cT))
        at += 2 * B * H
    return (hs if ret else None), tuple(finals)


KERNEL = CellKernel(
    kind="lstm",
    gates=4,
    states=("h", "c"),
    step=cells.lstm_step,
    equations=(
        ("z = x_t @ kernel + h_(t-1) @ recurrent_kernel{bias}", "(batch, {u4})"),
        ("i = {ract}(z[:, 0:{u}])", "input gate"),
        ("f = {ract}(z[:, {u}:{u2}])", "forget gate"),
        ("g = {act}(z[:, {u2}:{u3}])", "candidate cell values (the 'c' block)"),
        ("o = {ract}(z[:, {u3}:{u4}])", "output gate"),
        ("c_t = f * c_(t-1) + i * g", "new cell state"),
        ("h_t = o * {act}(c_t)", "new hidden state"),
        "output_t = h_t;  states = [h_t, c_t]",
    ),
    explain=ExplainText(gate_order="i, f, c, o",
                        activation_use="the candidate g and the output tanh(c_t)",
                        recurrent_gates="i, f and o", state_note=" (h and the cell state c)"),
    param_formula="4H·(D + H + 1)",  # + 1: the bias (use_bias=True)
    weight_shapes=dense_weight_shapes(4),
    xla=SequenceKernels(primal, forward, backward),
    native=SequenceKernels(native_primal, native_forward, native_backward, source=SOURCE,
                           bidirectional=native_bidirectional, stack=native_stack,
                           stack_source=STACK_SOURCE),
    native_bf16_source="lstm_bf16.cc",
    native_f32_split=True,
    batch_major=True,
    concat=True,
)
