"""Keras 3 `LayerNormalization`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.helpers import (as_float, output_spec, serialize_or_none, set_weight_options,
                                   spec_dtype, static_shape)
from rnnkit.layers.layer import Layer
from rnnkit.layers.validation import is_int, is_number


class LayerNormalization(Layer):
    """Normalizes each sample over `axis` (default: the feature axis).

    Computed as Keras 3 does: `mean` and `variance = mean((x - mean)^2)` over `axis`,
    `inv = rsqrt(variance + epsilon) * gamma`, `output = x * inv + (beta - mean * inv)`.
    Weights, in order: `gamma` (if `scale`), then `beta` (if `center`), each shaped like
    the normalized axes. With `rms_scaling=True`, `center` and `scale` are ignored and the
    output is `x * rsqrt(variance + epsilon) * gamma` (Keras's definition).
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = list(axis)
            ok = bool(axis) and all(is_int(a) for a in axis)
            axis = [int(a) for a in axis] if ok else axis
        else:
            ok = is_int(axis)
            axis = int(axis) if ok else axis
        if not ok:
            raise TypeError(
                "LayerNormalization expects `axis` to be an int or a non-empty list/tuple of "
                f"ints (the axes to normalize over, e.g. -1). Received: axis={axis!r}.")
        if not is_number(epsilon) or epsilon < 0:
            raise ValueError(
                "LayerNormalization expects `epsilon` to be a small non-negative float, "
                f"e.g. 1e-3. Received: epsilon={epsilon!r}.")
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        set_weight_options(
            self, beta=(beta_initializer, beta_regularizer, beta_constraint),
            gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.supports_masking = True
        self.gamma = None
        self.beta = None

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(
                f"LayerNormalization layer '{self.name}' has axis={self.axis}, out of range "
                f"for inputs of rank {ndim}. Use axes in [{-ndim}, {ndim - 1}] (not the "
                "batch axis).")
        return [a % ndim for a in axes]

    def _check_inputs(self, args, kwargs):
        x = args[0]
        if not hasattr(x, "shape") or isinstance(x, (list, tuple)):
            raise ValueError(f"LayerNormalization layer '{self.name}' expects one array. "
                             f"Received: {type(x).__name__}.")
        shape = static_shape(x)
        axes = self._axes(len(shape))
        if any(shape[a] is None for a in axes):
            raise ValueError(
                f"LayerNormalization layer '{self.name}' needs the sizes of the normalized "
                f"axes {axes} to be known. Received an input of shape {shape}.")
        if self.gamma is not None or self.beta is not None:
            want = (self.gamma if self.gamma is not None else self.beta).shape
            got = tuple(shape[a] for a in axes)
            if got != want:
                raise ValueError(
                    f"LayerNormalization layer '{self.name}' was built for normalized axes "
                    f"of shape {want}, but received an input of shape {shape}.")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        param_shape = tuple(int(input_shape[a]) for a in self._axes(len(input_shape)))
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape=param_shape, initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                name="gamma")
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape=param_shape, initializer=self.beta_initializer,
                regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                name="beta")
        self.built = True

    def call(self, inputs):
        x = as_float(inputs, self.dtype)
        axes = self._axes(x.ndim)
        variance = jnp.var(x, axis=tuple(axes), keepdims=True)
        # Weights are shaped like the normalized axes (in `axis` order); like Keras,
        # reshape them to the input's rank with 1 on every other axis.
        bshape = [1] * x.ndim
        for a in axes:
            bshape[a] = x.shape[a]
        gamma = None if self.gamma is None else jnp.reshape(self.gamma.value, bshape)
        if self.rms_scaling:
            inv = jax.lax.rsqrt(variance + self.epsilon)
            return x * inv * gamma
        mean = jnp.mean(x, axis=tuple(axes), keepdims=True)
        inv = jax.lax.rsqrt(variance + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        res = -mean * inv
        if self.beta is not None:
            res = res + jnp.reshape(self.beta.value, bshape)
        return x * inv + res

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(static_shape(inputs), dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale,
            rms_scaling=self.rms_scaling,
            beta_initializer=serialize_or_none(initializers, self.beta_initializer),
            gamma_initializer=serialize_or_none(initializers, self.gamma_initializer),
            beta_regularizer=serialize_or_none(regularizers, self.beta_regularizer),
            gamma_regularizer=serialize_or_none(regularizers, self.gamma_regularizer),
            beta_constraint=serialize_or_none(constraints, self.beta_constraint),
            gamma_constraint=serialize_or_none(constraints, self.gamma_constraint),
        )
        return config
