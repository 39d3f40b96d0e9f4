"""The GRU cell kind with reset_after=True (Keras' default, kind "gru"): its spec
(`KERNEL`), XLA sequence kernels and native loops. reset_after=False is its own kind,
`rnnkit.core.kernels.gru_v1`, which shares the native runner defined here.

Gate order z, r, h; state (h,); bias (2, 3H): input row, recurrent row. The sequence kernels
follow `rnnkit.core.kernels.spec.SequenceKernels`.

Native loops (gru.cc, both reset_after modes): the forward saves the gates in one
(T, B, 4H) array [z, r, hh, (h rm) U_h + b_rec_h] (reset_after) or (T, B, 3H) [z, r, hh].
The reverse loop returns the per-step gradients of the gate pre-activations: z and r
(T, B, 2H), the candidate (T, B, H) and, with reset_after, the candidate's recurrent part
(T, B, H). From them `param_grads` (`gru_v1.param_grads` for reset_after=False) computes
dW, dU, db and dx as single XLA GEMMs over all T*B rows, as the XLA engine does after its
loop.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.core import cells
from rnnkit.core.kernels.common import (cast_w, cdt_of, flat, keep, mm, prev_seq,
                                        reverse_h_loop, scan, t_mm)
from rnnkit.core.kernels.spec import (CellKernel, ExplainText, SequenceKernels,
                                       dense_weight_shapes)
from rnnkit.core.native import ffi


def _gru_biases(b):
    if b is None:
        return None, None
    return b[0], b[1]


# --- shared by both modes (this module and gru_v1) ----------------------------------------

def setup(cfg, state0):
    """`(h0, activation, recurrent_activation, compute dtype)` of a sequence kernel call."""
    (h0,) = state0
    return h0, cfg.activation, cfg.recurrent_activation, cdt_of(cfg)


def input_grads(cfg, p, xs, dZR2, dPH2):
    """dW (D, 3H) and dxs (T, B, D) as GEMMs over all T*B rows, from the gradients of the
    z and r pre-activations dZR2 (T*B, 2H) and of the candidate's input part dPH2 (T*B, H)."""
    cdt = cdt_of(cfg)
    T, B, D = xs.shape
    H = dPH2.shape[-1]
    X2, W = flat(xs), p.kernel
    dW = jnp.concatenate([t_mm(X2, dZR2, cdt), t_mm(X2, dPH2, cdt)], axis=1)
    dxs = (mm(dZR2, cast_w(W[:, :2 * H].T, cdt), cdt)
           + mm(dPH2, cast_w(W[:, 2 * H:].T, cdt), cdt)).reshape(T, B, D)
    return dW, dxs


def params_like(p, dW, dU, db):
    """The gradients as a params tuple of `p`'s type and dtypes."""
    return type(p)(dW.astype(p.kernel.dtype), dU.astype(p.recurrent_kernel.dtype),
                   None if db is None else db.astype(p.bias.dtype))


# --- reset_after=True ----------------------------------------------------------------------


def primal(cfg, p, xs, state0, mask, rm):
    h0, act, ract, cdt = setup(cfg, state0)
    W, U = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt)
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
            s = mm(jnp.concatenate([x_t, hr.astype(x_t.dtype)], axis=-1), WU, cdt)
            if bcat is not None:
                s = s + bcat[None, :]
            zr, x_h, u_h = s[:, :2 * H], s[:, 2 * H:3 * H], s[:, 3 * H:]
            z, r = ract(zr[:, :H]), ract(zr[:, H:])
        else:
            xw = mm(x_t, W, cdt)
            hu = mm(hr, U, cdt)
            if b_in is not None:
                xw = xw + b_in[None, :]
                hu = hu + b_rec[None, :]
            x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
            u_z, u_r, u_h = jnp.split(hu, 3, axis=-1)
            z, r = ract(x_z + u_z), ract(x_r + u_r)
        hh = act(x_h + r * u_h)
        h_new = keep(m_t, z * h + (1.0 - z) * hh, h)
        return h_new, (h_new if ret else None)

    hT, hs = scan(body, h0, (xs, mask), unroll=cfg.plan.infer_unroll)
    return hs, (hT,)


def forward(cfg, p, xs, state0, mask, rm):
    h0, act, ract, cdt = setup(cfg, state0)
    W, U = cast_w(p.kernel, cdt), cast_w(p.recurrent_kernel, cdt)
    b_in, b_rec = _gru_biases(p.bias)

    def body(h, inp):
        x_t, m_t = inp
        hr = h if rm is None else h * rm
        xw = mm(x_t, W, cdt)
        hu = mm(hr, U, cdt)
        if b_in is not None:
            xw = xw + b_in[None, :]
            hu = hu + b_rec[None, :]
        x_z, x_r, x_h = jnp.split(xw, 3, axis=-1)
        u_z, u_r, u_h = jnp.split(hu, 3, axis=-1)
        pz, pr = x_z + u_z, x_r + u_r
        z, r = ract(pz), ract(pr)
        ph = x_h + r * u_h
        hh = act(ph)
        h_new = keep(m_t, z * h + (1.0 - z) * hh, h)
        res = (ract.residual(pz, z), ract.residual(pr, r), act.residual(ph, hh), u_h)
        return h_new, (res, h_new)

    hT, (G, Hs) = scan(body, h0, (xs, mask), unroll=cfg.plan.fwd_unroll)
    return (Hs if cfg.return_sequences else None, (hT,)), (G, Hs)


def backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    G, Hs = res
    _, act, ract, cdt = setup(cfg, state0)
    UT = cast_w(p.recurrent_kernel.T, cdt)
    Hprev = prev_seq(h0, Hs)

    def gate_grads(dh_n, g_t, h_prev):
        gz, gr, gh, u_h = g_t
        z, r, hh = ract.post(gz), ract.post(gr), act.post(gh)
        dph = act.grad(gh, dh_n * (1.0 - z))
        dpz = ract.grad(gz, dh_n * (h_prev - hh))
        dpr = ract.grad(gr, dph * u_h)
        dzr = jnp.concatenate([dpz, dpr], axis=-1)
        dphr = dph * r
        dhr = mm(jnp.concatenate([dzr, dphr], axis=-1), UT, cdt)
        return dhr, z, (dzr, dph, dphr)

    (dh0, drm), (dZR, dPH, dPHR) = reverse_h_loop(cfg, rm, G, Hprev, mask, d_hs, d_hT,
                                                  gate_grads)
    dp, dxs = param_grads(cfg, p, xs, h0, Hs, rm, flat(dZR), flat(dPH), flat(dPHR),
                          Hprev=Hprev)
    return dp, dxs, (dh0,), drm


def param_grads(cfg, p, xs, h0, Hs, rm, dZR2, dPH2, dPHR2, *, Hprev=None):
    """reset_after=True: dW, dU, db and dxs as single GEMMs over all T*B rows, from the
    gradients of the gate pre-activations: dZR2 (T*B, 2H) for z and r (shared by the input
    and the recurrent part), dPH2 (T*B, H) for the candidate's input part and dPHR2
    (T*B, H) = dPH2 * r for its recurrent part.

    Separate arrays rather than the (T*B, 3H) input / recurrent gradients, which repeat the
    z and r columns: B64 T100 D64 H256 14.7 vs 17.2 ms for these GEMMs, and a third less
    written by the reverse loop."""
    cdt = cdt_of(cfg)
    if Hprev is None:
        Hprev = prev_seq(h0, Hs)
    HR2 = flat(Hprev if rm is None else Hprev * rm[None])
    dW, dxs = input_grads(cfg, p, xs, dZR2, dPH2)
    dU = jnp.concatenate([t_mm(HR2, dZR2, cdt), t_mm(HR2, dPHR2, cdt)], axis=1)
    if p.bias is None:
        db = None
    else:
        s_zr = jnp.sum(dZR2, 0)
        db = jnp.stack([jnp.concatenate([s_zr, jnp.sum(dPH2, 0)]),
                        jnp.concatenate([s_zr, jnp.sum(dPHR2, 0)])])
    return params_like(p, dW, dU, db), dxs


# --- native loops (rnnkit/core/native/gru.cc, both reset_after modes) ---------------------

SOURCE = "gru.cc"


def native_run(cfg, p, xs, h0, mask, rm, *, reset_after: bool, hs: bool, train: bool):
    """The native forward of either mode: (hs or (0,), hT, gates or (0,))."""
    T, B, _ = xs.shape
    H = h0.shape[-1]
    G = (4 if reset_after else 3) * H
    bias = ffi.empty() if p.bias is None else p.bias.reshape(-1)
    source, name = ffi.forward_handler(cfg, SOURCE)
    return ffi.call(source, name, [(T, B, H) if hs else (0,), (B, H),
                                   (T, B, G) if train else (0,)],
                    ffi.f32(xs), p.kernel, p.recurrent_kernel, bias, h0, ffi.opt(mask, jnp.bool_),
                    ffi.opt(rm), reset_after=int(reset_after), **ffi.act_attrs(cfg))


def native_reverse(cfg, p, h0, mask, rm, G, Hs, d_hs, d_hT, *, reset_after: bool):
    """The native reverse loop of either mode: dZR (T, B, 2H), dPH (T, B, H), dPHR
    (T, B, H) = dPH * r (reset_after only, else (0,)), dh0, drm (or (0,))."""
    T, B, H = Hs.shape
    source, prefix = ffi.native_source(cfg, SOURCE)
    return ffi.call(
        source, prefix + "_backward",
        [(T, B, 2 * H), (T, B, H), (T, B, H) if reset_after else (0,), (B, H),
         (B, H) if rm is not None else (0,)],
        p.recurrent_kernel, G, Hs, h0, ffi.opt(mask, jnp.bool_), ffi.opt(rm), ffi.opt(d_hs),
        d_hT, reset_after=int(reset_after), **ffi.act_attrs(cfg))


def native_primal(cfg, p, xs, state0, mask, rm, *, reset_after=True):
    hs, hT, _ = native_run(cfg, p, xs, state0[0], mask, rm, reset_after=reset_after,
                           hs=cfg.return_sequences, train=False)
    return (hs if cfg.return_sequences else None), (hT,)


def native_forward(cfg, p, xs, state0, mask, rm, *, reset_after=True):
    Hs, hT, G = native_run(cfg, p, xs, state0[0], mask, rm, reset_after=reset_after,
                           hs=True, train=True)
    return (Hs if cfg.return_sequences else None, (hT,)), (G, Hs)


def native_backward(cfg, p, xs, state0, mask, rm, res, d_hs, d_final):
    (h0,), (d_hT,) = state0, d_final
    G, Hs = res
    if cfg.plan.compute_dtype == "float32":
        return _native_backward_grads(cfg, p, xs, h0, mask, rm, G, Hs, d_hs, d_hT)
    # the bf16 loops return the gate gradients; the weight gradients are XLA GEMMs
    dZR, dPH, dPHR, dh0, drm = native_reverse(cfg, p, h0, mask, rm, G, Hs, d_hs, d_hT,
                                              reset_after=True)
    dp, dxs = param_grads(cfg, p, xs, h0, Hs, rm, flat(dZR), flat(dPH), flat(dPHR))
    return dp, dxs, (dh0,), (drm if rm is not None else None)


def _native_backward_grads(cfg, p, xs, h0, mask, rm, G, Hs, d_hs, d_hT):
    """The float32 reverse loop that computes dx, dW, dU and db itself (per step, and from
    >= 64 buffered rows), writing no (T, B, 4H) gate gradients."""
    T, B, D = xs.shape
    H = h0.shape[-1]
    has_bias = p.bias is not None
    dxs, dW, dU, db, dh0, drm = ffi.call(
        SOURCE, "rnnkit_gru_backward_grads",
        [(T, B, D), (D, 3 * H), (H, 3 * H), (2, 3 * H) if has_bias else (0,), (B, H),
         (B, H) if rm is not None else (0,)],
        ffi.f32(xs), p.kernel, p.recurrent_kernel, G, Hs, h0, ffi.opt(mask, jnp.bool_),
        ffi.opt(rm), ffi.opt(d_hs), d_hT, **ffi.act_attrs(cfg))
    dp = type(p)(dW, dU, db if has_bias else None)
    return dp, dxs.astype(xs.dtype), (dh0,), (drm if rm is not None else None)


KERNEL = CellKernel(
    kind="gru",
    gates=3,
    states=("h",),
    step=cells.gru_step,
    equations=(
        ("x_z, x_r, x_h = split(x_t @ kernel{bias_in}, 3)", "each (batch, {u})"),
        "h_z, h_r, h_h = split(h_(t-1) @ recurrent_kernel{bias_rec}, 3)",
        ("z = {ract}(x_z + h_z)", "update gate (columns 0:{u})"),
        ("r = {ract}(x_r + h_r)", "reset gate (columns {u}:{u2})"),
        ("h~ = {act}(x_h + r * h_h)",
         "candidate (columns {u2}:{u3}); reset applied after the matmul"),
        ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
        "output_t = h_t;  state = [h_t]",
    ),
    explain=ExplainText(gate_order="z, r, h", activation_use="the candidate h~",
                        recurrent_gates="z and r"),
    param_formula="3H·(D + H + 2)",  # + 2: input and recurrent bias rows
    weight_shapes=dense_weight_shapes(3, bias_rows=2),
    xla=SequenceKernels(primal, forward, backward),
    native=SequenceKernels(native_primal, native_forward, native_backward, source=SOURCE),
    native_bf16_source="gru_bf16.cc",  # reset_after=True only (gru_v1 runs bf16 on XLA)
    native_f32_split=True,
)
