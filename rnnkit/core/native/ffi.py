"""The plumbing every cell kind's native loops share: one `jax.ffi` call of a handler in
rnnkit's native CPU library (built and loaded on first use by `rnnkit.core.native`), and
the small helpers that shape its operands and attributes.

The per-kind loops (`rnnkit.core.kernels.<kind>`) import this module; it imports nothing
about cell kinds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit.core import native

ACT_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2}  # the activation codes of rnn_common.h
F32 = jnp.float32


def empty(dtype=F32):
    """A (0,) array: how an absent optional operand (bias, mask, ...) is passed."""
    return jnp.zeros((0,), dtype)


def opt(a, dtype=F32):
    return empty(dtype) if a is None else a


def act_attrs(cfg, *, recurrent: bool = True) -> dict:
    """The `act` (and `ract`) codes and the thread count of a `SeqConfig`."""
    attrs = dict(act=ACT_CODES[cfg.activation.kind])
    if recurrent:
        attrs["ract"] = ACT_CODES[cfg.recurrent_activation.kind]
    attrs["threads"] = int(cfg.plan.threads)
    return attrs


def forward_handler(cfg, source):
    """`(source, handler)` of the forward loop of this plan: as `native_source` +
    "_forward", or with `cfg.plan.f32_split` the kind's split float32 forward
    ("lstm_bf16.cc", "rnnkit_lstm_bf16x3_forward")."""
    if cfg.plan.f32_split and cfg.plan.compute_dtype == "float32" and cfg.kernel.native_f32_split:
        source = cfg.kernel.native_bf16_source
        return source, "rnnkit_" + source.rsplit(".", 1)[0] + "x3_forward"
    source, prefix = native_source(cfg, source)
    return source, prefix + "_forward"


def native_source(cfg, source):
    """The C++ file and the handler-name prefix of a kind's native loops for this plan:
    `source` ("lstm.cc": prefix "rnnkit_lstm"), or with compute_dtype "bfloat16" the
    kind's `native_bf16_source` ("lstm_bf16.cc": prefix "rnnkit_lstm_bf16")."""
    if cfg.plan.compute_dtype == "bfloat16":
        source = cfg.kernel.native_bf16_source
    return source, "rnnkit_" + source.rsplit(".", 1)[0]


def f32(a):
    """The native loops take float32 operands (bf16 inputs under mixed_bfloat16 are widened;
    the AMX loops round them back to bf16 for the matmuls)."""
    return a if a is None or a.dtype == F32 else a.astype(F32)


def tbd(cfg, xs):
    """(T, B, D) of xs, which is (B, T, D) when cfg.batch_major."""
    if cfg.batch_major:
        B, T, D = xs.shape
        return T, B, D
    return xs.shape


def call(source, name, shapes, *args, **attrs):
    """ffi_call of the handler `name` in `source` (e.g. "lstm.cc"), whose library is built
    and loaded on first use; float32 outputs of `shapes`."""
    if not native.load(source):
        raise RuntimeError(
            f"rnnkit's native kernel {source} is unavailable ({native.status()}); plan the "
            f"call with engine='xla' (rnnkit.core.engines.available_engines says which "
            f"engines can run).")
    out = [jax.ShapeDtypeStruct(s, F32) for s in shapes]
    ffi = jax.ffi.ffi_call(name, out, vmap_method="sequential")

    @jax.custom_jvp
    def run(*operands):
        return ffi(*operands, **attrs)

    @run.defjvp
    def _no_higher_order(primals, tangents):
        raise NotImplementedError(
            f"rnnkit's native {source} loops have first-order gradients only (a custom "
            f"VJP); a gradient of a gradient needs the XLA kernels: call "
            f"rnnkit.config.set_native_kernels(False) (or set RNNKIT_NATIVE=0) before "
            f"tracing this function.")

    return run(*args)
