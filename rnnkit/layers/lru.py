"""`LRU` and `LRUCell`: the Linear Recurrent Unit (Orvieto et al. 2023).

A diagonal complex linear recurrence with a real read-out (`rnnkit.core.kernels.lru`); the
output width equals the input width D, the state is complex of size `state_dim` (N), kept
as two real states [Re s, Im s].
"""

from __future__ import annotations

import math
import numbers

import jax.numpy as jnp

from rnnkit import constraints, regularizers
from rnnkit import random as rk_random
from rnnkit.core.kernels import lru
from rnnkit.layers.parallel_rnn import ParallelCell, ParallelRNN, check_positive_int

# weight groups sharing one regularizer / constraint argument: <group>_regularizer
_GROUPS = {"lambda": ("nu_log", "theta_log"), "gamma": ("gamma_log",),
           "B": ("B_re", "B_im"), "C": ("C_re", "C_im"), "D": ("D",)}


def _check_unit_float(name, arg, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} expects `{arg}` to be a number in [0, 1] (a modulus of the "
                         f"eigenvalues lambda). Received: {arg}={value!r}.")
    return float(value)


class LRUCell(ParallelCell):
    """One LRU step:

        lambda = exp(-exp(nu_log) + i * exp(theta_log))
        s_t = lambda * s_{t-1} + exp(gamma_log) * (x_t (B_re + i B_im))
        y_t = Re(s_t (C_re + i C_im)) + D * x_t

    Weights, in order: nu_log (N,), theta_log (N,), gamma_log (N,), B_re (D, N),
    B_im (D, N), C_re (N, D), C_im (N, D), D (D,). States: [Re s, Im s], each (B, N).
    Initialised as in the paper: |lambda| uniform on the ring [r_min, r_max], phase uniform
    in [0, max_phase], gamma = sqrt(1 - |lambda|^2), B ~ N(0, 1/(2D)), C ~ N(0, 1/N),
    D ~ N(0, 1) (from `seed`). Regularizers and constraints per weight group:
    `lambda_*` (nu_log, theta_log), `gamma_*`, `B_*`, `C_*`, `D_*`.
    """

    kernels = lru

    def __init__(self, state_dim, r_min=0.0, r_max=1.0, max_phase=2 * math.pi, dropout=0.0,
                 seed=None, mode="auto", **kwargs):
        group_args = {}
        for group in _GROUPS:
            for what in ("regularizer", "constraint"):
                group_args[f"{group}_{what}"] = kwargs.pop(f"{group}_{what}", None)
        super().__init__(dropout=dropout, seed=seed, mode=mode, **kwargs)
        name = type(self).__name__
        self.state_dim = check_positive_int(name, "state_dim", state_dim)
        self.r_min = _check_unit_float(name, "r_min", r_min)
        self.r_max = _check_unit_float(name, "r_max", r_max)
        if self.r_min >= self.r_max:
            raise ValueError(f"{name} expects r_min < r_max (the ring of |lambda| at "
                             f"initialisation). Received: r_min={r_min!r}, r_max={r_max!r}.")
        if isinstance(max_phase, bool) or not isinstance(max_phase, numbers.Real) \
                or not max_phase > 0:
            raise ValueError(f"{name} expects `max_phase` to be a positive number (radians). "
                             f"Received: max_phase={max_phase!r}.")
        self.max_phase = float(max_phase)
        self._group_args = {k: (regularizers.get(v) if k.endswith("regularizer")
                                else constraints.get(v)) for k, v in group_args.items()}
        self._input_dim = None

    @property
    def state_size(self):
        return [self.state_dim, self.state_dim]

    @property
    def output_size(self):
        return self._input_dim

    def build(self, input_shape):
        D, N = int(input_shape[-1]), self.state_dim
        self._input_dim = D
        init = lru.init_arrays(rk_random.make_key(rk_random.draw_seed(self.seed)), D, N,
                               self.r_min, self.r_max, self.max_phase)
        for group, names in _GROUPS.items():
            for name in names:
                value = getattr(init, name)
                setattr(self, name, self._weight(
                    name, value.shape, lambda shape, dtype=None, v=value: jnp.asarray(v, dtype),
                    self._group_args[f"{group}_regularizer"],
                    self._group_args[f"{group}_constraint"]))
        self._build_seed()
        self.built = True

    def _explain_size(self):
        return "n", self.state_dim

    def _explain_weight_shapes(self, d, n):
        return {"nu_log": (n,), "theta_log": (n,), "gamma_log": (n,), "B_re": (d, n),
                "B_im": (d, n), "C_re": (n, d), "C_im": (n, d), "D": (d,)}

    def _explain_formula(self, d, n):
        return f"4*{n}*{d}+3*{n}+{d}"

    def _explain_output_line(self):
        return "output_t = y_t;  states = [Re s_t, Im s_t]"

    def core_params(self):
        return lru.LRUParams(*(getattr(self, n).value for n in lru.LRUParams._fields))

    def get_config(self):
        config = super().get_config()
        config.update(state_dim=self.state_dim, r_min=self.r_min, r_max=self.r_max,
                      max_phase=self.max_phase)
        for key, obj in self._group_args.items():
            module = regularizers if key.endswith("regularizer") else constraints
            config[key] = module.serialize(obj)
        return config


class LRU(ParallelRNN):
    """LRU layer: input (B, T, D) -> output (B, D) or (B, T, D); states [Re s, Im s].

    `LRU(state_dim, r_min=0.0, r_max=1.0, max_phase=2*pi, ...)`; see `LRUCell`.
    """

    _cell_class = LRUCell
    keeps_input_width = True  # the output has the input's width D
