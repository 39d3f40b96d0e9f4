"""`RNN`: runs any cell over time with one `lax.scan` (see `rnnkit.core.scan`)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from rnnkit import config
from rnnkit.core.kernels import get_kernel
from rnnkit.core.scan import scan_rnn
from rnnkit.layers.cell_protocol import cell_step, check_cell, flat_sizes
from rnnkit.layers.layer import Layer, in_trace
from rnnkit.layers.serialization import deserialize, serialize
from rnnkit.layers.stacked import StackedRNNCells
from rnnkit.layers.validation import is_int


def _shape(x):
    return tuple(getattr(x, "shape", ()))


def zeros_after_unrolled_loop(layer, mask) -> bool:
    """Keras' unrolled masked loop with `zero_output_for_mask` (TensorFlow backend, which
    made the reference data) carries the previous output over masked steps like the plain
    loop, then zeroes the output sequence where the mask, taken as given, is False. With
    `go_backwards` the sequence is in processing order but the mask is not reversed, so
    the zeros land on the mirrored steps; this reproduces that."""
    return (mask is not None and layer.unroll and layer.go_backwards
            and layer.zero_output_for_mask and layer.return_sequences)


def zero_masked_steps(seq, mask):
    """`seq` (B, T, ...) with the steps where `mask` (B, T) is False set to zero."""
    return jnp.where(mask.reshape(mask.shape + (1,) * (seq.ndim - 2)), seq, 0.0)


def _flat_one_cell_states(layer, mask) -> bool:
    """Keras' unrolled loop without a mask (both backends) carries the states as the cell
    returns them, and a one-cell `RNN([cell])` (a StackedRNNCells of one) returns its cell's
    states unnested: `return_state` then gives `[output, h]` (`[output, h, c]`), where every
    other loop keeps the nesting of the initial states, `[output, [h]]`."""
    return (mask is None and layer.unroll is True and layer._stacked
            and len(layer.cell.cells) == 1)


_FUSED_METHODS = ("rnn_step", "call", "dropout_masks", "_core_params", "fused_sequence",
                  "_fused_activations")


def _fusable_cell(cell) -> bool:
    """A cell whose kind (`_fused_kind`, rnnkit.core.kernels) has fused XLA kernels, of the
    class that names that kind or a subclass that overrides none of its step methods."""
    kind = getattr(cell, "_fused_kind", None)
    if kind is None or get_kernel(kind).xla is None:
        return False
    cls = type(cell)
    owner = next(c for c in cls.__mro__ if "_fused_kind" in c.__dict__)
    return cls is owner or all(getattr(cls, n) is getattr(owner, n) for n in _FUSED_METHODS)


class RNN(Layer):
    """Keras `RNN(cell)`: applies a cell to every time step of a (batch, timesteps,
    features) input.

    Args:
        cell: a cell (`LSTMCell(64)`, a custom cell with `state_size` and
            `call(inputs, states) -> (output, new_states)`), or a list of cells (stacked).
        return_sequences: return outputs of all steps (B, T, H) instead of the last (B, H).
        return_state: also return the final states: `[output, *states]`.
        go_backwards: process the sequence from the end; outputs stay in processing order.
        stateful: the final states of a call are the initial states of the next.
        unroll: True for a fully unrolled loop, or an int unroll factor (beyond Keras).
        time_major: inputs and outputs are (T, B, ...) (tf.keras 2 argument).
        zero_output_for_mask: masked steps output zeros instead of the previous output.

    Call arguments: `inputs` (B, T, D); `initial_state` a list of (B, size) arrays;
    `mask` bool (B, T), True = use this step; `training`; `constants`.
    """

    _numpy_inputs_ok = True  # _check_inputs reads only shapes (see Layer.__call__)
    runs_sequences = True  # a layer over whole sequences, not a cell (cell_protocol.check_cell)

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, time_major=False, zero_output_for_mask=False,
                 **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        check_cell(cell, where=type(self).__name__)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        if not isinstance(unroll, (bool, np.bool_)) and (not is_int(unroll) or unroll < 1):
            raise ValueError(f"`unroll` must be True, False or a positive int unroll factor. "
                             f"Received: unroll={unroll!r}.")
        self.unroll = bool(unroll) if isinstance(unroll, (bool, np.bool_)) else int(unroll)
        self.time_major = bool(time_major)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._state_vars = None

    # --- states ---------------------------------------------------------------------
    @property
    def _stacked(self):
        return isinstance(self.cell, StackedRNNCells)

    def _state_sizes(self):
        """Per-cell list of state sizes (stacked) or one flat list."""
        if self._stacked:
            return [flat_sizes(c.state_size) for c in self.cell.cells]
        return flat_sizes(self.cell.state_size)

    def _flat(self, states):
        return [s for group in states for s in group] if self._stacked else list(states)

    def _nest(self, flat):
        if not self._stacked:
            return list(flat)
        out, i = [], 0
        for sizes in self._state_sizes():
            out.append(list(flat[i:i + len(sizes)]))
            i += len(sizes)
        return out

    def get_initial_state(self, batch_size):
        """Zero states for `batch_size` rows (an int, or an input array to take it from)."""
        if hasattr(batch_size, "shape"):
            batch_size = batch_size.shape[1 if self.time_major else 0]
        sizes = self._flat(self._state_sizes())
        return self._nest([jnp.zeros((batch_size, s), self.dtype) for s in sizes])

    def _create_state_vars(self, batch, input_shape):
        if batch is None:
            axis = 1 if self.time_major else 0
            example = tuple(32 if i == axis else d for i, d in enumerate(input_shape))
            shape = tuple(d for i, d in enumerate(input_shape) if i != axis)
            raise ValueError(
                f"{type(self).__name__} layer '{self.name}' is stateful=True, so it needs a "
                "fixed batch size: it keeps one state row per sample between calls. Received "
                f"inputs of shape {tuple(input_shape)} with an unknown batch size. Give one, "
                f"e.g. Input(batch_shape={example}) or Input(shape={shape}, "
                "batch_size=32) (or batch_size=32 on the first layer of a Sequential); "
                "every batch must then have that many rows.")
        sizes = self._flat(self._state_sizes())
        self._state_vars = [self.add_hidden_variable(np.zeros((batch, s), self.dtype),
                                                     f"state_{i}") for i, s in enumerate(sizes)]

    def reset_states(self, states=None):
        """Sets the states of a stateful layer to zeros, or to `states` (tf.keras 2's
        argument: one (batch, size) array per state, e.g. [h, c] for an LSTM)."""
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' is not stateful; reset_states() only "
                                 "applies to layers created with stateful=True.")
        if self._state_vars is None:
            if states is not None:
                raise ValueError(
                    f"{type(self).__name__} layer '{self.name}' is not built yet, so it has "
                    "no states to set: call it on a batch first (or start the model with "
                    "Input(batch_shape=...)), then reset_states(states).")
            return
        if states is None:
            values = [np.zeros(v.shape, v.dtype) for v in self._state_vars]
        else:
            values = self._normalize_states(states, self._state_vars[0].shape[0],
                                            what="state", arg="reset_states(states)")
        for var, value in zip(self._state_vars, values):
            var.assign(value)

    reset_state = reset_states

    @property
    def states(self):
        if self._state_vars is None:
            return None
        return self._nest([v.value for v in self._state_vars])

    # --- build ----------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            return  # _check_inputs reports the error with the real shape
        step_shape = (input_shape[1 if self.time_major else 0], input_shape[-1])
        if not self.cell.built:
            self.cell.build(step_shape)
            self.cell.built = True
        self._input_dim = input_shape[-1]
        batch = input_shape[1 if self.time_major else 0]
        if self.stateful and self._state_vars is None:
            self._create_state_vars(batch, input_shape)
        self.built = True

    def _check_inputs(self, args, kwargs):
        x = args[0]
        name = f"{type(self).__name__} layer '{self.name}'"
        if len(args) > 1 and not self.return_state and not isinstance(self, _NoStateCheck):
            raise ValueError(
                f"{name} was given initial states as a second positional argument, but it "
                "returns a single tensor (return_state=False), so code such as "
                "`output, new_state = layer(x, state)` cannot work. Create the layer with "
                "return_state=True to get `[output, *states]` back, and pass states by "
                "keyword: layer(x, initial_state=state). For step-by-step generation see "
                "layer.step()."
            )
        shape = _shape(x)
        if len(shape) != 3:
            hint = {1: "add batch and feature axes: x[None, :, None]",
                    2: "for one sequence of shape (timesteps, features) add a batch axis: "
                       "x[None]; for a batch of scalar sequences (batch, timesteps) add a "
                       "feature axis: x[..., None]"}.get(
                len(shape), "merge the extra axes into features, e.g. "
                            "x.reshape(x.shape[0], x.shape[1], -1), or wrap an inner layer "
                            "in TimeDistributed")
            layout = "(timesteps, batch, features)" if self.time_major else \
                "(batch, timesteps, features)"
            raise ValueError(f"{name} expects inputs of shape {layout} (rank 3). Received "
                             f"inputs.shape={shape} (rank {len(shape)}). To fix: {hint}.")
        built_dim = getattr(self, "_input_dim", None)
        if built_dim is not None and shape[-1] is not None and shape[-1] != built_dim:
            raise ValueError(
                f"{name} was built for inputs with {built_dim} features, but received "
                f"inputs.shape={shape} with {shape[-1]} features. Feed inputs with "
                f"{built_dim} features, or create a new layer for this input size.")
        batch = shape[1 if self.time_major else 0]
        mask = kwargs.get("mask")
        if mask is not None:
            expected = (shape[1], shape[0]) if self.time_major else (shape[0], shape[1])
            if tuple(_shape(mask)) != expected:
                raise ValueError(
                    f"{name} expects a mask of shape (batch, timesteps) = {expected} (True = "
                    f"use this step). Received mask.shape={tuple(_shape(mask))}.")
        if self.stateful and self._state_vars is not None and batch is not None \
                and batch != self._state_vars[0].shape[0]:
            raise ValueError(
                f"{name} is stateful and keeps states for a batch of "
                f"{self._state_vars[0].shape[0]} rows, but received a batch of {batch}. "
                "Stateful layers need the same batch size on every call: pad or split the "
                "batch, or build a new layer for the new batch size.")
        initial_state = kwargs.get("initial_state")
        if initial_state is not None:
            self._normalize_states(initial_state, batch)

    def _normalize_states(self, initial_state, batch, what="initial state",
                          arg="initial_state"):
        """The flat list of state arrays in `initial_state`, checked against the cell's
        state sizes (count and shapes)."""
        sizes = self._state_sizes()
        flat_expected = self._flat(sizes)
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        flat = []
        for s in initial_state:
            flat.extend(s if isinstance(s, (list, tuple)) else [s])
        name = f"{type(self).__name__} layer '{self.name}'"
        expected_shapes = [(batch, n) for n in flat_expected]
        if len(flat) != len(flat_expected):
            raise ValueError(
                f"{name} expects {len(flat_expected)} {what} array(s) of shapes "
                f"{expected_shapes}, but received {len(flat)}: "
                f"{[_shape(s) for s in flat]}. "
                + (f"An LSTM takes two states: {arg}=[h, c]." if len(flat_expected) == 2
                   else ""))
        for s, exp in zip(flat, expected_shapes):
            got = _shape(s)
            if len(got) != 2 or got[-1] != exp[1] or (exp[0] is not None and got[0] is not None
                                                      and got[0] != exp[0]):
                raise ValueError(
                    f"{name} expects {what}s of shapes {expected_shapes} "
                    f"(batch, units); received shapes {[_shape(v) for v in flat]}.")
        return flat

    def _maybe_build(self, args):
        super()._maybe_build(args)
        if self.stateful and self._state_vars is None:
            shape = _shape(args[0])
            self._create_state_vars(shape[1 if self.time_major else 0], shape)

    # --- call -----------------------------------------------------------------------
    def initial_state_list(self, batch, initial_state=None):
        """The states a call starts from, flat: `initial_state` checked, or the stateful
        layer's states, or zeros."""
        if initial_state is not None:
            return [jnp.asarray(s, self.dtype) for s in self._normalize_states(initial_state,
                                                                               batch)]
        if self.stateful:
            return [v.value for v in self._state_vars]
        return self._flat(self.get_initial_state(batch))

    def call(self, sequences, initial_state=None, mask=None, training=None, constants=None):
        batch = sequences.shape[1 if self.time_major else 0]
        if not jnp.issubdtype(sequences.dtype, jnp.floating):
            sequences = sequences.astype(self.dtype)
        flat = self.initial_state_list(batch, initial_state)
        if mask is not None and self.time_major:
            mask = jnp.swapaxes(mask, 0, 1)
        late_zeros = zeros_after_unrolled_loop(self, mask)
        zero_output_for_mask = self.zero_output_for_mask and not late_zeros
        if self._use_fused(sequences, constants):
            # one fused kernel with a custom VJP (rnnkit.core.fused); same values as below
            last, seq, final = self.cell.fused_sequence(
                sequences, flat, mask=mask, training=training,
                go_backwards=self.go_backwards, time_major=self.time_major,
                zero_output_for_mask=zero_output_for_mask,
                return_sequences=self.return_sequences, unroll=self.unroll,
                compute_dtype=self._compute_dtype())
        else:
            step = cell_step(self.cell, batch, sequences.shape[-1], training, constants)
            nested = self._nest(flat)

            def scan_step(states, x_t):
                y, new_states = step(x_t, states)
                return new_states, y

            last, seq, final = scan_rnn(
                scan_step, nested, sequences, mask=mask, reverse=self.go_backwards,
                unroll=self.unroll, time_major=self.time_major,
                zero_output_for_mask=zero_output_for_mask,
                return_sequences=self.return_sequences)
        if self.stateful:
            for var, value in zip(self._state_vars, self._flat(final)):
                var.assign(value)
        if late_zeros:
            seq = zero_masked_steps(seq, mask)  # both (T, B, ...) first if time_major
        output = seq if self.return_sequences else last
        if self.return_state:
            if _flat_one_cell_states(self, mask):
                final = final[0]
            return [output] + list(final)
        return output

    # --- fast-path dispatch ------------------------------------------------------------
    def _use_fused(self, sequences, constants):
        """True when the fused kernel of a built-in cell computes exactly this call."""
        if constants is None and callable(getattr(self.cell, "uses_parallel", None)):
            return self.cell.uses_parallel()  # a cell with its own whole-sequence form
        if constants is not None or not config.fast_paths_enabled():
            return False
        if not _fusable_cell(self.cell):
            return False
        return (self.dtype == "float32" and sequences.dtype == jnp.float32
                and self.cell.kernel.dtype == jnp.float32)

    def fused_setup(self, sequences, initial_state=None, training=None):
        """`(SeqConfig, params, states)` of this layer's fused kernel over `sequences` (batch
        first, no mask) when one call of it computes exactly what `call` would and no dropout
        applies; else None. For wrappers that run several layers' kernels together
        (`Bidirectional`)."""
        cell = self.cell
        if (not _fusable_cell(cell) or not self._use_fused(sequences, None) or self.time_major
                or self.stateful or self.activity_regularizer is not None
                or (training and (cell.dropout or cell.recurrent_dropout))):
            return None
        states = tuple(self.initial_state_list(sequences.shape[0], initial_state))
        cfg, params = cell.fused_config(sequences.shape[1], sequences, states,
                                        return_sequences=self.return_sequences,
                                        unroll=self.unroll,
                                        compute_dtype=self._compute_dtype())
        return cfg, params, states

    def _compute_dtype(self):
        policy = getattr(self, "_dtype_policy", None) or config.dtype_policy()
        return "bfloat16" if policy == "mixed_bfloat16" else "float32"

    # --- one step at a time ------------------------------------------------------------
    def step(self, inputs, states=None, training=False):
        """Advances the layer by ONE time step: `(output, new_states) = layer.step(x_t, states)`.

        The step-by-step twin of calling the layer on a whole sequence: feeding x[:, 0],
        x[:, 1], ... through `step` gives the same outputs as `layer(x, return_sequences=True)`
        (ignoring `go_backwards`). Compiled once per shape.

        Args:
            inputs: (B, D) for one step (a (B, 1, D) slice is accepted too).
            states: from `get_initial_state(B)` or a previous `step`; None means zeros.

        Returns:
            `(output (B, units), new_states)`, states in the structure of get_initial_state.
        """
        x = jnp.asarray(inputs)
        if x.ndim == 3 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 2:
            raise ValueError(
                f"{type(self).__name__}.step expects one time step of shape (batch, features). "
                f"Received shape {tuple(x.shape)}. To run a whole sequence call the layer; to "
                "step through it, pass x[:, t].")
        if not self.built:
            self._maybe_build((jnp.zeros((x.shape[0], 1, x.shape[1]), x.dtype),))
        self._check_inputs((x[:, None, :],), {})
        if states is None:
            states = self.get_initial_state(x.shape[0])
        flat = self._normalize_states(states, x.shape[0])
        if in_trace():
            return self._step_impl(x, flat, training)
        return self._call_compiled((x, flat, training), {}, method="_step_impl")

    def _step_impl(self, x, flat_states, training):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.dtype)
        step = cell_step(self.cell, x.shape[0], x.shape[-1], training)
        y, new_states = step(x, self._nest([jnp.asarray(s, self.dtype) for s in flat_states]))
        return y, new_states

    def compute_mask(self, inputs, mask=None):
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self._flat(self._state_sizes()))
        return out_mask

    def get_config(self):
        config = super().get_config()
        config.update(return_sequences=self.return_sequences, return_state=self.return_state,
                      go_backwards=self.go_backwards, stateful=self.stateful,
                      unroll=self.unroll, time_major=self.time_major,
                      zero_output_for_mask=self.zero_output_for_mask)
        if type(self) is RNN:
            config["cell"] = serialize(self.cell)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is RNN and isinstance(config.get("cell"), dict):
            config["cell"] = deserialize(config["cell"])
        return cls(**config)


class _NoStateCheck:
    """Marker for subclasses that accept a positional second argument."""
