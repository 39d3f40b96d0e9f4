"""The fused sequence kernels' time loops on rnnkit's native CPU library (rnnkit.core.native).

Same contract as the XLA engine's loops (see rnnkit.core.fused): `primal`, `forward`
(also returns the residuals for `backward`) and `backward`, selected by
`Plan.engine == "native"`. The LSTM and SimpleRNN reverse loops also compute dx per step
and accumulate dW, dU and db themselves, so no (T, B, gates*H) gradient array is written;
see seq_native_gru for the GRU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit.core import native

ACT_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2}
F32 = jnp.float32


def _empty(dtype=F32):
    return jnp.zeros((0,), dtype)


def _opt(a, dtype=F32):
    return _empty(dtype) if a is None else a


def _attrs(cfg):
    return dict(act=ACT_CODES[cfg.activation.kind],
                ract=ACT_CODES[cfg.recurrent_activation.kind],
                threads=int(cfg.plan.threads))


def _tbd(cfg, xs):
    """(T, B, D) of xs, which is (B, T, D) when cfg.batch_major_x."""
    if cfg.batch_major_x:
        B, T, D = xs.shape
        return T, B, D
    return xs.shape


def _call(name, shapes, *args, **attrs):
    """ffi_call of the handler `rnnkit_<kind>_<loop>` (its library is loaded on first use)."""
    kind = name[len("rnnkit_"):].rsplit("_", 1)[0]
    if not native.load(kind):
        raise RuntimeError(
            f"rnnkit's native {kind} kernel is unavailable ({native.status()}); plan the "
            f"call with engine='xla' (rnnkit.core.policy does so automatically).")
    out = [jax.ShapeDtypeStruct(s, F32) for s in shapes]
    call = jax.ffi.ffi_call(name, out, vmap_method="sequential")

    @jax.custom_jvp
    def run(*operands):
        return call(*operands, **attrs)

    @run.defjvp
    def _no_higher_order(primals, tangents):
        raise NotImplementedError(
            f"rnnkit's native {kind} loops have first-order gradients only (a custom VJP); "
            f"a gradient of a gradient needs the XLA kernels: call "
            f"rnnkit.config.set_native_kernels(False) (or set RNNKIT_NATIVE=0) before "
            f"tracing this function.")

    return run(*args)


# --- LSTM ------------------------------------------------------------------------------------

def _lstm_run(cfg, p, xs, h0, c0, mask, rm, *, hs: bool, train: bool):
    T, B, _ = _tbd(cfg, xs)
    H = h0.shape[-1]
    shapes = [(T, B, H) if hs else (0,), (B, H), (B, H),
              (T, B, 4 * H) if train else (0,), (T, B, H) if train else (0,)]
    return _call("rnnkit_lstm_forward", shapes, xs, p.kernel, p.recurrent_kernel,
                 _opt(p.bias), h0, c0, _opt(mask, jnp.bool_), _opt(rm), **_attrs(cfg),
                 x_batch_major=int(cfg.batch_major_x))


def lstm_primal(cfg, p, xs, h0, c0, mask, rm):
    hs, hT, cT, _, _ = _lstm_run(cfg, p, xs, h0, c0, mask, rm, hs=cfg.return_sequences,
                                 train=False)
    return (hs if cfg.return_sequences else None), (hT, cT)


def lstm_forward(cfg, p, xs, h0, c0, mask, rm):
    Hs, hT, cT, G, Cs = _lstm_run(cfg, p, xs, h0, c0, mask, rm, hs=True, train=True)
    return (Hs if cfg.return_sequences else None, (hT, cT)), (G, Hs, Cs)


def lstm_backward(cfg, p, xs, h0, c0, mask, rm, G, Hs, Cs, d_hs, d_hT, d_cT):
    T, B, D = _tbd(cfg, xs)
    H = h0.shape[-1]
    track_rm = rm is not None
    has_bias = p.bias is not None
    dxs, dW, dU, db, dh0, dc0, drm = _call(
        "rnnkit_lstm_backward",
        [xs.shape, (D, 4 * H), (H, 4 * H), (4 * H,) if has_bias else (0,), (B, H), (B, H),
         (B, H) if track_rm else (0,)],
        xs, p.kernel, p.recurrent_kernel, G, Cs, c0, Hs, h0, _opt(mask, jnp.bool_), _opt(rm),
        _opt(d_hs), d_hT, d_cT, **_attrs(cfg), x_batch_major=int(cfg.batch_major_x))
    dp = type(p)(dW, dU, db if has_bias else None)
    return dp, dxs, dh0, dc0, (drm if track_rm else None)


class LSTM:
    """The LSTM loops, under the names `rnnkit.core.fused` dispatches on."""

    primal = staticmethod(lstm_primal)
    forward = staticmethod(lstm_forward)
    backward = staticmethod(lstm_backward)


def loops(kind):
    """The native primal / forward / backward of one cell kind (see rnnkit.core.fused)."""
    if kind == "lstm":
        return LSTM
    if kind in ("gru", "gru_v1"):
        from rnnkit.core import seq_native_gru

        return seq_native_gru.loops(kind)
    if kind == "simple_rnn":
        from rnnkit.core import seq_native_simple_rnn

        return seq_native_simple_rnn.LOOPS
    raise ValueError(f"no native loops for cell kind {kind!r}")
