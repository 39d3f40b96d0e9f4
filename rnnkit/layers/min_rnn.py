"""`MinGRU`, `MinLSTM` and their cells (Feng et al. 2024, "Were RNNs all we needed?").

Gates that read only x_t make the recurrence linear in the state: a whole sequence is one
GEMM plus an elementwise scan (`rnnkit.core.kernels.mingru` / `minlstm`).
"""

from __future__ import annotations

from rnnkit import constraints, initializers, regularizers
from rnnkit.core.kernels import mingru, minlstm
from rnnkit.layers.cell_protocol import UnitsCell
from rnnkit.layers.helpers import set_weight_options
from rnnkit.layers.parallel_rnn import ParallelCell, ParallelRNN
from rnnkit.layers.rnn_cells import check_units


class _GatedCell(UnitsCell, ParallelCell):
    """kernel (D, G*units) and bias (G*units,): the G gate projections side by side."""

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, dropout=0.0, seed=None,
                 mode="auto", **kwargs):
        super().__init__(dropout=dropout, seed=seed, mode=mode, **kwargs)
        self.units = check_units(type(self).__name__, units)
        self.use_bias = bool(use_bias)
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))

    def build(self, input_shape):
        width = self.kernels.GATES * self.units
        self.kernel = self._weight("kernel", (int(input_shape[-1]), width),
                                   self.kernel_initializer, self.kernel_regularizer,
                                   self.kernel_constraint)
        self.bias = (self._weight("bias", (width,), self.bias_initializer,
                                  self.bias_regularizer, self.bias_constraint)
                     if self.use_bias else None)
        self._build_seed()
        self.built = True

    def _explain_size(self):
        return "u", self.units

    def _explain_weight_shapes(self, d, u):
        g = f"{self.kernels.GATES}*{u}"
        shapes = {"kernel": (d, g)}
        if self.use_bias:
            shapes["bias"] = (g,)
        return shapes

    def _explain_output_line(self):
        return "output_t = h_t;  state = [h_t]"

    def _explain_formula(self, d, u):  # MinGRU: 2*u*d+2*u
        g = self.kernels.GATES
        return f"{g}*{u}*{d}+{g}*{u}" if self.use_bias else f"{g}*{u}*{d}"

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint))
        return config


class MinGRUCell(_GatedCell):
    """One MinGRU step (see `rnnkit.core.kernels.mingru`):

        z_t = sigmoid(x_t W_z + b_z);  h~_t = x_t W_h + b_h
        h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

    Weights: kernel (D, 2*units) = [W_z | W_h], bias (2*units,). State: h (B, units).
    """

    kernels = mingru

    def core_params(self):
        return mingru.MinGRUParams(self.kernel.value,
                                   None if self.bias is None else self.bias.value)


class MinLSTMCell(_GatedCell):
    """One MinLSTM step (see `rnnkit.core.kernels.minlstm`):

        f_t = sigmoid(x_t W_f + b_f);  i_t = sigmoid(x_t W_i + b_i);  h~_t = x_t W_h + b_h
        h_t = f_t / (f_t + i_t) * h_{t-1} + i_t / (f_t + i_t) * h~_t

    Weights: kernel (D, 3*units) = [W_f | W_i | W_h], bias (3*units,). State: h (B, units).
    """

    kernels = minlstm

    def core_params(self):
        return minlstm.MinLSTMParams(self.kernel.value,
                                     None if self.bias is None else self.bias.value)


class MinGRU(ParallelRNN):
    """MinGRU layer: input (B, T, D) -> output (B, units) or (B, T, units); state h.

    `mode` = "auto" | "parallel" | "sequential" (see rnnkit.layers.parallel_rnn). Other
    arguments as `GRU` (no recurrent kernel, so no recurrent_* arguments).
    """

    _cell_class = MinGRUCell


class MinLSTM(ParallelRNN):
    """MinLSTM layer: input (B, T, D) -> output (B, units) or (B, T, units); one state h."""

    _cell_class = MinLSTMCell
