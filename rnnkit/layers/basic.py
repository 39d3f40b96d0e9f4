"""Keras 3 core layers used around recurrent layers: `Dense`, `Activation`, `Flatten`,
`Reshape`, `Dropout`.

Numerics follow Keras 3 on the JAX backend: `Dense` is `activation(inputs @ kernel + bias)`
with `jnp.matmul`; `Dropout` keeps each unit with probability `1 - rate` and scales kept
units by `1 / (1 - rate)` (`lax.select(mask, x / keep, 0)`), only when `training` is true.

Output shapes of symbolic calls are computed from the input shape (not by tracing with
placeholder sizes), so e.g. `Dense(83)` or `Flatten()` on unknown sizes report exact shapes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit import activations, constraints, initializers, regularizers
from rnnkit import random as rk_random
from rnnkit.layers.helpers import (as_float, check_unsupported, expand_to, output_spec,
                                   serialize_or_none, set_weight_options, spec_dtype,
                                   static_shape)
from rnnkit.layers.layer import Layer
from rnnkit.layers.validation import check_positive_int, check_rate
from rnnkit.layers.validation import is_int as _is_int


# ---------------------------------------------------------------------------------------
class Dense(Layer):
    """Densely-connected layer: `output = activation(inputs @ kernel + bias)`.

    Works on inputs of any rank >= 2 (the last axis is contracted with the kernel of shape
    `(input_dim, units)`). Weights, in order: `kernel`, then `bias` (if `use_bias`).
    Passes an incoming mask through unchanged (Keras 3 `supports_masking = True`).
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 lora_alpha=None, quantization_config=None, **kwargs):
        self.units = check_positive_int("Dense", "units", units, "Dense(64)")
        check_unsupported("Dense", lora_rank=lora_rank, lora_alpha=lora_alpha,
                          quantization_config=quantization_config)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_options(
            self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
            bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.supports_masking = True
        self.kernel = None
        self.bias = None

    def _check_inputs(self, args, kwargs):
        shape = static_shape(args[0]) if hasattr(args[0], "shape") else None
        if shape is None:
            raise ValueError(
                f"Dense layer '{self.name}' expects one array of shape (batch, ..., "
                f"input_dim). Received: {type(args[0]).__name__}. Call it on one tensor; "
                "to combine several tensors first, use Concatenate() or Add().")
        if len(shape) < 2:
            raise ValueError(
                f"Dense layer '{self.name}' expects inputs of rank >= 2, (batch, ..., "
                f"input_dim). Received an input of shape {shape}. Add a feature axis, "
                "e.g. x[:, None] or Reshape((1,)).")
        if shape[-1] is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs the last axis of its inputs to be known "
                f"(it sets the kernel shape). Received an input of shape {shape}. Give "
                "Input(...) a defined feature size, e.g. Input(shape=(None, 8)).")
        if self.built and self.kernel is not None and shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Dense layer '{self.name}' was built for inputs with last axis "
                f"{self.kernel.shape[0]} (kernel shape {self.kernel.shape}), but received "
                f"an input of shape {shape}. Use a new Dense layer for inputs of another "
                "feature size.")

    def build(self, input_shape):
        input_dim = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(input_dim, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias")
        else:
            self.bias = None
        self.built = True

    def call(self, inputs):
        x = jnp.matmul(as_float(inputs, self.dtype), self.kernel.value)
        if self.bias is not None:
            x = jnp.add(x, expand_to(self.bias.value, x.ndim))
        return self.activation(x)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(static_shape(inputs)[:-1] + (self.units,), dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=serialize_or_none(initializers, self.kernel_initializer),
            bias_initializer=serialize_or_none(initializers, self.bias_initializer),
            kernel_regularizer=serialize_or_none(regularizers, self.kernel_regularizer),
            bias_regularizer=serialize_or_none(regularizers, self.bias_regularizer),
            kernel_constraint=serialize_or_none(constraints, self.kernel_constraint),
            bias_constraint=serialize_or_none(constraints, self.bias_constraint),
            quantization_config=None,
        )
        return config


# ---------------------------------------------------------------------------------------
class Activation(Layer):
    """Applies an activation function: `Activation("tanh")`, `Activation(my_fn)`."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(static_shape(inputs), dtype)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


# ---------------------------------------------------------------------------------------
_DATA_FORMATS = ("channels_last", "channels_first")


class Flatten(Layer):
    """Flattens every axis but the batch axis: (B, d1, d2, ...) -> (B, d1 * d2 * ...).

    A rank-1 input (B,) becomes (B, 1). With `data_format="channels_first"` the channel
    axis (axis 1) is moved last before flattening, as Keras does.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        data_format = "channels_last" if data_format is None else data_format
        if data_format not in _DATA_FORMATS:
            raise ValueError(
                f"Flatten expects `data_format` to be 'channels_last', 'channels_first' or "
                f"None. Received: data_format={data_format!r}.")
        self.data_format = data_format

    def _check_inputs(self, args, kwargs):
        if not hasattr(args[0], "shape") or len(static_shape(args[0])) < 1:
            raise ValueError(
                f"Flatten layer '{self.name}' expects one array with a batch axis. "
                f"Received: {args[0]!r}.")

    @staticmethod
    def _flat_size(shape):
        rest = shape[1:]
        if not rest:
            return 1
        if any(d is None for d in rest):
            return None
        return int(math.prod(rest))

    def call(self, inputs):
        rank = inputs.ndim
        if self.data_format == "channels_first" and rank > 2:
            inputs = jnp.transpose(inputs, (0, *range(2, rank), 1))
        return jnp.reshape(inputs, (inputs.shape[0], -1 if rank > 1 else 1))

    def compute_output_spec(self, inputs, *args, **kwargs):
        shape = static_shape(inputs)
        return output_spec((shape[0], self._flat_size(shape)), inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


# ---------------------------------------------------------------------------------------
class Reshape(Layer):
    """Reshapes the non-batch axes to `target_shape` (one entry may be -1: inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if _is_int(target_shape):
            target_shape = (target_shape,)
        try:
            target_shape = tuple(target_shape)
        except TypeError:
            raise ValueError(
                "Reshape expects `target_shape` to be a tuple of integers without the batch "
                f"axis, e.g. Reshape((3, 4)). Received: target_shape={target_shape!r}."
            ) from None
        if not all(_is_int(d) and (d > 0 or d == -1) for d in target_shape):
            raise ValueError(
                "Reshape expects `target_shape` to hold positive integers and at most one -1 "
                f"(inferred size). Received: target_shape={target_shape!r}.")
        if target_shape.count(-1) > 1:
            raise ValueError(
                "Reshape's `target_shape` may contain at most one -1 (the size inferred from "
                f"the input). Received: target_shape={target_shape!r}.")
        self.target_shape = tuple(int(d) for d in target_shape)
        self.built = True

    def _resolve(self, input_shape):
        """The output's non-batch shape for non-batch `input_shape` (None = unknown)."""
        target = list(self.target_shape)
        known = math.prod(d for d in target if d != -1)
        if any(d is None for d in input_shape):
            return tuple(None if d == -1 else d for d in target)
        size = math.prod(input_shape)
        if -1 in target:
            if known == 0 or size % known:
                raise self._mismatch(input_shape)
            target[target.index(-1)] = size // known
        elif size != known:
            raise self._mismatch(input_shape)
        return tuple(target)

    def _mismatch(self, input_shape):
        return ValueError(
            f"Reshape layer '{self.name}' cannot reshape inputs with non-batch shape "
            f"{tuple(input_shape)} ({math.prod(input_shape)} values per sample) to "
            f"target_shape={self.target_shape}. The target must hold the same number of "
            "values per sample; use -1 for one size to have it inferred.")

    def _check_inputs(self, args, kwargs):
        if not hasattr(args[0], "shape") or len(static_shape(args[0])) < 1:
            raise ValueError(
                f"Reshape layer '{self.name}' expects one array with a batch axis. "
                f"Received: {args[0]!r}.")
        self._resolve(static_shape(args[0])[1:])

    def call(self, inputs):
        target = self._resolve(tuple(inputs.shape[1:]))
        return jnp.reshape(inputs, (inputs.shape[0], *target))

    def compute_output_spec(self, inputs, *args, **kwargs):
        shape = static_shape(inputs)
        return output_spec((shape[0], *self._resolve(shape[1:])), inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = self.target_shape
        return config


# ---------------------------------------------------------------------------------------
def _check_noise_shape(noise_shape):
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        noise_shape = [noise_shape]
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        noise_shape = None
    if noise_shape is None or not all(
            d is None or (_is_int(d) and d > 0) for d in noise_shape):
        raise ValueError(
            "Dropout expects `noise_shape` to be a tuple of positive integers or None (None "
            "= the input's size on that axis), one entry per input axis, e.g. (None, 1, 8) "
            "to share the mask over time steps.")
    return tuple(None if d is None else int(d) for d in noise_shape)


class Dropout(Layer):
    """Randomly sets a fraction `rate` of the inputs to 0 while training.

    Kept values are scaled by `1 / (1 - rate)`, so the expected sum is unchanged. Only
    active when called with `training=True` (e.g. inside `fit`); otherwise the identity.
    `noise_shape` sets the shape of the keep/drop mask (None entries take the input's
    size), which is broadcast to the input. Random masks come from a seed state that
    advances on every training call (reproducible with `seed` or `set_random_seed`).
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = check_rate("Dropout", "rate", rate, "the fraction of the inputs to drop while "
                          "training", "Use e.g. Dropout(0.5); rate=0 disables dropout.")
        if seed is not None and not _is_int(seed):
            raise ValueError(f"Dropout expects `seed` to be an integer or None. Received: "
                             f"seed={seed!r}.")
        self.rate = float(rate)
        self.noise_shape = _check_noise_shape(noise_shape)
        self.seed = None if seed is None else int(seed)
        self.supports_masking = True
        self._seed_state = None
        if self.rate > 0:
            self._seed_state = self.add_hidden_variable(rk_random.make_key(self.seed),
                                                        "seed_generator_state")
        self.built = True

    def _concrete_noise_shape(self, shape):
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Dropout layer '{self.name}' has noise_shape={self.noise_shape} (rank "
                f"{len(self.noise_shape)}), but received an input of shape {tuple(shape)} "
                f"(rank {len(shape)}). Give one noise_shape entry per input axis.")
        out = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        if any(n != 1 and n != s for n, s in zip(out, shape)):
            raise ValueError(
                f"Dropout layer '{self.name}': noise_shape={self.noise_shape} does not "
                f"broadcast to the input shape {tuple(shape)}. Each entry must be None, 1 "
                "or the input's size on that axis.")
        return out

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        if not jnp.issubdtype(inputs.dtype, jnp.floating):
            inputs = inputs.astype(self.dtype)
        key, next_key = jax.random.split(self._seed_state.value)
        self._seed_state.assign(next_key)
        keep_prob = 1.0 - self.rate
        mask = jax.random.bernoulli(key, keep_prob, self._concrete_noise_shape(inputs.shape))
        mask = jnp.broadcast_to(mask, inputs.shape)
        return jax.lax.select(mask, inputs / keep_prob, jnp.zeros_like(inputs))

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(static_shape(inputs), dtype)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed, noise_shape=self.noise_shape)
        return config
