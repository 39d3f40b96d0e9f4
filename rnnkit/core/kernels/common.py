"""Shared pieces of the cell kinds' sequence kernels: activations with cheap derivatives
(`Act`) and small array helpers (matmul in the compute dtype, masking, scan)."""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax

from rnnkit import activations as _acts


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


# --- small helpers ----------------------------------------------------------------------

def cdt_of(cfg):
    return jnp.bfloat16 if cfg.plan.compute_dtype == "bfloat16" else None


def cast_w(w, cdt):
    return w if cdt is None else w.astype(cdt)


def mm(a, w, cdt):
    if cdt is None:
        return a @ w
    return jnp.dot(a.astype(cdt), w, preferred_element_type=jnp.float32)


def t_mm(a2, b2, cdt=None):
    """a2^T @ b2 for 2-D a2 (N, P), b2 (N, Q): one GEMM contracting the rows."""
    if cdt is not None:
        return lax.dot_general(a2.astype(cdt), b2.astype(cdt), (((0,), (0,)), ((), ())),
                               preferred_element_type=jnp.float32)
    return lax.dot_general(a2, b2, (((0,), (0,)), ((), ())))


def keep(m_t, new, old):
    return new if m_t is None else jnp.where(m_t[:, None], new, old)


def prev_seq(first, seq):
    """(T, B, H): the state before each step, from the initial state and the states after."""
    return jnp.concatenate([first[None], seq[:-1]], axis=0)


def flat(a):
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def mask_f(m_t, dtype):
    return None if m_t is None else m_t[:, None].astype(dtype)


def scan(body, init, xs, *, reverse=False, unroll=1):
    return lax.scan(body, init, xs, reverse=reverse, unroll=max(int(unroll), 1))


def reverse_h_loop(cfg, rm, res, Hprev, mask, d_hs, d_hT, step_grads):
    """The reverse loop of the one-state cells (SimpleRNN, both GRU modes): per step, adds
    the output gradient, masks it, asks `step_grads(dh_n, res_t, h_prev) -> (dhr, z, outs)`
    for the step's own part (dhr: the gradient at the dropout-masked h_(t-1); z: the factor
    by which h_(t-1) passes straight into h_t, or None; outs: what the loop stacks), carries
    dh over masked steps and sums the recurrent-dropout mask's gradient. `res` (T, B, ...)
    and `Hprev` (T, B, H; None when neither step_grads nor the dropout mask needs it) are
    scanned with the step.
    Returns `((dh0, drm or None), stacked outs)`."""

    def body(carry, inp):
        dh, drm = carry
        res_t, h_prev, m_t, dhs_t = inp
        if dhs_t is not None:
            dh = dh + dhs_t
        mf = mask_f(m_t, dh.dtype)
        dh_n = dh if mf is None else dh * mf
        dhr, z, outs = step_grads(dh_n, res_t, h_prev)
        dh_p = dhr if rm is None else dhr * rm
        if z is not None:
            dh_p = dh_p + dh_n * z
        if mf is not None:
            dh_p = dh_p + dh * (1.0 - mf)
        if rm is not None:
            drm = drm + h_prev * dhr
        return (dh_p, drm), outs

    drm0 = None if rm is None else jnp.zeros_like(rm)
    return scan(body, (d_hT, drm0), (res, Hprev, mask, d_hs), reverse=True,
                unroll=cfg.plan.bwd_unroll)
