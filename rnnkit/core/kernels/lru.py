"""LRU, the Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural
Networks for Long Sequences"): a diagonal complex linear recurrence with a real read-out.

    lambda = exp(-exp(nu_log) + i * exp(theta_log))
    s_t    = lambda * s_{t-1} + exp(gamma_log) * (x_t (B_re + i B_im))
    y_t    = Re(s_t (C_re + i C_im)) + D * x_t

params: nu_log, theta_log, gamma_log (N,); B_re, B_im (D, N); C_re, C_im (N, D); D (D,).
state: (Re s, Im s), each (B, N). Output width = input width D.
Complex numbers are real / imaginary float32 pairs; the input projection and the read-out
of every step are GEMMs, the time loop is `rnnkit.core.linear_scan.complex_diag`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from rnnkit.core import linear_scan
from rnnkit.core.kernels.spec import CellKernel

KIND = "lru"
NATIVE_SOURCE = linear_scan.COMPLEX_SOURCE
EQUATIONS = (
    "lambda = exp(-exp(nu_log) + i * exp(theta_log))",
    "s_t = lambda * s_{t-1} + exp(gamma_log) * (x_t (B_re + i B_im))",
    "y_t = Re(s_t (C_re + i C_im)) + D * x_t",
)
PARAM_FORMULA = "4*N*D + 3*N + D"


class LRUParams(NamedTuple):
    nu_log: jax.Array
    theta_log: jax.Array
    gamma_log: jax.Array
    B_re: jax.Array
    B_im: jax.Array
    C_re: jax.Array
    C_im: jax.Array
    D: jax.Array


def weight_shapes(input_dim: int, state_dim: int) -> dict:
    D, N = input_dim, state_dim
    return {"nu_log": (N,), "theta_log": (N,), "gamma_log": (N,), "B_re": (D, N),
            "B_im": (D, N), "C_re": (N, D), "C_im": (N, D), "D": (D,)}


def init_arrays(key, input_dim: int, state_dim: int, r_min: float, r_max: float,
                max_phase: float):
    """The paper's initialisation: |lambda| uniform on the ring [r_min, r_max] (uniform in
    area), phase uniform in [0, max_phase], gamma = sqrt(1 - |lambda|^2),
    B ~ N(0, 1/(2D)), C ~ N(0, 1/N), D ~ N(0, 1). Returns LRUParams of float32 arrays."""
    D, N = input_dim, state_dim
    k = jax.random.split(key, 7)
    u1 = jax.random.uniform(k[0], (N,))
    u2 = jax.random.uniform(k[1], (N,))
    nu_log = jnp.log(-0.5 * jnp.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2))
    theta_log = jnp.log(max_phase * u2)
    modulus = jnp.exp(-jnp.exp(nu_log))
    gamma_log = jnp.log(jnp.sqrt(1.0 - modulus ** 2))
    b_std, c_std = (1.0 / (2 * D)) ** 0.5, (1.0 / N) ** 0.5
    return LRUParams(
        nu_log, theta_log, gamma_log,
        jax.random.normal(k[2], (D, N)) * b_std, jax.random.normal(k[3], (D, N)) * b_std,
        jax.random.normal(k[4], (N, D)) * c_std, jax.random.normal(k[5], (N, D)) * c_std,
        jax.random.normal(k[6], (D,)))


def lam(params: LRUParams):
    """lambda as (2, N) = [re; im]."""
    modulus = jnp.exp(-jnp.exp(params.nu_log))
    phase = jnp.exp(params.theta_log)
    return jnp.stack([modulus * jnp.cos(phase), modulus * jnp.sin(phase)])


def project(params: LRUParams, x):
    """x (..., D) -> u = gamma * (x B) as [re | im] (..., 2N), one GEMM."""
    gamma = jnp.exp(params.gamma_log)
    u = x @ jnp.concatenate([params.B_re, params.B_im], axis=1)
    return u * linear_scan.lead(jnp.concatenate([gamma, gamma]), u)


def readout(params: LRUParams, s, x):
    """y = Re(s C) + D * x, s as [re | im] (..., 2N), x (..., D): one GEMM."""
    return (s @ jnp.concatenate([params.C_re, -params.C_im], axis=0)
            + linear_scan.lead(params.D, x) * x)


def step(params: LRUParams, state, x):
    """One step: `((re, im), x_t (B, D)) -> ((re', im'), y_t (B, D))`."""
    lr, li = lam(params)
    u = project(params, x)
    n = lr.shape[0]
    re, im = state
    lr, li = linear_scan.lead(lr, re), linear_scan.lead(li, re)
    re, im = lr * re - li * im + u[..., :n], li * re + lr * im + u[..., n:]
    return (re, im), readout(params, jnp.concatenate([re, im], -1), x)


def sequence(params: LRUParams, xs, state, mask=None, *, return_sequences=True,
             zero_output_for_mask=False, use_engine="xla"):
    """The parallel form over xs (B, T, D) in processing order; mask (B, T) bool or None.

    Returns `(last_output (B, D), outputs (B, T, D) or None, (re, im))`, the values of
    `rnnkit.core.scan.scan_rnn` over `step` (Keras output masking).
    """
    B, T, D = xs.shape
    u = project(params, xs.reshape(B * T, D)).reshape(B, T, -1)
    s0 = jnp.concatenate(state, axis=-1)
    S, sT = linear_scan.complex_diag(u, lam(params), s0, mask,
                                     return_sequences=return_sequences, use_engine=use_engine)
    ys = None
    if return_sequences:
        ys = readout(params, S.reshape(B * T, -1), xs.reshape(B * T, D)).reshape(B, T, D)
        ys = linear_scan.mask_outputs(ys, mask, zero_output_for_mask, carried=False)
    # the last output: sT is s after the last unmasked step; read it out with that step's x
    if mask is None or zero_output_for_mask:
        x_last = xs[:, -1]
    else:
        t_last = jnp.maximum(linear_scan.last_valid_index(mask)[:, -1], 0)
        x_last = jnp.take_along_axis(xs, t_last[:, None, None], axis=1)[:, 0]
    last = linear_scan.mask_last(readout(params, sT, x_last), mask, zero_output_for_mask)
    n = sT.shape[-1] // 2
    return last, ys, (sT[:, :n], sT[:, n:])


# gates: none (no kernel of gate blocks); the "states" are the real and imaginary parts of s
KERNEL = CellKernel(kind="lru", gates=0, states=("s_re", "s_im"), step=step,
                    equations=EQUATIONS, weight_shapes=weight_shapes,
                    param_formula=PARAM_FORMULA)
