"""The fused sequence kernel of any cell kind that has one: one custom VJP, read from specs.

`run_sequence(cfg, params, xs, state0, mask, rec_mask)` computes the whole recurrence of one
layer as a `jax.custom_vjp` function whose three parts are the cell kind's
`SequenceKernels` (`rnnkit.core.kernels`) on the planned engine:

- primal (inference, not differentiated): one loop, x_t @ W inside the step, unroll and
  the optional concatenated [x_t, h] @ [[W], [U]] dot chosen by `rnnkit.core.policy`;
- forward under differentiation: one loop that also saves the gate activations
  (post-activation for tanh / sigmoid / linear, pre-activation for any other activation,
  whose derivative is then taken with `jax.vjp` in the backward);
- backward: one reverse loop doing only the elementwise gate gradients and dz @ U^T per
  step; dW, dU, db and dx are then single GEMMs / reductions over all T*B rows.

Nothing here knows which cell it runs: the kind's spec says which loops, how many states
and whether its native loops read batch-major x. Every shape/mode choice (unroll,
concatenated matmul, device split, compute dtype, engine) comes from `rnnkit.core.policy`.

Semantics are those of `rnnkit.core.scan.scan_rnn` over the kind's pure step:
`xs` is time-major (T, B, D) (batch-major (B, T, D) when `cfg.batch_major`, which
`fused_rnn` sets for native loops that read xs and write hs batch-major in place) and already in processing order
(flipped for go_backwards) and already multiplied by the input-dropout mask; `mask` (T, B)
bool keeps the previous state where False; `rec_mask` (B, H) multiplies h before every
h @ U (variational recurrent dropout). States are tuples, `(h,)` or `(h, c)`. Returns
`(hs, final_state)`: hs (T, B, H) the output after every step (None when
`cfg.return_sequences` is False). Output masking (repeat the previous output / zeros) is
applied by the caller with ordinary ops.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import CustomVJPPrimal, SymbolicZero

from rnnkit.core import native, sharding
from rnnkit.core.kernels import CellKernel, get_kernel
from rnnkit.core.kernels.common import Act
from rnnkit.core.policy import Plan, cores

__all__ = ["Act", "SeqConfig", "run_sequence", "fused_rnn", "bidirectional_ready",
           "bidirectional_rnn", "stack_ready", "stacked_rnn"]


@dataclasses.dataclass(frozen=True)
class SeqConfig:
    """The static configuration of one fused call (hashable: a `nondiff_argnums` of the
    custom VJP). `kernel` may be given as a registered kind name."""

    kernel: CellKernel
    activation: Act
    recurrent_activation: Optional[Act]
    return_sequences: bool
    plan: Plan
    # xs, hs (and their gradients) are batch-major, (B, T, D) and (B, T, H): native loops
    # whose spec says `batch_major` read and write them in place (fused_rnn sets it;
    # everything else is time-major)
    batch_major: bool = False
    # the backward returns the gradient of xs; False when nothing differentiated reaches xs
    # (a first layer reading the data): `_seq_bwd` sets it and loops may skip computing dx
    need_dx: bool = True

    def __post_init__(self):
        object.__setattr__(self, "kernel", get_kernel(self.kernel))

    @property
    def kind(self) -> str:
        return self.kernel.kind

    @property
    def loops(self):
        """The `SequenceKernels` of the planned engine."""
        return self.kernel.sequence_kernels(self.plan.engine)


# ======================================================================================
# custom_vjp wiring
# ======================================================================================

@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _seq(cfg, params, xs, state0, mask, rm):
    return cfg.loops.primal(cfg, params, xs, state0, mask, rm)


def _primal_values(tree):
    return jax.tree_util.tree_map(lambda p: p.value, tree,
                                  is_leaf=lambda p: isinstance(p, CustomVJPPrimal))


def _seq_fwd(cfg, params, xs, state0, mask, rm):
    # symbolic zeros: the primals come wrapped, and `xs.perturbed` says whether anything
    # differentiated reaches xs. When nothing does (the layer reads the data), the backward
    # need not compute dx: the native LSTM then drops W^T from its per-step GEMM. The flag
    # travels as the residuals' tree structure (None or ()), which stays static.
    want_dx = () if xs.perturbed else None
    params, xs, state0, mask, rm = _primal_values((params, xs, state0, mask, rm))
    out, res = cfg.loops.forward(cfg, params, xs, state0, mask, rm)
    return out, (params, xs, state0, mask, rm, res, want_dx)


def _zeros_for_symbolic(tree):
    return jax.tree_util.tree_map(
        lambda z: jnp.zeros(z.shape, z.dtype) if isinstance(z, SymbolicZero) else z, tree,
        is_leaf=lambda z: isinstance(z, SymbolicZero))


def _seq_bwd(cfg, saved, g):
    params, xs, state0, mask, rm, res, want_dx = saved
    d_hs, d_final = _zeros_for_symbolic(g)
    if want_dx is None:
        cfg = dataclasses.replace(cfg, need_dx=False)
    dp, dxs, dstate, drm = cfg.loops.backward(cfg, params, xs, state0, mask, rm, res, d_hs,
                                              d_final)
    return dp, (None if want_dx is None else dxs), dstate, None, drm


_seq.defvjp(_seq_fwd, _seq_bwd, symbolic_zeros=True)


def run_sequence(cfg: SeqConfig, params, xs, state0, mask=None, rec_mask=None):
    """The recurrence of one layer; see the module docstring.

    Args:
        params: the kind's params (`SimpleRNNParams` / `LSTMParams` / `GRUParams`; bias may
            be None).
        xs: (T, B, D) float, time-major, in processing order, input dropout applied.
        state0: tuple of the kind's states, each (B, H): `(h,)`, or `(h, c)` for LSTM.
        mask: None or (T, B) bool.
        rec_mask: None or (B, H) recurrent-dropout multiplier.

    Returns:
        (hs (T, B, H) or None, final_state tuple).
    """
    if mask is not None:
        mask = mask.astype(bool)
    state0 = tuple(state0)
    split = sharding.current()  # under a distribution: its batch axis
    if split is not None:
        return _sharded(cfg, params, xs, state0, mask, rec_mask, *split)
    if cfg.plan.devices > 1:
        return _sharded(cfg, params, xs, state0, mask, rec_mask, _mesh(cfg.plan.devices), "b")
    return _seq(cfg, params, xs, state0, mask, rec_mask)


# --- batch split over CPU devices ----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _mesh(n):
    from jax.sharding import AxisType

    devices = jax.devices("cpu")[:n]
    return jax.sharding.Mesh(devices, ("b",), axis_types=(AxisType.Auto,))


def _sharded(cfg, params, xs, state0, mask, rec_mask, mesh, axis):
    """The recurrence with the batch split over mesh axis `axis` (weights whole on every
    device; their gradients summed over the axis by shard_map's transpose)."""
    from jax.sharding import PartitionSpec as P

    batch_tm = P(None, axis)
    batch = P(axis)

    def state_spec(s):
        return jax.tree_util.tree_map(lambda _: batch, s)

    seq = batch if cfg.batch_major else batch_tm
    out_hs = seq if cfg.return_sequences else None
    in_specs = (jax.tree_util.tree_map(lambda _: P(), params), seq, state_spec(state0),
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
    """Drop-in for `scan_rnn(step, state0, x, ...)` with the step of `cfg.kernel`;
    `state0` is a tuple of the kind's states.

    Returns `(last_output (B, H), outputs (B, T, H) [or (T, B, H) if time_major] or None,
    final_state tuple)`, the same values as `rnnkit.core.scan.scan_rnn` with
    `return_sequences=cfg.return_sequences`.
    """
    if (cfg.plan.engine == "native" and cfg.kernel.batch_major and not time_major
            and not reverse):
        # native loops that read x and write hs batch-major in place: no transposes
        cfg = dataclasses.replace(cfg, batch_major=True)
        xs = x if input_mask is None else x * input_mask[:, None]
    else:
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
    h_T = final[0]  # the output is the first state

    def per_step(m):  # a (T, B) mask laid out as hs, with a feature axis
        return (m.T if cfg.batch_major else m)[:, :, None]

    if mask is None:
        last, ys = h_T, hs
    elif zero_output_for_mask:
        last = jnp.where(mask[-1][:, None], h_T, jnp.zeros_like(h_T))
        ys = None if hs is None else jnp.where(per_step(mask), hs, jnp.zeros_like(hs))
    else:
        # the previous output is repeated on masked steps, i.e. the output is the state once
        # any step was used, and zeros before that
        last = jnp.where(jnp.any(mask, axis=0)[:, None], h_T, jnp.zeros_like(h_T))
        if hs is not None:
            seen = lax.cummax(mask.astype(jnp.int32), axis=0) > 0
            ys = jnp.where(per_step(seen), hs, jnp.zeros_like(hs))
        else:
            ys = None
    if ys is not None and not time_major and not cfg.batch_major:
        ys = jnp.swapaxes(ys, 0, 1)
    return last, ys, final


# --- both directions of a Bidirectional layer in one kernel call -----------------------------

def bidirectional_ready(cfg: SeqConfig) -> bool:
    """True when `bidirectional_rnn` can run the two directions of `cfg` in one call: the
    planned engine's loops have a `bidirectional` kernel (float32; the bf16 variants have
    none, and with the split float32 forward (`Plan.f32_split`) two calls of it, one per
    direction on all cores, are faster), batch-major x, and no batch split over devices."""
    return (cfg.loops.bidirectional is not None and cfg.kernel.batch_major
            and cfg.plan.compute_dtype == "float32" and cfg.plan.devices == 1
            and not cfg.plan.f32_split and sharding.current() is None)


def bidirectional_rnn(cfg: SeqConfig, params_f, params_b, x, state_f, state_b):
    """Both directions of a Bidirectional layer over batch-first `x` (B, T, D), no mask, no
    dropout: the same values as `fused_rnn(cfg, params_f, x, state_f)` and
    `fused_rnn(cfg, params_b, x, state_b, reverse=True)` with the backward outputs flipped
    to time order.

    Inference runs the kind's `bidirectional` kernel: both loops in one call, one thread
    each. The gradient runs each direction's own forward and reverse loops.

    Returns `(hs (B, T, 2H) [forward | backward] or None, final_f, final_b)`.
    """
    cfg = dataclasses.replace(cfg, batch_major=True)
    return _bidir(cfg, params_f, params_b, x, tuple(state_f), tuple(state_b))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _bidir(cfg, params_f, params_b, x, state_f, state_b):
    return cfg.loops.bidirectional(cfg, params_f, params_b, x, state_f, state_b)


def _bidir_fwd(cfg, params_f, params_b, x, state_f, state_b):
    x_b = jnp.flip(x, 1)
    (hs_f, final_f), res_f = cfg.loops.forward(cfg, params_f, x, state_f, None, None)
    (hs_b, final_b), res_b = cfg.loops.forward(cfg, params_b, x_b, state_b, None, None)
    hs = None if hs_f is None else jnp.concatenate([hs_f, jnp.flip(hs_b, 1)], axis=-1)
    return (hs, final_f, final_b), (params_f, params_b, x, x_b, state_f, state_b, res_f, res_b)


def _bidir_bwd(cfg, saved, g):
    params_f, params_b, x, x_b, state_f, state_b, res_f, res_b = saved
    d_hs, d_final_f, d_final_b = g
    H = state_f[0].shape[-1]
    d_f = None if d_hs is None else d_hs[..., :H]
    d_b = None if d_hs is None else jnp.flip(d_hs[..., H:], 1)
    dp_f, dx_f, ds_f, _ = cfg.loops.backward(cfg, params_f, x, state_f, None, None, res_f, d_f,
                                             d_final_f)
    dp_b, dx_b, ds_b, _ = cfg.loops.backward(cfg, params_b, x_b, state_b, None, None, res_b,
                                             d_b, d_final_b)
    return dp_f, dp_b, dx_f + jnp.flip(dx_b, 1), ds_f, ds_b


_bidir.defvjp(_bidir_fwd, _bidir_bwd)


# --- consecutive layers of one kind in one kernel call --------------------------------------

# the stacked call starts a thread per layer: below this many multiply-adds per call
# (~0.1 ms of one core) the threads cost more than they give
STACK_MIN_MACS = 1 << 24


def stack_ready(cfgs, params, x_shape) -> bool:
    """True when `stacked_rnn` should run the layers of `cfgs` (>= 2, bottom first, with
    `params`) over batch-first inputs of `x_shape` in one call:

    - one cell kind with the same activations, every layer on the native engine in float32
      on one device with the default thread count, every layer but the last returning its
      sequence, and the kind's `stack` kernel built and loaded;
    - a core for every layer, of which the batch split of one layer (one thread per 8 rows)
      would leave some idle: at B64 on two cores the wavefront over the layers measured no
      faster than the split, and one thread running two layers step by step is slower than
      layer after layer (benchmarks/PERF_NOTES.md, lever 15);
    - at least `STACK_MIN_MACS` multiply-adds in the call.
    """
    if len(cfgs) < 2:
        return False
    first = cfgs[0]
    same = all(c.kernel is first.kernel and c.activation == first.activation
               and c.recurrent_activation == first.recurrent_activation
               and c.plan.engine == "native" and c.plan.compute_dtype == "float32"
               and c.plan.devices == 1 and c.plan.threads == 0 for c in cfgs)
    if not (same and first.kernel.batch_major and sharding.current() is None
            and all(c.return_sequences for c in cfgs[:-1])):
        return False
    batch, steps = x_shape[0], x_shape[1]
    n = cores()
    if not len(cfgs) <= n or min(n, batch // 8) >= len(cfgs):
        return False
    macs = steps * batch * sum(p.kernel.size + p.recurrent_kernel.size for p in params)
    if macs < STACK_MIN_MACS:
        return False
    loops = first.loops
    return loops.stack is not None and native.load(loops.stack_source)


def stacked_rnn(cfgs, params, x, states):
    """Layers stacked over batch-first `x` (B, T, D), no mask, no dropout: the same values
    as `fused_rnn` layer after layer, each layer's output sequence the next one's input.

    Inference runs the kind's `stack` kernel (a wavefront over the layers, one thread each).
    The gradient runs each layer's own forward and reverse loops.

    Returns `(hs (B, T, H) of the last layer or None, finals: a state tuple per layer)`.
    """
    cfgs = tuple(dataclasses.replace(c, batch_major=True) for c in cfgs)
    return _stack(cfgs, tuple(params), x, tuple(tuple(s) for s in states))


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _stack(cfgs, params, x, states):
    return cfgs[0].loops.stack(cfgs, params, x, states)


def _stack_fwd(cfgs, params, x, states):
    inputs, residuals, finals, hs = [], [], [], x
    for cfg, p, s in zip(cfgs, params, states):
        inputs.append(hs)
        (hs, final), res = cfg.loops.forward(cfg, p, hs, s, None, None)
        residuals.append(res)
        finals.append(final)
    return (hs, tuple(finals)), (params, tuple(inputs), states, tuple(residuals))


def _stack_bwd(cfgs, saved, g):
    params, inputs, states, residuals = saved
    d_hs, d_finals = g
    dps, dss = [None] * len(cfgs), [None] * len(cfgs)
    for i in reversed(range(len(cfgs))):
        cfg = cfgs[i]
        dps[i], d_hs, dss[i], _ = cfg.loops.backward(cfg, params[i], inputs[i], states[i],
                                                     None, None, residuals[i], d_hs,
                                                     d_finals[i])
    return tuple(dps), d_hs, tuple(dss)


_stack.defvjp(_stack_fwd, _stack_bwd)
