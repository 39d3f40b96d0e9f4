"""Base classes of the parallel-scan recurrent layers (MinGRU, MinLSTM, LRU).

Their state update is linear in the state, so a whole sequence runs as one GEMM for the
input projections and an elementwise linear recurrence (`rnnkit.core.linear_scan`), while
`rnnkit.core.kernels.<kind>.step` runs one step at a time (`layer.step`, generation, the
"sequential" mode). Both forms give the same numbers to float32 rounding.

`mode`: "parallel" (the whole-sequence form), "sequential" (the cell step under
`rnnkit.core.scan.scan_rnn`, x_t @ W inside the step; `unroll` applies here), or "auto"
(the default: parallel, unless `rnnkit.config` fast paths are turned off). "auto" does not
switch by length: the sequential form has not been measured against the parallel one per
length (benchmarks/parallel_scan.py compares the parallel form with GRU); it is kept as the
reference the parallel form is tested against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit import config
from rnnkit import random as rk_random
from rnnkit.core import linear_scan
from rnnkit.layers.layer import Layer
from rnnkit.layers.recurrent import CellLayer
from rnnkit.layers.rnn_cells import check_rate

MODES = ("auto", "parallel", "sequential")


def check_mode(layer_name: str, mode) -> str:
    if mode not in MODES:
        raise ValueError(
            f"{layer_name} expects `mode` to be one of 'auto', 'parallel' or 'sequential'. "
            f"Received: mode={mode!r}. 'auto' (the default) runs whole sequences with the "
            "parallel form.")
    return mode


def check_positive_int(layer_name: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{layer_name} expects `{arg}` to be a positive integer. Received: "
            f"{arg}={value!r}. For example: {layer_name}(64).")
    return value


class ParallelCell(Layer):
    """A cell with a pure step and a whole-sequence parallel form (see the module doc).

    Subclasses set `kernels` (the kernel module of `rnnkit.core.kernels`), create weights in
    `build`, and return the kernel's params from `core_params()`. Dropout: `dropout` is the
    fraction of input features dropped in training, one mask per sequence (as Keras's RNN
    cells); there is no recurrent matmul, so no recurrent dropout.
    """

    kernels = None  # the rnnkit.core.kernels module of this kind

    def __init__(self, *, dropout=0.0, seed=None, mode="auto", **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.dropout = check_rate(cls, "dropout", dropout)
        self.seed = seed
        self.mode = check_mode(cls, mode)
        self._seed_state = None

    # --- weights ------------------------------------------------------------------------
    def _weight(self, name, shape, initializer, regularizer=None, constraint=None):
        return self.add_weight(shape=shape, initializer=initializer, name=name,
                               regularizer=regularizer, constraint=constraint)

    def _build_seed(self):
        if self.dropout > 0 and self._seed_state is None:
            self._seed_state = self.add_hidden_variable(rk_random.make_key(self.seed),
                                                        "seed_generator_state")

    def core_params(self):
        raise NotImplementedError

    # --- states -------------------------------------------------------------------------
    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [
            self.state_size]
        return [jnp.zeros((batch_size, s), self.dtype) for s in sizes]

    # --- one step -----------------------------------------------------------------------
    def dropout_mask(self, batch: int, input_dim: int, training):
        """The input dropout mask of one sequence, (B, D), or None."""
        if not training or self.dropout == 0:
            return None
        key, next_key = jax.random.split(self._seed_state.value)
        self._seed_state.assign(next_key)
        keep = jax.random.bernoulli(key, 1.0 - self.dropout, (batch, input_dim))
        return keep.astype(self.dtype) / (1.0 - self.dropout)

    def rnn_step(self, batch, input_dim, training):
        """`(x_t, states: list) -> (y_t, new_states: list)` for one sequence."""
        in_mask = self.dropout_mask(batch, input_dim, training)
        params = self.core_params()
        step = self.kernels.step

        def run(x, states):
            if in_mask is not None:
                x = x * in_mask
            new, y = step(params, tuple(states), x)
            return y, list(new)

        return run

    def call(self, inputs, states, training=None):
        single = not isinstance(states, (list, tuple))
        y, new = self.rnn_step(inputs.shape[0], inputs.shape[-1], training)(
            inputs, [states] if single else list(states))
        return y, (new[0] if single else new)

    # --- whole sequence -----------------------------------------------------------------
    def uses_parallel(self) -> bool:
        """Whether `RNN` runs whole sequences through `fused_sequence`: not in "sequential"
        mode, nor for a subclass that changes the step (its own `call` or `rnn_step`)."""
        cls = type(self)
        if cls.call is not ParallelCell.call or cls.rnn_step is not ParallelCell.rnn_step:
            return False
        if self.mode == "auto":
            return config.fast_paths_enabled()
        return self.mode == "parallel"

    def fused_sequence(self, sequences, states, *, mask=None, training=None,
                       go_backwards=False, time_major=False, zero_output_for_mask=False,
                       return_sequences=False, unroll=False, compute_dtype="float32"):
        """The parallel form over a whole sequence: the same values as `rnn_step` under
        `rnnkit.core.scan.scan_rnn` (and the same dropout mask). `unroll` and
        `compute_dtype` do not apply (no per-step matmul). Returns
        `(last_output, outputs or None, new_states: list)`."""
        xs = jnp.swapaxes(sequences, 0, 1) if time_major else sequences
        if mask is not None:  # (T, B) when time_major, as RNN.call passes it
            mask = (jnp.swapaxes(mask, 0, 1) if time_major else mask).astype(bool)
        if go_backwards:
            xs = jnp.flip(xs, 1)
            mask = None if mask is None else jnp.flip(mask, 1)
        in_mask = self.dropout_mask(xs.shape[0], xs.shape[-1], training)
        if in_mask is not None:
            xs = xs * in_mask[:, None, :]
        engine = linear_scan.engine(self.kernels.NATIVE_SOURCE, xs.dtype)
        last, seq, final = self.kernels.sequence(
            self.core_params(), xs, tuple(states), mask, return_sequences=return_sequences,
            zero_output_for_mask=zero_output_for_mask, use_engine=engine)
        if seq is not None and time_major:
            seq = jnp.swapaxes(seq, 0, 1)
        return last, seq, list(final)

    # --- what `rnnkit explain` prints -----------------------------------------------------
    def explain_spec(self, input_dim: int, suffix: str = "") -> dict:
        """Equations (from the kernel module), parameter formula and per-weight formulas:
        {"equations", "formula", "weights": {name: (shape formula, count formula)},
        "variables", "state_names"}."""
        kernel = self.kernels.KERNEL
        size_sym, size = self._explain_size()
        d, s = f"d{suffix}", f"{size_sym}{suffix}"
        shapes = self._explain_weight_shapes(d, s)
        per = {name: ("(" + ", ".join(shape) + (",)" if len(shape) == 1 else ")"),
                      "*".join(shape)) for name, shape in shapes.items()}
        equations = list(kernel.equations) + [self._explain_output_line()]
        if self.dropout:
            equations.append(f"training only: x_t is multiplied by a dropout mask (rate "
                             f"{self.dropout}), drawn once per sequence")
        return {"equations": equations, "formula": self._explain_formula(d, s),
                "weights": per, "variables": {d: int(input_dim), s: int(size)},
                "state_names": list(kernel.states)}

    def get_config(self):
        config = super().get_config()
        config.update(dropout=self.dropout, seed=self.seed, mode=self.mode)
        return config


class ParallelRNN(CellLayer):
    """An `RNN` around a `ParallelCell` built from the layer's own keyword arguments."""
