"""Keras recurrent cells: one time step, as objects that own their weights.

Each cell's `call(inputs, states, training)` computes one step with the pure functions of
`rnnkit.core.cells`. The `RNN` layer asks a cell for `rnn_step(...)`, a step function with
the dropout masks drawn once per sequence (variational dropout, as Keras).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit import random as rk_random
from rnnkit.core import cells as core
from rnnkit.core import engines, fused, policy
from rnnkit.core.kernels import get_kernel
from rnnkit.layers.cell_protocol import UnitsCell
from rnnkit.layers.helpers import set_weight_options
from rnnkit.layers.layer import Layer
from rnnkit.layers.validation import check_positive_int, check_rate  # noqa: F401


def check_units(layer_name: str, units) -> int:
    return check_positive_int(layer_name, "units", units, f"{layer_name}(64)",
                              " (the size of the output and state)")


class DropoutRNNCell(UnitsCell, Layer):
    """Shared configuration of the built-in cells: weights' initializers, regularizers,
    constraints, and variational dropout on inputs and recurrent state."""

    # the registered cell kind (rnnkit.core.kernels) whose spec this cell computes
    _fused_kind = None

    @property
    def _n_gates(self):
        return 1 if self._fused_kind is None else get_kernel(self._fused_kind).gates

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.units = check_units(cls, units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.dropout = check_rate(cls, "dropout", dropout)
        self.recurrent_dropout = check_rate(cls, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._seed_state = None

    def _add_kernels(self, input_dim):
        g = self._n_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, g), initializer=self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, g), initializer=self.recurrent_initializer,
            name="recurrent_kernel", regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)

    def _add_bias(self, shape, initializer=None):
        self.bias = self.add_weight(
            shape=shape, initializer=initializer or self.bias_initializer, name="bias",
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def build(self, input_shape):
        self._add_kernels(int(input_shape[-1]))
        if self.use_bias:
            self._add_bias((self._n_gates * self.units,))
        else:
            self.bias = None
        self._build_seed()
        self.built = True

    def _build_seed(self):
        if (self.dropout > 0 or self.recurrent_dropout > 0) and self._seed_state is None:
            self._seed_state = self.add_hidden_variable(
                rk_random.make_key(self.seed), "seed_generator_state")

    def dropout_masks(self, batch: int, input_dim: int, training):
        """Masks drawn once per sequence: (input (B, D) or None, recurrent (B, H) or None)."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        key, next_key = jax.random.split(self._seed_state.value)
        self._seed_state.assign(next_key)
        k_in, k_rec = jax.random.split(key)

        def mask(k, rate, shape):
            if rate == 0:
                return None
            keep = jax.random.bernoulli(k, 1.0 - rate, shape)
            return keep.astype(self.dtype) / (1.0 - rate)

        return (mask(k_in, self.dropout, (batch, input_dim)),
                mask(k_rec, self.recurrent_dropout, (batch, self.units)))

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [
            self.state_size]
        return [jnp.zeros((batch_size, s), self.dtype) for s in sizes]

    def call(self, inputs, states, training=None):
        step = self.rnn_step(inputs.shape[0], inputs.shape[-1], training)
        output, new_states = step(inputs, list(states) if isinstance(
            states, (list, tuple)) else [states])
        if not isinstance(states, (list, tuple)):
            new_states = new_states[0]
        return output, new_states

    def rnn_step(self, batch, input_dim, training):
        """A function `(x_t, states: list) -> (y_t, new_states: list)` for one sequence."""
        raise NotImplementedError

    # --- fused whole-sequence kernel (rnnkit.core.fused) ------------------------------------
    def _core_params(self):
        raise NotImplementedError

    def _fused_activations(self):
        ract = getattr(self, "recurrent_activation", None)
        return (fused.Act(self.activation), None if ract is None else fused.Act(ract))

    def fused_sequence(self, sequences, states, *, mask=None, training=None,
                       go_backwards=False, time_major=False, zero_output_for_mask=False,
                       return_sequences=False, unroll=False, compute_dtype="float32"):
        """The whole recurrence of this cell over `sequences` in one fused kernel.

        Same values as running `rnn_step` under `rnnkit.core.scan.scan_rnn` (and the same
        dropout masks: they are drawn here, once per sequence, exactly as `rnn_step` does),
        with a custom VJP that saves the gates and computes the weight gradients as single
        GEMMs after the reverse loop. `mask` is (T, B) when `time_major`, else (B, T).

        Returns `(last_output, outputs or None, new_states: list)`.
        """
        t_axis, b_axis = (0, 1) if time_major else (1, 0)
        batch, input_dim = sequences.shape[b_axis], sequences.shape[-1]
        in_mask, rec_mask = self.dropout_masks(batch, input_dim, training)
        cfg, params = self.fused_config(sequences.shape[t_axis], sequences, states,
                                        return_sequences=return_sequences, unroll=unroll,
                                        compute_dtype=compute_dtype, batch_axis=b_axis)
        last, seq, final = fused.fused_rnn(
            cfg, params, sequences, tuple(states), mask=mask, input_mask=in_mask,
            rec_mask=rec_mask, reverse=go_backwards, time_major=time_major,
            zero_output_for_mask=zero_output_for_mask)
        return last, seq, list(final)

    def fused_config(self, steps, sequences, states, *, return_sequences=False,
                     unroll=False, compute_dtype="float32", batch_axis=0):
        """`(SeqConfig, params)` of a fused call of this cell over `sequences` (`steps` time
        steps, the batch on `batch_axis`) starting from `states`."""
        kernel = get_kernel(self._fused_kind)
        batch, input_dim = sequences.shape[batch_axis], sequences.shape[-1]
        act, ract = self._fused_activations()
        params = self._core_params()
        dtypes = {str(jnp.result_type(a)) for a in jax.tree_util.tree_leaves(
            (sequences, params, states))}
        plan = policy.plan(kernel, batch, steps, input_dim, self.units,
                           user_unroll=unroll if unroll is not False else None,
                           compute_dtype=compute_dtype,
                           act_kinds=tuple(a.kind for a in (act, ract) if a is not None),
                           dtype=dtypes.pop() if len(dtypes) == 1 else "mixed",
                           engines=engines.available_engines(kernel, compute_dtype))
        return fused.SeqConfig(kernel, act, ract, bool(return_sequences), plan), params

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            recurrent_constraint=constraints.serialize(self.recurrent_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        return config


class SimpleRNNCell(DropoutRNNCell):
    """Fully-connected RNN cell: h' = activation(x @ kernel + bias + h @ recurrent_kernel).

    Weights: kernel (D, units), recurrent_kernel (units, units), bias (units,).
    """

    _fused_kind = "simple_rnn"

    def _core_params(self):
        return core.SimpleRNNParams(self.kernel.value, self.recurrent_kernel.value,
                                    None if self.bias is None else self.bias.value)

    def rnn_step(self, batch, input_dim, training):
        in_mask, rec_mask = self.dropout_masks(batch, input_dim, training)
        params = core.SimpleRNNParams(self.kernel.value, self.recurrent_kernel.value,
                                      None if self.bias is None else self.bias.value)

        def step(x, states):
            h, y = core.simple_rnn_step(params, states[0], x, activation=self.activation,
                                        input_mask=in_mask, recurrent_mask=rec_mask)
            return y, [h]

        return step


class LSTMCell(DropoutRNNCell):
    """LSTM cell, Keras gate order i, f, c, o (see `rnnkit.core.cells.lstm_step`).

    Weights: kernel (D, 4*units), recurrent_kernel (units, 4*units), bias (4*units,).
    States: [h, c], each (B, units).
    """

    _fused_kind = "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def build(self, input_shape):
        self._add_kernels(int(input_shape[-1]))
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base, units = self.bias_initializer, self.units

                def init(shape, dtype="float32"):
                    return jnp.concatenate([
                        jnp.asarray(base((units,), dtype=dtype)), jnp.ones((units,), dtype),
                        jnp.asarray(base((2 * units,), dtype=dtype))])
            self._add_bias((4 * self.units,), init)
        else:
            self.bias = None
        self._build_seed()
        self.built = True

    def _core_params(self):
        return core.LSTMParams(self.kernel.value, self.recurrent_kernel.value,
                               None if self.bias is None else self.bias.value)

    def rnn_step(self, batch, input_dim, training):
        in_mask, rec_mask = self.dropout_masks(batch, input_dim, training)
        params = core.LSTMParams(self.kernel.value, self.recurrent_kernel.value,
                                 None if self.bias is None else self.bias.value)

        def step(x, states):
            st, y = core.lstm_step(params, core.LSTMState(states[0], states[1]), x,
                                   activation=self.activation,
                                   recurrent_activation=self.recurrent_activation,
                                   input_mask=in_mask, recurrent_mask=rec_mask)
            return y, [st.h, st.c]

        return step

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                      unit_forget_bias=self.unit_forget_bias)
        return config


class GRUCell(DropoutRNNCell):
    """GRU cell, Keras gate order z, r, h (see `rnnkit.core.cells.gru_step`).

    Weights: kernel (D, 3*units), recurrent_kernel (units, 3*units), bias (2, 3*units) with
    `reset_after=True` (row 0 input bias, row 1 recurrent bias) or (3*units,) otherwise.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        self._add_kernels(int(input_shape[-1]))
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self._add_bias(shape)
        else:
            self.bias = None
        self._build_seed()
        self.built = True

    @property
    def _fused_kind(self):
        return "gru" if self.reset_after else "gru_v1"

    def _core_params(self):
        return core.GRUParams(self.kernel.value, self.recurrent_kernel.value,
                              None if self.bias is None else self.bias.value)

    def rnn_step(self, batch, input_dim, training):
        in_mask, rec_mask = self.dropout_masks(batch, input_dim, training)
        params = core.GRUParams(self.kernel.value, self.recurrent_kernel.value,
                                None if self.bias is None else self.bias.value)

        def step(x, states):
            h, y = core.gru_step(params, states[0], x, reset_after=self.reset_after,
                                 activation=self.activation,
                                 recurrent_activation=self.recurrent_activation,
                                 input_mask=in_mask, recurrent_mask=rec_mask)
            return y, [h]

        return step

    def get_config(self):
        config = super().get_config()
        config.update(recurrent_activation=activations.serialize(self.recurrent_activation),
                      reset_after=self.reset_after)
        return config
