"""`ConvLSTM1D`, `ConvLSTM2D`, `ConvLSTM3D`: Keras's convolutional LSTM layers.

An `RNN` over frames: inputs (B, T, *S, C) (channels_last) or (B, T, C, *S)
(channels_first); the whole sequence runs as one compiled computation of
`rnnkit.core.kernels.conv_lstm.conv_lstm_sequence` (each step convolves its frame and the
state; its gradient batches the input convolution of all steps).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from rnnkit import config
from rnnkit.core.kernels import conv_lstm as kernel
from rnnkit.layers.conv_lstm_cell import ConvLSTMCell
from rnnkit.layers.tracing import in_trace
from rnnkit.utils.names import unique_name
from rnnkit.layers.rnn import RNN, zero_masked_steps, zeros_after_unrolled_loop

_CELL_CONFIG_SKIP = ("name", "trainable", "dtype", "rank")


def static_shape(x):
    return tuple(getattr(x, "shape", ()))


class ConvLSTM(RNN):
    """N-D convolutional LSTM (the base of ConvLSTM1D/2D/3D; `rank` spatial axes).

    Outputs (B, *S', F) for the last step, (B, T, *S', F) with return_sequences
    (channels_first: F before the spatial axes); states [h, c] have the shape of one output
    frame. S' is S after the input convolution (strides, dilation, padding); the recurrent
    convolution keeps it ("same", stride 1).
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, **kwargs):
        owner = type(self).__name__
        if kwargs.get("time_major"):
            raise ValueError(f"{owner} does not support time_major=True (nor does Keras): "
                             "pass inputs as (batch, time, ...).")
        kwargs.pop("time_major", None)
        # Keras's default name: "conv_lstm2d" (not "conv_lstm2_d")
        kwargs["name"] = kwargs.get("name") or unique_name(f"conv_lstm{rank}d")
        cell = ConvLSTMCell(
            rank, filters, kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
            dtype=kwargs.get("dtype"), _owner=owner)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.rank = rank

    def __getattr__(self, name):
        # Keras exposes the cell's configuration on the layer: layer.filters, .padding, ...
        cell = self.__dict__.get("cell")
        if cell is not None and not name.startswith("_") and hasattr(cell, name):
            return getattr(cell, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # --- shapes & states ----------------------------------------------------------------
    def _layout(self) -> str:
        sp = ", ".join(("depth", "height", "width")[3 - self.rank:]) if self.rank > 1 \
            else "length"
        if self.cell.data_format == "channels_first":
            return f"(batch, time, channels, {sp})"
        return f"(batch, time, {sp}, channels)"

    def get_initial_state(self, batch_size):
        if hasattr(batch_size, "shape"):
            batch_size = batch_size.shape[0]
        return self.cell.get_initial_state(batch_size)

    def _create_state_vars(self, batch):
        shape = self.cell.state_shape(batch)
        self._state_vars = [self.add_hidden_variable(np.zeros(shape, self.dtype), f"state_{i}")
                            for i in range(2)]

    def _normalize_states(self, initial_state, batch):
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [
            initial_state]
        name = f"{type(self).__name__} layer '{self.name}'"
        want = self.cell.state_shape(batch)
        got = [static_shape(s) for s in states]
        ok = len(states) == 2 and all(
            len(g) == len(want) and all(a is None or b is None or a == b
                                        for a, b in zip(g, want)) for g in got)
        if not ok:
            raise ValueError(
                f"{name} expects initial_state=[h, c], two arrays of shape {want} (one "
                f"output frame each). Received {len(states)} array(s) of shapes {got}.")
        return states

    # --- build & checks -------------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 3:
            return  # _check_inputs reports the error with the real shape
        if not self.cell.built:
            self.cell.build((input_shape[0],) + input_shape[2:])
        batch = input_shape[0]
        if self.stateful and batch is not None and self._state_vars is None:
            self._create_state_vars(batch)
        self.built = True

    def _check_inputs(self, args, kwargs):
        name = f"{type(self).__name__} layer '{self.name}'"
        shape = static_shape(args[0])
        if len(shape) != self.rank + 3:
            raise ValueError(
                f"{name} expects inputs of rank {self.rank + 3}: {self._layout()}. Received "
                f"inputs.shape={shape} (rank {len(shape)}). Use ConvLSTM{len(shape) - 3}D "
                "for that many spatial axes, or add the missing batch/time axis."
                if len(shape) >= 4 else
                f"{name} expects inputs of rank {self.rank + 3}: {self._layout()}. Received "
                f"inputs.shape={shape} (rank {len(shape)}).")
        cell = self.cell
        spatial, channels = cell.split_frame_shape((shape[0],) + shape[2:])
        if cell.built and channels is not None and channels != cell.input_dim:
            raise ValueError(
                f"{name} was built for frames with {cell.input_dim} channels, but received "
                f"inputs.shape={shape} with {channels} channels ({cell.data_format}).")
        if cell.built and tuple(spatial) != cell.spatial_dims:
            raise ValueError(
                f"{name} was built for frames of spatial size {cell.spatial_dims}, but "
                f"received inputs.shape={shape}. Its states have one fixed frame size: "
                "create a new layer for this frame size.")
        if None in spatial:
            raise ValueError(f"{name} needs static spatial sizes (the states' shape depends "
                             f"on them). Received inputs.shape={shape}.")
        if cell.padding == "valid":
            for s, k, d in zip(spatial, cell.kernel_size, cell.dilation_rate):
                if s < (k - 1) * d + 1:
                    raise ValueError(
                        f"{name} with padding='valid' needs each spatial size >= the "
                        f"(dilated) kernel size {tuple((k - 1) * d + 1 for k, d in zip(cell.kernel_size, cell.dilation_rate))}. "  # noqa: E501
                        f"Received inputs.shape={shape}. Use padding='same', a smaller "
                        "kernel_size, or larger frames.")
        batch = shape[0]
        mask = kwargs.get("mask")
        if mask is not None and tuple(static_shape(mask)) != (shape[0], shape[1]):
            raise ValueError(f"{name} expects a mask of shape (batch, timesteps) = "
                             f"{(shape[0], shape[1])} (True = use this step). Received "
                             f"mask.shape={tuple(static_shape(mask))}.")
        if self.stateful and self._state_vars is not None and batch is not None \
                and batch != self._state_vars[0].shape[0]:
            raise ValueError(
                f"{name} is stateful and keeps states for a batch of "
                f"{self._state_vars[0].shape[0]} rows, but received a batch of {batch}. "
                "Stateful layers need the same batch size on every call.")
        if kwargs.get("initial_state") is not None:
            if not cell.built:
                cell.build((shape[0],) + shape[2:])
            self._normalize_states(kwargs["initial_state"], batch)

    # --- call ---------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=None, constants=None):
        if constants is not None:
            raise ValueError(f"{type(self).__name__} does not accept `constants`.")
        cell = self.cell
        if not jnp.issubdtype(sequences.dtype, jnp.floating):
            sequences = sequences.astype(self.dtype)
        batch = sequences.shape[0]
        if initial_state is not None:
            states = [jnp.asarray(s, self.dtype) for s in self._normalize_states(
                initial_state, batch)]
        elif self.stateful:
            states = [v.value for v in self._state_vars]
        else:
            states = self.get_initial_state(batch)
        h0, c0 = (cell.to_channels_last(s) for s in states)
        late_zeros = zeros_after_unrolled_loop(self, mask)
        in_masks, rec_masks = cell.dropout_masks(batch, training)
        last, seq, final = kernel.conv_lstm_sequence(
            cell.params(), kernel.ConvLSTMState(h0, c0), cell.to_channels_last(
                sequences, time_axis=True),
            geometry=cell.geometry, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation, input_masks=in_masks,
            recurrent_masks=rec_masks, mask=mask, reverse=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask and not late_zeros,
            return_sequences=self.return_sequences, unroll=self.unroll,
            fused=config.fast_paths_enabled())
        final = [cell.from_channels_last(s) for s in final]
        if self.stateful:
            for var, value in zip(self._state_vars, final):
                var.assign(value)
        output = (cell.from_channels_last(seq, time_axis=True) if self.return_sequences
                  else cell.from_channels_last(last))
        if late_zeros:
            output = zero_masked_steps(output, mask)
        if self.return_state:
            return [output] + final
        return output

    # --- one step at a time ----------------------------------------------------------------
    def step(self, inputs, states=None, training=False):
        """Advances the layer by ONE frame: `(output, [h, c]) = layer.step(x_t, states)`.

        `inputs`: one frame (B, *S, C) (or (B, C, *S) with channels_first); `states` from
        `get_initial_state(B)` or a previous step (None means zeros).
        """
        x = jnp.asarray(inputs)
        if x.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__}.step expects one frame of rank {self.rank + 2} "
                f"(the input without its time axis). Received shape {tuple(x.shape)}. To "
                "run a whole sequence, call the layer.")
        seq = x[:, None]
        if not self.built:
            self._maybe_build((seq,))
        self._check_inputs((seq,), {})
        if states is None:
            states = self.get_initial_state(x.shape[0])
        states = self._normalize_states(states, x.shape[0])
        if in_trace():
            return self._step_impl(x, states, training)
        return self._call_compiled((x, list(states), training), {}, method="_step_impl")

    def _step_impl(self, x, states, training):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.dtype)
        return self.cell.call(x, states, training=training)

    # --- config ---------------------------------------------------------------------------
    def get_config(self):
        cfg = {k: v for k, v in self.cell.get_config().items() if k not in _CELL_CONFIG_SKIP}
        base = super().get_config()
        base.pop("time_major", None)
        cfg.update(base)
        return cfg


class ConvLSTM1D(ConvLSTM):
    """1D convolutional LSTM: inputs (B, T, length, C) -> (B, length', F) (channels_last).

    Weights: kernel (k, C, 4F), recurrent_kernel (k, F, 4F), bias (4F,); gates i, f, c, o.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2D(ConvLSTM):
    """2D convolutional LSTM (Shi et al. 2015): inputs (B, T, H, W, C) -> (B, H', W', F).

    Weights: kernel (kh, kw, C, 4F), recurrent_kernel (kh, kw, F, 4F), bias (4F,);
    gates i, f, c, o.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(2, filters, kernel_size, **kwargs)


class ConvLSTM3D(ConvLSTM):
    """3D convolutional LSTM: inputs (B, T, D, H, W, C) -> (B, D', H', W', F).

    Weights: kernel (kd, kh, kw, C, 4F), recurrent_kernel (kd, kh, kw, F, 4F), bias (4F,).
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(3, filters, kernel_size, **kwargs)
