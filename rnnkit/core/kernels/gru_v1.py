"""The GRU cell kind with reset_after=False (kind "gru_v1", Keras' `GRU(reset_after=False)`):
its spec (`KERNEL`), XLA sequence kernels and native loops (gru.cc, through the runner of
`rnnkit.core.kernels.gru`).

Gate order z, r, h; state (h,); bias (3H,). The reset gate multiplies h BEFORE the
recurrent matmul of the candidate, so that matmul stays separate from the z / r one.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from rnnkit.core import cells
from rnnkit.core.kernels import gru
from rnnkit.core.kernels.common import (cast_w, cdt_of, flat, keep, mm, prev_seq,
                                        reverse_h_loop, scan, t_mm)
from rnnkit.core.kernels.spec import (CellKernel, ExplainText, SequenceKernels,
                                       dense_weight_shapes)


def primal(cfg, p, xs, state0, mask, rm):
    h0, act, ract, cdt = gru.setup(cfg, state0)
    H = h0.shape[-1]
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias
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
            s = mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if b is not None:
                s = s + b[None, :]
            z, r, x_h = ract(s[:, :H]), ract(s[:, H:2 * H]), s[:, 2 * H:]
        else:
            xw = mm(x_t, W, cdt)
            if b is not None:
                xw = xw + b[None, :]
            x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
            u_zr = mm(hr, U_zr, cdt)
            z, r = ract(x_z + u_zr[:, :H]), ract(x_r + u_zr[:, H:])
        hh = act(x_h + mm(r * hr, U_h, cdt))
        h_new = keep(m_t, z * h + (1.0 - z) * hh, h)
        return h_new, (h_new if ret else None)

    hT, hs = scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, (hT,)


def forward(cfg, p, xs, state0, mask, rm):
    h0, act, ract, cdt = gru.setup(cfg, state0)
    H = h0.shape[-1]
    W, U, b = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt), p.bias
    U_zr, U_h = U[:, :2 * H], U[:, 2 * H:]

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        xw = mm(x_t, W, cdt)
        if b is not None:
            xw = xw + b[None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_zr = mm(hr, U_zr, cdt)
        pz, pr = x_z + u_zr[:, :H], x_r + u_zr[:, H:]
        z, r = ract(pz), ract(pr)
        ph = x_h + mm(r * hr, U_h, cdt)
        hh = act(ph)
        h_new = keep(m_t, z * h + (1.0 - z) * hh, h)
        res = (ract.residual(pz, z), ract.residual(pr, r), act.residual(ph, hh))
        return h_new, (res, h_new)

    hT, (G, Hs) = scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, (hT,)), (G, Hs)


def backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    G, Hs = res
    _, act, ract, cdt = gru.setup(cfg, state0)
    H = h0.shape[-1]
    U = p.recurrent_kernel
    U_zrT, U_hT = cast_w(U[:, :2 * H].T, cdt), cast_w(U[:, 2 * H:].T, cdt)
    Hprev = prev_seq(h0, Hs)

    def gate_grads(dh_n, g_t, h_prev):
        hr = h_prev if rm is None else h_prev * rm
        gz, gr, gh = g_t
        z, r, hh = ract.post(gz), ract.post(gr), act.post(gh)
        dph = act.grad(gh, dh_n * (1.0 - z))
        drh = mm(dph, U_hT, cdt)
        dpz = ract.grad(gz, dh_n * (h_prev - hh))
        dpr = ract.grad(gr, drh * hr)
        dzr = jnp.concatenate([dpz, dpr], axis=-1)
        dhr = drh * r + mm(dzr, U_zrT, cdt)
        return dhr, z, (dzr, dph)

    (dh0, drm), (dZR, dPH) = reverse_h_loop(cfg, rm, G, Hprev, mask, d_hs, d_hT,
                                            gate_grads)
    R = ract.post(G[1])
    dp, dxs = param_grads(cfg, p, xs, h0, Hs, rm, R, flat(dZR), flat(dPH), Hprev=Hprev)
    return dp, dxs, (dh0,), drm


def param_grads(cfg, p, xs, h0, Hs, rm, R, dZR2, dPH2, *, Hprev=None):
    """reset_after=False: dW, dU, db and dxs as single GEMMs over all T*B rows, from the
    reset gate R (T, B, H) (after its activation) and the gradients of the gate
    pre-activations, dZR2 (T*B, 2H) for z and r and dPH2 (T*B, H) for the candidate.

    The two parts stay separate arrays: GEMMs on column slices of one (T*B, 3H) array
    cost XLA:CPU a copy of each slice (B64 T100 D64 H256: 27 vs 19 ms, best of 30)."""
    cdt = cdt_of(cfg)
    if Hprev is None:
        Hprev = prev_seq(h0, Hs)
    HR = Hprev if rm is None else Hprev * rm[None]
    dW, dxs = gru.input_grads(cfg, p, xs, dZR2, dPH2)
    dU = jnp.concatenate([t_mm(flat(HR), dZR2, cdt), t_mm(flat(R * HR), dPH2, cdt)], axis=1)
    db = None if p.bias is None else jnp.concatenate([jnp.sum(dZR2, 0), jnp.sum(dPH2, 0)])
    return gru.params_like(p, dW, dU, db), dxs


# --- native loops (gru.cc with reset_after=0) ---------------------------------------------

native_primal = functools.partial(gru.native_primal, reset_after=False)
native_forward = functools.partial(gru.native_forward, reset_after=False)


def native_backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    G, Hs = res
    H = h0.shape[-1]
    dZR, dPH, _, dh0, drm = gru.native_reverse(cfg, p, h0, mask, rm, G, Hs, d_hs, d_hT,
                                               reset_after=False)
    dp, dxs = param_grads(cfg, p, xs, h0, Hs, rm, G[..., H:2 * H], flat(dZR), flat(dPH))
    return dp, dxs, (dh0,), (drm if rm is not None else None)


KERNEL = CellKernel(
    kind="gru_v1",
    gates=3,
    states=("h",),
    step=functools.partial(cells.gru_step, reset_after=False),
    equations=(
        ("x_z, x_r, x_h = split(x_t @ kernel{bias}, 3)", "each (batch, {u})"),
        ("z = {ract}(x_z + h_(t-1) @ recurrent_kernel[:, 0:{u}])", "update gate"),
        ("r = {ract}(x_r + h_(t-1) @ recurrent_kernel[:, {u}:{u2}])", "reset gate"),
        ("h~ = {act}(x_h + (r * h_(t-1)) @ recurrent_kernel[:, {u2}:{u3}])",
         "candidate; reset applied before the matmul"),
        ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
        "output_t = h_t;  state = [h_t]",
    ),
    explain=ExplainText(gate_order="z, r, h", activation_use="the candidate h~",
                        recurrent_gates="z and r"),
    param_formula="3H·(D + H + 1)",  # + 1: the bias (use_bias=True)
    weight_shapes=dense_weight_shapes(3),
    xla=SequenceKernels(primal, forward, backward),
    native=SequenceKernels(native_primal, native_forward, native_backward, source=gru.SOURCE),
)
