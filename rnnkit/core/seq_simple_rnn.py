"""SimpleRNN sequence kernels: primal loop, forward, reverse loop (see rnnkit.core.fused).
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core.seq_common import cast_w, cdt_of, flat, keep, mask_f, mm, prev_seq, scan, t_mm


def primal(cfg, p, xs, h0, mask, rm):
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
    return hs, hT


def forward(cfg, p, xs, h0, mask, rm):
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
    return (Hs if cfg.return_sequences else None, hT), (Z, Hs)


def backward(cfg, p, xs, h0, mask, rm, Z, Hs, d_hs, d_hT):
    act = cfg.activation
    cdt = cdt_of(cfg)
    T, B, D = xs.shape
    UT = cast_w(p.recurrent_kernel.T, cdt)
    Hprev = prev_seq(h0, Hs)
    track_rm = rm is not None
    res_seq = Hs if Z is None else Z

    def body(carry, inp):
        dh, drm = carry
        res_t, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = mask_f(m_t, dh.dtype)
        dh_n = dh if mf is None else dh * mf
        dz = act.grad(res_t, dh_n)
        dhr = mm(dz, UT, cdt)
        dh_p = dhr if rm is None else dhr * rm
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, drm), dz

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, drm), dZ = scan(body, (d_hT, drm0),
                           (res_seq, Hprev if track_rm else None, mask, d_hs),
                           reverse=True, unroll=cfg.plan.bwd_unroll)
    dZ2 = flat(dZ)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = t_mm(flat(xs), dZ2, cdt)
    dU = t_mm(flat(HR), dZ2, cdt)
    db = None if p.bias is None else jnp.sum(dZ2, axis=0)
    dxs = mm(dZ2, cast_w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, dh0, drm
