"""Fused sequence kernels for the built-in cells (SimpleRNN, LSTM, GRU both reset_after modes).

`run_sequence(cfg, params, xs, state0, mask, rec_mask)` computes the whole recurrence of one
layer as a `jax.custom_vjp` function:

- primal (inference, not differentiated): one `lax.scan`, x_t @ W inside the step, unroll and
  the optional concatenated [x_t, h] @ [[W], [U]] dot chosen by `rnnkit.core.policy`;
- forward under differentiation: one `lax.scan` that also saves the gate activations
  (post-activation for tanh / sigmoid / linear, pre-activation for any other activation,
  whose derivative is then taken with `jax.vjp` in the backward);
- backward: one reverse `lax.scan` doing only the elementwise gate gradients and
  dz @ U^T per step; dW, dU, db and dx are then single GEMMs / reductions over all T*B rows.

Semantics are those of `rnnkit.core.scan.scan_rnn` over `rnnkit.core.cells.*_step`:
`xs` is time-major (T, B, D) and already in processing order (flipped for go_backwards) and
already multiplied by the input-dropout mask; `mask` (T, B) bool keeps the previous state
where False; `rec_mask` (B, H) multiplies h before every h @ U (variational recurrent
dropout). Returns `(hs, final_state)`: hs (T, B, H) the state h after every step (None when
`cfg.return_sequences` is False), final_state `h` or `(h, c)` for LSTM. Output masking
(repeat the previous output / zeros) is applied by the caller with ordinary ops.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from rnnkit import activations as _acts
from rnnkit.core.policy import Plan


# --- activations with cheap derivatives --------------------------------------------------

def _analytic_kinds():
    table = {}
    for fn in (_acts.tanh, jnp.tanh):
        table[fn] = "tanh"
    for fn in (_acts.sigmoid, jax.nn.sigmoid):
        table[fn] = "sigmoid"
    table[_acts.linear] = "linear"
    return table


_ANALYTIC = _analytic_kinds()


@dataclasses.dataclass(frozen=True)
class Act:
    """An activation and how its derivative is taken in the backward loop.

    tanh / sigmoid / linear: from the saved output (the residual IS the activation);
    anything else: the residual is the pre-activation, the derivative comes from `jax.vjp`.
    """

    fn: Callable

    @property
    def kind(self) -> Optional[str]:
        return _ANALYTIC.get(self.fn)

    def __call__(self, x):
        return self.fn(x)

    def residual(self, pre, post):
        return post if self.kind is not None else pre

    def post(self, res):
        return res if self.kind is not None else self.fn(res)

    def grad(self, res, g):
        """g * act'(pre), from the residual."""
        kind = self.kind
        if kind == "tanh":
            return g * (1.0 - res * res)
        if kind == "sigmoid":
            return g * (res * (1.0 - res))
        if kind == "linear":
            return g
        return jax.vjp(self.fn, res)[1](g)[0]

    def value_and_grad(self, pre, g):
        """(act(pre), g * act'(pre)) from the pre-activation."""
        kind = self.kind
        if kind is not None:
            y = self.fn(pre)
            return y, self.grad(y, g)
        y, vjp = jax.vjp(self.fn, pre)
        return y, vjp(g)[0]


@dataclasses.dataclass(frozen=True)
class SeqConfig:
    kind: str  # "simple_rnn" | "lstm" | "gru" (reset_after=True) | "gru_v1"
    activation: Act
    recurrent_activation: Optional[Act]
    return_sequences: bool
    plan: Plan


# --- small helpers ----------------------------------------------------------------------

def _cdt(cfg):
    return jnp.bfloat16 if cfg.plan.compute_dtype == "bfloat16" else None


def _w(w, cdt):
    return w if cdt is None else w.astype(cdt)


def _mm(a, w, cdt):
    if cdt is None:
        return a @ w
    return jnp.dot(a.astype(cdt), w, preferred_element_type=jnp.float32)


def _t_mm(a2, b2, cdt=None):
    """a2^T @ b2 for 2-D a2 (N, P), b2 (N, Q): one GEMM contracting the rows."""
    if cdt is not None:
        return lax.dot_general(a2.astype(cdt), b2.astype(cdt), (((0,), (0,)), ((), ())),
                               preferred_element_type=jnp.float32)
    return lax.dot_general(a2, b2, (((0,), (0,)), ((), ())))


def _keep(m_t, new, old):
    return new if m_t is None else jnp.where(m_t[:, None], new, old)


def _prev_seq(first, seq):
    """(T, B, H): the state before each step, from the initial state and the states after."""
    return jnp.concatenate([first[None], seq[:-1]], axis=0)


def _flat(a):
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def _mask_f(m_t, dtype):
    return None if m_t is None else m_t[:, None].astype(dtype)


def _scan(body, init, xs, *, reverse=False, unroll=1):
    return lax.scan(body, init, xs, reverse=reverse, unroll=max(int(unroll), 1))


# ======================================================================================
# LSTM
# ======================================================================================

def _lstm_cell(cfg, z, c):
    act, ract = cfg.activation, cfg.recurrent_activation
    i, f, g, o = jnp.split(z, 4, axis=-1)
    c_new = ract(f) * c + ract(i) * act(g)
    h_new = ract(o) * act(c_new)
    return h_new, c_new


def _lstm_primal(cfg, p, xs, h0, c0, mask, rm):
    cdt = _cdt(cfg)
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias
    concat = cfg.plan.concat
    WU = jnp.concatenate([W, U], axis=0) if concat else None
    ret = cfg.return_sequences

    def body(carry, inp):
        h, c = carry
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            z = _mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
        else:
            z = _mm(x_t, W, cdt) + _mm(hr, U, cdt)
        if b is not None:
            z = z + b[None, :]
        h_new, c_new = _lstm_cell(cfg, z, c)
        h_new, c_new = _keep(m_t, h_new, h), _keep(m_t, c_new, c)
        return (h_new, c_new), (h_new if ret else None)

    (hT, cT), hs = _scan(body, (h0, c0), (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, (hT, cT)


def _lstm_forward(cfg, p, xs, h0, c0, mask, rm):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias

    def body(carry, inp):
        h, c = carry
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        z = _mm(x_t, W, cdt) + _mm(hr, U, cdt)
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
        h_new, c_new = _keep(m_t, h_new, h), _keep(m_t, c_new, c)
        return (h_new, c_new), (res, h_new, c_new)

    (hT, cT), (G, Hs, Cs) = _scan(body, (h0, c0), (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, (hT, cT)), (G, Hs, Cs)


def _lstm_backward(cfg, p, xs, h0, c0, mask, rm, G, Hs, Cs, d_hs, d_hT, d_cT):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    T, B, D = xs.shape
    UT = _w(p.recurrent_kernel.T, cdt)
    Cprev = _prev_seq(c0, Cs)
    Hprev = _prev_seq(h0, Hs)
    track_rm = rm is not None

    def body(carry, inp):
        dh, dc, drm = carry
        g_t, c_t, c_prev, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = _mask_f(m_t, dh.dtype)
        dh_n, dc_n = (dh, dc) if mf is None else (dh * mf, dc * mf)
        gi, gf, gg, go = g_t
        i, f, g, o = ract.post(gi), ract.post(gf), act.post(gg), ract.post(go)
        tc, dc_from_h = act.value_and_grad(c_t, dh_n * o)
        dc_tot = dc_n + dc_from_h
        dz = jnp.concatenate([ract.grad(gi, dc_tot * g), ract.grad(gf, dc_tot * c_prev),
                              act.grad(gg, dc_tot * i), ract.grad(go, dh_n * tc)], axis=-1)
        dhr = _mm(dz, UT, cdt)
        dh_p = dhr if rm is None else dhr * rm
        dc_p = dc_tot * f
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
            dc_p = dc_p + dc * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, dc_p, drm), dz

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, dc0, drm), dZ = _scan(
        body, (d_hT, d_cT, drm0), (G, Cs, Cprev, Hprev if track_rm else None, mask, d_hs),
        reverse=True, unroll=cfg.plan.bwd_unroll)
    dZ2 = _flat(dZ)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = _t_mm(_flat(xs), dZ2, cdt)
    dU = _t_mm(_flat(HR), dZ2, cdt)
    db = None if p.bias is None else jnp.sum(dZ2, axis=0)
    dxs = _mm(dZ2, _w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, dh0, dc0, drm


# ======================================================================================
# GRU, reset_after=True (Keras 3 default, CuDNN-compatible)
# ======================================================================================

def _gru_biases(b):
    if b is None:
        return None, None
    return b[0], b[1]


def _gru_primal(cfg, p, xs, h0, mask, rm):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    W, U = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt)
    b_in, b_rec = _gru_biases(p.bias)
    H = h0.shape[-1]
    concat = cfg.plan.concat
    ret = cfg.return_sequences
    if concat:
        # [x, h] @ [[W_zr, W_h, 0], [U_zr, 0, U_h]] -> [x_zr + u_zr, x_h, u_h]
        D = W.shape[0]
        zeros_x = jnp.zeros((D, H), W.dtype)
        zeros_h = jnp.zeros((H, H), U.dtype)
        WU = jnp.concatenate([
            jnp.concatenate([W[:, :2 * H], W[:, 2 * H:], zeros_x], axis=1),
            jnp.concatenate([U[:, :2 * H], zeros_h, U[:, 2 * H:]], axis=1)], axis=0)
        bcat = None if b_in is None else jnp.concatenate(
            [b_in[:2 * H] + b_rec[:2 * H], b_in[2 * H:], b_rec[2 * H:]])

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            s = _mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if bcat is not None:
                s = s + bcat[None, :]
            zr, x_h, u_h = s[:, :2 * H], s[:, 2 * H:3 * H], s[:, 3 * H:]
            z, r = ract(zr[:, :H]), ract(zr[:, H:])
        else:
            xw = _mm(x_t, W, cdt)
            hu = _mm(hr, U, cdt)
            if b_in is not None:
                xw = xw + b_in[None, :]
                hu = hu + b_rec[None, :]
            x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
            u_z, u_r, u_h = jnp.split(hu, 3, axis=-1)
            z, r = ract(x_z + u_z), ract(x_r + u_r)
        hh = act(x_h + r * u_h)
        h_new = _keep(m_t, z * h + (1.0 - z) * hh, h)
        return h_new, (h_new if ret else None)

    hT, hs = _scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, hT


def _gru_forward(cfg, p, xs, h0, mask, rm):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    W, U = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt)
    b_in, b_rec = _gru_biases(p.bias)

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        xw = _mm(x_t, W, cdt)
        hu = _mm(hr, U, cdt)
        if b_in is not None:
            xw = xw + b_in[None, :]
            hu = hu + b_rec[None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_z, u_r, u_h = jnp.split(hu, 3, axis=-1)
        pz, pr = x_z + u_z, x_r + u_r
        z, r = ract(pz), ract(pr)
        ph = x_h + r * u_h
        hh = act(ph)
        h_new = _keep(m_t, z * h + (1.0 - z) * hh, h)
        res = (ract.residual(pz, z), ract.residual(pr, r), act.residual(ph, hh), u_h)
        return h_new, (res, h_new)

    hT, (G, Hs) = _scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, hT), (G, Hs)


def _gru_backward(cfg, p, xs, h0, mask, rm, G, Hs, d_hs, d_hT):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    T, B, D = xs.shape
    UT = _w(p.recurrent_kernel.T, cdt)
    Hprev = _prev_seq(h0, Hs)
    track_rm = rm is not None

    def body(carry, inp):
        dh, drm = carry
        g_t, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = _mask_f(m_t, dh.dtype)
        dh_n = dh if mf is None else dh * mf
        gz, gr, gh, u_h = g_t
        z, r, hh = ract.post(gz), ract.post(gr), act.post(gh)
        dph = act.grad(gh, dh_n * (1.0 - z))
        dpz = ract.grad(gz, dh_n * (h_prev - hh))
        dpr = ract.grad(gr, dph * u_h)
        dxw = jnp.concatenate([dpz, dpr, dph], axis=-1)
        dhu = jnp.concatenate([dpz, dpr, dph * r], axis=-1)
        dhr = _mm(dhu, UT, cdt)
        dh_p = (dhr if rm is None else dhr * rm) + dh_n * z
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, drm), (dxw, dhu)

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, drm), (dXW, dHU) = _scan(body, (d_hT, drm0), (G, Hprev, mask, d_hs),
                                   reverse=True, unroll=cfg.plan.bwd_unroll)
    dXW2, dHU2 = _flat(dXW), _flat(dHU)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = _t_mm(_flat(xs), dXW2, cdt)
    dU = _t_mm(_flat(HR), dHU2, cdt)
    db = None if p.bias is None else jnp.stack([jnp.sum(dXW2, 0), jnp.sum(dHU2, 0)])
    dxs = _mm(dXW2, _w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, dh0, drm


# ======================================================================================
# GRU, reset_after=False (the reset gate multiplies h before h @ U_h)
# ======================================================================================

def _gru1_primal(cfg, p, xs, h0, mask, rm):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    H = h0.shape[-1]
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias
    U_zr, U_h = U[:, :2 * H], U[:, 2 * H:]
    concat = cfg.plan.concat
    ret = cfg.return_sequences
    if concat:
        # [x, h] @ [[W_z, W_r, W_h], [U_z, U_r, 0]] -> [x_zr + u_zr, x_h]
        WU = jnp.concatenate([W, jnp.concatenate(
            [U_zr, jnp.zeros((H, H), U.dtype)], axis=1)], axis=0)

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            s = _mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if b is not None:
                s = s + b[None, :]
            z, r, x_h = ract(s[:, :H]), ract(s[:, H:2 * H]), s[:, 2 * H:]
        else:
            xw = _mm(x_t, W, cdt)
            if b is not None:
                xw = xw + b[None, :]
            x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
            u_zr = _mm(hr, U_zr, cdt)
            z, r = ract(x_z + u_zr[:, :H]), ract(x_r + u_zr[:, H:])
        hh = act(x_h + _mm(r * hr, U_h, cdt))
        h_new = _keep(m_t, z * h + (1.0 - z) * hh, h)
        return h_new, (h_new if ret else None)

    hT, hs = _scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, hT


def _gru1_forward(cfg, p, xs, h0, mask, rm):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    H = h0.shape[-1]
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias
    U_zr, U_h = U[:, :2 * H], U[:, 2 * H:]

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        xw = _mm(x_t, W, cdt)
        if b is not None:
            xw = xw + b[None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_zr = _mm(hr, U_zr, cdt)
        pz, pr = x_z + u_zr[:, :H], x_r + u_zr[:, H:]
        z, r = ract(pz), ract(pr)
        ph = x_h + _mm(r * hr, U_h, cdt)
        hh = act(ph)
        h_new = _keep(m_t, z * h + (1.0 - z) * hh, h)
        res = (ract.residual(pz, z), ract.residual(pr, r), act.residual(ph, hh))
        return h_new, (res, h_new)

    hT, (G, Hs) = _scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, hT), (G, Hs)


def _gru1_backward(cfg, p, xs, h0, mask, rm, G, Hs, d_hs, d_hT):
    act, ract = cfg.activation, cfg.recurrent_activation
    cdt = _cdt(cfg)
    T, B, D = xs.shape
    H = h0.shape[-1]
    U = p.recurrent_kernel
    U_zrT, U_hT = _w(U[:, :2 * H].T, cdt), _w(U[:, 2 * H:].T, cdt)
    Hprev = _prev_seq(h0, Hs)
    track_rm = rm is not None

    def body(carry, inp):
        dh, drm = carry
        g_t, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = _mask_f(m_t, dh.dtype)
        dh_n = dh if mf is None else dh * mf
        hr = h_prev if rm is None else h_prev * rm
        gz, gr, gh = g_t
        z, r, hh = ract.post(gz), ract.post(gr), act.post(gh)
        dph = act.grad(gh, dh_n * (1.0 - z))
        drh = _mm(dph, U_hT, cdt)
        dpz = ract.grad(gz, dh_n * (h_prev - hh))
        dpr = ract.grad(gr, drh * hr)
        dzr = jnp.concatenate([dpz, dpr], axis=-1)
        dhr = drh * r + _mm(dzr, U_zrT, cdt)
        dh_p = (dhr if rm is None else dhr * rm) + dh_n * z
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, drm), jnp.concatenate([dzr, dph], axis=-1)

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, drm), dXW = _scan(body, (d_hT, drm0), (G, Hprev, mask, d_hs),
                            reverse=True, unroll=cfg.plan.bwd_unroll)
    dXW2 = _flat(dXW)
    HR = Hprev if rm is None else Hprev * rm[None]
    R = G[1]
    if cfg.recurrent_activation.kind is None:
        R = cfg.recurrent_activation(R)
    dW = _t_mm(_flat(xs), dXW2, cdt)
    dU = jnp.concatenate([_t_mm(_flat(HR), dXW2[:, :2 * H], cdt),
                          _t_mm(_flat(R * HR), dXW2[:, 2 * H:], cdt)], axis=1)
    db = None if p.bias is None else jnp.sum(dXW2, axis=0)
    dxs = _mm(dXW2, _w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, dh0, drm


# ======================================================================================
# SimpleRNN
# ======================================================================================

def _rnn_primal(cfg, p, xs, h0, mask, rm):
    act = cfg.activation
    cdt = _cdt(cfg)
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias
    concat = cfg.plan.concat
    WU = jnp.concatenate([W, U], axis=0) if concat else None
    ret = cfg.return_sequences

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        if concat:
            z = _mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if b is not None:
                z = z + b[None, :]
        else:
            z = _mm(x_t, W, cdt)
            if b is not None:
                z = z + b[None, :]
            z = z + _mm(hr, U, cdt)
        h_new = _keep(m_t, act(z), h)
        return h_new, (h_new if ret else None)

    hT, hs = _scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, hT


def _rnn_forward(cfg, p, xs, h0, mask, rm):
    act = cfg.activation
    cdt = _cdt(cfg)
    W, U, b = _w(p.kernel, cdt), _w(p.recurrent_kernel, cdt), p.bias
    save_pre = act.kind is None

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        z = _mm(x_t, W, cdt)
        if b is not None:
            z = z + b[None, :]
        z = z + _mm(hr, U, cdt)
        y = act(z)
        h_new = _keep(m_t, y, h)
        if save_pre:
            return h_new, (z, h_new)
        # masked steps get a zero gradient, so the kept state can stand in for y there
        return h_new, h_new

    if save_pre:
        hT, (Z, Hs) = _scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    else:
        hT, Hs = _scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
        Z = None
    return (Hs if cfg.return_sequences else None, hT), (Z, Hs)


def _rnn_backward(cfg, p, xs, h0, mask, rm, Z, Hs, d_hs, d_hT):
    act = cfg.activation
    cdt = _cdt(cfg)
    T, B, D = xs.shape
    UT = _w(p.recurrent_kernel.T, cdt)
    Hprev = _prev_seq(h0, Hs)
    track_rm = rm is not None
    res_seq = Hs if Z is None else Z

    def body(carry, inp):
        dh, drm = carry
        res_t, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = _mask_f(m_t, dh.dtype)
        dh_n = dh if mf is None else dh * mf
        dz = act.grad(res_t, dh_n)
        dhr = _mm(dz, UT, cdt)
        dh_p = dhr if rm is None else dhr * rm
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
        if track_rm:
            drm = drm + h_prev * dhr
        return (dh_p, drm), dz

    drm0 = jnp.zeros_like(rm) if track_rm else None
    (dh0, drm), dZ = _scan(body, (d_hT, drm0),
                           (res_seq, Hprev if track_rm else None, mask, d_hs),
                           reverse=True, unroll=cfg.plan.bwd_unroll)
    dZ2 = _flat(dZ)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW = _t_mm(_flat(xs), dZ2, cdt)
    dU = _t_mm(_flat(HR), dZ2, cdt)
    db = None if p.bias is None else jnp.sum(dZ2, axis=0)
    dxs = _mm(dZ2, _w(p.kernel.T, cdt), cdt).reshape(T, B, D)
    dp = type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                 None if db is None else db.astype(p.bias.dtype))
    return dp, dxs, dh0, drm


# ======================================================================================
# custom_vjp wiring
# ======================================================================================

@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _seq(cfg, params, xs, state0, mask, rm):
    if cfg.kind == "lstm":
        return _lstm_primal(cfg, params, xs, state0[0], state0[1], mask, rm)
    primal = {"gru": _gru_primal, "gru_v1": _gru1_primal, "simple_rnn": _rnn_primal}[cfg.kind]
    return primal(cfg, params, xs, state0, mask, rm)


def _seq_fwd(cfg, params, xs, state0, mask, rm):
    if cfg.kind == "lstm":
        out, res = _lstm_forward(cfg, params, xs, state0[0], state0[1], mask, rm)
    else:
        forward = {"gru": _gru_forward, "gru_v1": _gru1_forward,
                   "simple_rnn": _rnn_forward}[cfg.kind]
        out, res = forward(cfg, params, xs, state0, mask, rm)
    return out, (params, xs, state0, mask, rm, res)


def _seq_bwd(cfg, saved, g):
    params, xs, state0, mask, rm, res = saved
    d_hs, d_final = g
    if cfg.kind == "lstm":
        G, Hs, Cs = res
        dp, dxs, dh0, dc0, drm = _lstm_backward(cfg, params, xs, state0[0], state0[1], mask,
                                                rm, G, Hs, Cs, d_hs, d_final[0], d_final[1])
        dstate = (dh0, dc0)
    else:
        backward = {"gru": _gru_backward, "gru_v1": _gru1_backward,
                    "simple_rnn": _rnn_backward}[cfg.kind]
        dp, dxs, dstate, drm = backward(cfg, params, xs, state0, mask, rm, *res, d_hs,
                                        d_final)
    return dp, dxs, dstate, None, drm


_seq.defvjp(_seq_fwd, _seq_bwd)


def run_sequence(cfg: SeqConfig, params, xs, state0, mask=None, rec_mask=None):
    """The recurrence of one layer; see the module docstring.

    Args:
        params: `SimpleRNNParams` / `LSTMParams` / `GRUParams` (bias may be None).
        xs: (T, B, D) float, time-major, in processing order, input dropout applied.
        state0: h (B, H), or (h, c) for LSTM.
        mask: None or (T, B) bool.
        rec_mask: None or (B, H) recurrent-dropout multiplier.

    Returns:
        (hs (T, B, H) or None, final_state).
    """
    if mask is not None:
        mask = mask.astype(bool)
    if cfg.kind == "lstm":
        state0 = tuple(state0)
    devices = cfg.plan.devices
    if devices > 1:
        return _sharded(cfg, params, xs, state0, mask, rec_mask, devices)
    return _seq(cfg, params, xs, state0, mask, rec_mask)


# --- batch split over CPU devices ----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _mesh(n):
    from jax.sharding import AxisType

    devices = jax.devices("cpu")[:n]
    return jax.sharding.Mesh(devices, ("b",), axis_types=(AxisType.Auto,))


def _sharded(cfg, params, xs, state0, mask, rec_mask, n):
    from jax.sharding import PartitionSpec as P

    mesh = _mesh(n)
    batch_tm = P(None, "b")
    batch = P("b")

    def state_spec(s):
        return jax.tree_util.tree_map(lambda _: batch, s)

    out_hs = batch_tm if cfg.return_sequences else None
    in_specs = (jax.tree_util.tree_map(lambda _: P(), params), batch_tm, state_spec(state0),
                None if mask is None else batch_tm, None if rec_mask is None else batch)
    out_specs = (out_hs, state_spec(state0))

    def local(params, xs, state0, mask, rec_mask):
        return _seq(cfg, params, xs, state0, mask, rec_mask)

    fn = jax.shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=out_specs,
                       check_vma=False)
    return fn(params, xs, state0, mask, rec_mask)


# --- the whole layer: layout, go_backwards, dropout and output masking ----------------------

def fused_rnn(cfg: SeqConfig, params, x, state0, *, mask=None, input_mask=None,
              rec_mask=None, reverse=False, time_major=False, zero_output_for_mask=False):
    """Drop-in for `scan_rnn(step, state0, x, ...)` with a built-in cell's step.

    Returns `(last_output (B, H), outputs (B, T, H) [or (T, B, H) if time_major] or None,
    final_state)`, the same values as `rnnkit.core.scan.scan_rnn` with
    `return_sequences=cfg.return_sequences`.
    """
    xs = x if time_major else jnp.swapaxes(x, 0, 1)
    if input_mask is not None:
        xs = xs * input_mask[None]
    if mask is not None:
        mask = (mask if time_major else jnp.swapaxes(mask, 0, 1)).astype(bool)
    if reverse:
        xs = jnp.flip(xs, 0)
        if mask is not None:
            mask = jnp.flip(mask, 0)
    hs, final = run_sequence(cfg, params, xs, state0, mask, rec_mask)
    h_T = final[0] if cfg.kind == "lstm" else final
    if mask is None:
        last, ys = h_T, hs
    elif zero_output_for_mask:
        last = jnp.where(mask[-1][:, None], h_T, jnp.zeros_like(h_T))
        ys = None if hs is None else jnp.where(mask[:, :, None], hs, jnp.zeros_like(hs))
    else:
        # the previous output is repeated on masked steps, i.e. the output is the state once
        # any step was used, and zeros before that
        last = jnp.where(jnp.any(mask, axis=0)[:, None], h_T, jnp.zeros_like(h_T))
        if hs is not None:
            seen = lax.cummax(mask.astype(jnp.int32), axis=0) > 0
            ys = jnp.where(seen[:, :, None], hs, jnp.zeros_like(hs))
        else:
            ys = None
    if ys is not None and not time_major:
        ys = jnp.swapaxes(ys, 0, 1)
    return last, ys, final
