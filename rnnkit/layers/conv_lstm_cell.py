"""`ConvLSTMCell`: one step of a convolutional LSTM (Keras's ConvLSTMCell), owning its
weights. The math is `rnnkit.core.kernels.conv_lstm`; this module holds the configuration,
its validation, the weights and Keras's dropout masks."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit import random as rk_random
from rnnkit.core.kernels import conv_lstm as kernel
from rnnkit.layers.helpers import set_weight_options
from rnnkit.layers.layer import Layer
from rnnkit.layers.rnn_cells import check_rate

DATA_FORMATS = ("channels_last", "channels_first")


def _int_tuple(owner: str, arg: str, value, rank: int) -> tuple:
    """`3` -> (3, 3) for rank 2; a list/tuple must have `rank` positive ints."""
    example = ", ".join(["3"] * rank)
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * rank
    ok = len(items) == rank and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in items)
    if not ok:
        raise ValueError(
            f"{owner} expects `{arg}` to be a positive int or a tuple of {rank} positive "
            f"ints (one per spatial axis). Received: {arg}={value!r}. For example: "
            f"{arg}=3 or {arg}=({example}).")
    return tuple(int(v) for v in items)


def check_geometry(owner: str, rank: int, kernel_size, strides, padding, data_format,
                   dilation_rate):
    """Validated (kernel_size, strides, padding, data_format, dilation_rate), as Keras
    normalizes them; one clear error per bad argument."""
    kernel_size = _int_tuple(owner, "kernel_size", kernel_size, rank)
    strides = _int_tuple(owner, "strides", strides, rank)
    dilation_rate = _int_tuple(owner, "dilation_rate", dilation_rate, rank)
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{owner} expects `padding` to be 'valid' or 'same'. Received: "
                         f"padding={padding!r}.")
    data_format = "channels_last" if data_format is None else data_format
    if not isinstance(data_format, str) or data_format.lower() not in DATA_FORMATS:
        raise ValueError(
            f"{owner} expects `data_format` to be 'channels_last' (inputs (batch, time, "
            f"..., channels)) or 'channels_first' (inputs (batch, time, channels, ...)). "
            f"Received: data_format={data_format!r}.")
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            f"{owner}: `strides > 1` cannot be combined with `dilation_rate > 1` (Keras "
            f"refuses it too). Received: strides={strides}, dilation_rate={dilation_rate}. "
            "Use strides=1 or dilation_rate=1.")
    return kernel_size, strides, padding.lower(), data_format.lower(), dilation_rate


class ConvLSTMCell(Layer):
    """One ConvLSTM step on a frame: `h, [h, c] = cell(x_t, [h, c])`.

    `rank` is the number of spatial axes (1, 2 or 3). Frames are (B, *S, C) with
    channels_last or (B, C, *S) with channels_first; states (B, *S', F) or (B, F, *S').
    Weights (Keras layout): kernel (*kernel_size, C, 4F), recurrent_kernel
    (*kernel_size, F, 4F), bias (4F,); gates i, f, c, o.
    """

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        owner = kwargs.pop("_owner", type(self).__name__)
        if rank not in (1, 2, 3):
            raise ValueError(f"{owner} supports rank 1, 2 or 3 convolutions. Received: "
                             f"rank={rank!r}.")
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) \
                or filters <= 0:
            raise ValueError(
                f"{owner} expects `filters` to be a positive integer (the channels of the "
                f"output and states). Received: filters={filters!r}. For example: "
                f"{owner}(32, 3).")
        super().__init__(**kwargs)
        self.rank, self.filters = rank, int(filters)
        (self.kernel_size, self.strides, self.padding, self.data_format,
         self.dilation_rate) = check_geometry(owner, rank, kernel_size, strides, padding,
                                              data_format, dilation_rate)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.unit_forget_bias = bool(unit_forget_bias)
        self.dropout = check_rate(owner, "dropout", dropout)
        self.recurrent_dropout = check_rate(owner, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._seed_state = None
        self.spatial_dims = None  # set by build: the input frame's spatial sizes
        self.input_dim = None

    @property
    def state_size(self):
        return [self.filters, self.filters]  # channels of h and c at each position

    @property
    def output_size(self):
        return self.filters

    @property
    def geometry(self) -> kernel.ConvGeometry:
        return kernel.ConvGeometry(self.strides, self.dilation_rate, self.padding)

    def output_spatial(self, spatial) -> tuple:
        return tuple(kernel.conv_output_size(s, k, st, d, self.padding) for s, k, st, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def split_frame_shape(self, frame_shape):
        """(B, *S, C) or (B, C, *S) -> (spatial sizes, channels)."""
        frame_shape = tuple(frame_shape)
        if self.data_format == "channels_first":
            return frame_shape[2:], frame_shape[1]
        return frame_shape[1:-1], frame_shape[-1]

    def state_shape(self, batch) -> tuple:
        out = self.output_spatial(self.spatial_dims)
        if self.data_format == "channels_first":
            return (batch, self.filters) + out
        return (batch,) + out + (self.filters,)

    def build(self, input_shape):
        """`input_shape`: one frame, (B, *S, C) or (B, C, *S)."""
        self.spatial_dims, channels = self.split_frame_shape(input_shape)
        self.spatial_dims = tuple(int(s) for s in self.spatial_dims)
        self.input_dim = int(channels)
        shapes = kernel.KERNEL.weight_shapes(self.kernel_size, self.input_dim, self.filters,
                                             self.use_bias)
        self.kernel = self.add_weight(
            shape=shapes["kernel"], initializer=self.kernel_initializer, name="kernel",
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            shape=shapes["recurrent_kernel"], initializer=self.recurrent_initializer,
            name="recurrent_kernel", regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:  # forget-gate block starts at 1 (Keras)
                base, f = self.bias_initializer, self.filters

                def init(shape, dtype="float32"):
                    return jnp.concatenate([
                        jnp.asarray(base((f,), dtype=dtype)), jnp.ones((f,), dtype),
                        jnp.asarray(base((2 * f,), dtype=dtype))])
            self.bias = self.add_weight(
                shape=shapes["bias"], initializer=init, name="bias",
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        if (self.dropout > 0 or self.recurrent_dropout > 0) and self._seed_state is None:
            self._seed_state = self.add_hidden_variable(rk_random.make_key(self.seed),
                                                        "seed_generator_state")
        self.built = True

    def params(self) -> kernel.ConvLSTMParams:
        return kernel.ConvLSTMParams(self.kernel.value, self.recurrent_kernel.value,
                                     None if self.bias is None else self.bias.value)

    def dropout_masks(self, batch: int, training):
        """Keras's dropout: 4 masks (one per gate) drawn once per sequence, channels last:
        (input (4, B, *S, C) or None, recurrent (4, B, *S', F) or None)."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        key, next_key = jax.random.split(self._seed_state.value)
        self._seed_state.assign(next_key)
        k_in, k_rec = jax.random.split(key)

        def masks(k, rate, shape):
            if rate == 0:
                return None
            keep = jax.random.bernoulli(k, 1.0 - rate, (4, batch) + shape)
            return keep.astype(self.dtype) / (1.0 - rate)

        out = self.output_spatial(self.spatial_dims)
        return (masks(k_in, self.dropout, self.spatial_dims + (self.input_dim,)),
                masks(k_rec, self.recurrent_dropout, out + (self.filters,)))

    def to_channels_last(self, x, time_axis=False):
        if self.data_format == "channels_last":
            return x
        lead = 2 if time_axis else 1
        return jnp.moveaxis(x, lead, -1)

    def from_channels_last(self, x, time_axis=False):
        if self.data_format == "channels_last":
            return x
        lead = 2 if time_axis else 1
        return jnp.moveaxis(x, -1, lead)

    def get_initial_state(self, batch_size=None):
        shape = self.state_shape(batch_size)
        return [jnp.zeros(shape, self.dtype), jnp.zeros(shape, self.dtype)]

    def call(self, inputs, states, training=None):
        """One step on a frame: `(h, [h, c])`, in the cell's data_format."""
        x = self.to_channels_last(jnp.asarray(inputs, self.dtype))
        h, c = (self.to_channels_last(jnp.asarray(s, self.dtype)) for s in states)
        in_masks, rec_masks = self.dropout_masks(x.shape[0], training)
        st, y = kernel.conv_lstm_step(
            self.params(), kernel.ConvLSTMState(h, c), x, geometry=self.geometry,
            activation=self.activation, recurrent_activation=self.recurrent_activation,
            input_masks=in_masks, recurrent_masks=rec_masks)
        y = self.from_channels_last(y)
        return y, [y, self.from_channels_last(st.c)]

    def get_config(self):
        config = super().get_config()
        config.update(
            rank=self.rank, filters=self.filters, kernel_size=self.kernel_size,
            strides=self.strides, padding=self.padding, data_format=self.data_format,
            dilation_rate=self.dilation_rate,
            activation=activations.serialize(self.activation),
            recurrent_activation=activations.serialize(self.recurrent_activation),
            use_bias=self.use_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer),
            bias_initializer=initializers.serialize(self.bias_initializer),
            unit_forget_bias=self.unit_forget_bias,
            kernel_regularizer=regularizers.serialize(self.kernel_regularizer),
            recurrent_regularizer=regularizers.serialize(self.recurrent_regularizer),
            bias_regularizer=regularizers.serialize(self.bias_regularizer),
            kernel_constraint=constraints.serialize(self.kernel_constraint),
            recurrent_constraint=constraints.serialize(self.recurrent_constraint),
            bias_constraint=constraints.serialize(self.bias_constraint),
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        return config
