"""MinLSTM (Feng et al. 2024, "Were RNNs all we needed?"): an LSTM whose gates read x_t
only, with normalised forget and input gates and one state.

    f_t  = sigmoid(x_t W_f + b_f)
    i_t  = sigmoid(x_t W_i + b_i)
    h~_t = x_t W_h + b_h
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
    h_t  = f'_t * h_{t-1} + i'_t * h~_t

params: kernel (D, 3U) = [W_f | W_i | W_h], bias (3U,) or None. state: (h,), h (B, U).
The time loop is `rnnkit.core.linear_scan.gated` with a = f', c = h~ (i' = 1 - f').
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax

from rnnkit.core import linear_scan
from rnnkit.core.kernels.spec import CellKernel

KIND = "minlstm"
GATES = 3
NATIVE_SOURCE = linear_scan.GATED_SOURCE
EQUATIONS = (
    "f_t = sigmoid(x_t W_f + b_f)",
    "i_t = sigmoid(x_t W_i + b_i)",
    "h~_t = x_t W_h + b_h",
    "f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)",
    "h_t = f'_t * h_{t-1} + i'_t * h~_t",
)
PARAM_FORMULA = "3*U*D + 3*U"


class MinLSTMParams(NamedTuple):
    kernel: jax.Array
    bias: Optional[jax.Array]


def weight_shapes(input_dim: int, units: int, use_bias: bool = True) -> dict:
    return {"kernel": (input_dim, 3 * units), "bias": (3 * units,) if use_bias else None}


def project(params: MinLSTMParams, x):
    """x (..., D) -> [f~ | i~ | h~] (..., 3U), one GEMM."""
    p = x @ params.kernel
    return p if params.bias is None else p + linear_scan.lead(params.bias, p)


def decay(p):
    """[f~ | i~ | h~] -> (a, c) of h = a h + (1 - a) c: a = f / (f + i), c = h~."""
    u = p.shape[-1] // 3
    f = jax.nn.sigmoid(p[..., :u])
    i = jax.nn.sigmoid(p[..., u:2 * u])
    return f / (f + i), p[..., 2 * u:]


def step(params: MinLSTMParams, state, x):
    """One step: `((h,), x_t (B, D)) -> ((h',), h')`."""
    a, c = decay(project(params, x))
    h = a * state[0] + (1.0 - a) * c
    return (h,), h


def sequence(params: MinLSTMParams, xs, state, mask=None, *, return_sequences=True,
             zero_output_for_mask=False, use_engine="xla"):
    """The parallel form over xs (B, T, D) in processing order (see mingru.sequence)."""
    return linear_scan.gated_sequence(KIND, project, decay, params, xs, state, mask,
                                      return_sequences=return_sequences,
                                      zero_output_for_mask=zero_output_for_mask,
                                      use_engine=use_engine)


KERNEL = CellKernel(kind="minlstm", gates=GATES, states=("h",), step=step, equations=EQUATIONS,
                    weight_shapes=weight_shapes, param_formula=PARAM_FORMULA)
