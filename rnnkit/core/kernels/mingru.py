"""MinGRU (Feng et al. 2024, "Were RNNs all we needed?"): a GRU whose gates read x_t only.

    z_t  = sigmoid(x_t W_z + b_z)
    h~_t = x_t W_h + b_h
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t

params: kernel (D, 2U) = [W_z | W_h], bias (2U,) or None. state: (h,), h (B, U).
The projection of every step is one GEMM; the time loop is the elementwise linear recurrence
of `rnnkit.core.linear_scan.gated` with a = 1 - z, c = h~.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from rnnkit.core import linear_scan
from rnnkit.core.kernels.spec import CellKernel

KIND = "mingru"
GATES = 2
NATIVE_SOURCE = linear_scan.GATED_SOURCE
EQUATIONS = (
    "z_t = sigmoid(x_t W_z + b_z)",
    "h~_t = x_t W_h + b_h",
    "h_t = (1 - z_t) * h_{t-1} + z_t * h~_t",
)
PARAM_FORMULA = "2*U*D + 2*U"


class MinGRUParams(NamedTuple):
    kernel: jax.Array
    bias: Optional[jax.Array]


def weight_shapes(input_dim: int, units: int, use_bias: bool = True) -> dict:
    return {"kernel": (input_dim, 2 * units), "bias": (2 * units,) if use_bias else None}


def project(params: MinGRUParams, x):
    """x (..., D) -> the gate pre-activations [z~ | h~] (..., 2U), one GEMM."""
    p = x @ params.kernel
    return p if params.bias is None else p + linear_scan.lead(params.bias, p)


def decay(p):
    """[z~ | h~] -> (a, c) of h = a h + (1 - a) c: a = 1 - z, c = h~."""
    u = p.shape[-1] // 2
    return 1.0 - jax.nn.sigmoid(p[..., :u]), p[..., u:]


def step(params: MinGRUParams, state, x):
    """One step: `((h,), x_t (B, D)) -> ((h',), h')`."""
    a, c = decay(project(params, x))
    h = (1.0 - a) * c + a * state[0]
    return (h,), h


def sequence(params: MinGRUParams, xs, state, mask=None, *, return_sequences=True,
             zero_output_for_mask=False, use_engine="xla"):
    """The parallel form over xs (B, T, D) in processing order; mask (B, T) bool or None.

    Returns `(last_output (B, U), outputs (B, T, U) or None, (hT,))`, the values of
    `rnnkit.core.scan.scan_rnn` over `step` (Keras output masking).
    """
    return linear_scan.gated_sequence(KIND, project, decay, params, xs, state, mask,
                                      return_sequences=return_sequences,
                                      zero_output_for_mask=zero_output_for_mask,
                                      use_engine=use_engine)


KERNEL = CellKernel(kind="mingru", gates=GATES, states=("h",), step=step, equations=EQUATIONS,
                    weight_shapes=weight_shapes, param_formula=PARAM_FORMULA)
