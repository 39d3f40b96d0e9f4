"""Keras 3 `TimeDistributed`: one layer applied to every time step of a sequence."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit import symbolic
from rnnkit.layers.helpers import output_spec, static_shape
from rnnkit.layers.layer import Layer
from rnnkit.layers.serialization import deserialize, serialize


class TimeDistributed(Layer):
    """Applies `layer` to every time slice of inputs shaped (batch, timesteps, ...).

    The batch and time axes are merged, `layer` runs once on (batch * timesteps, ...),
    and the result is split back to (batch, timesteps, ...): the same weights serve every
    step, and per-step results equal calling `layer` on each slice `inputs[:, t]`. The inner
    layer is built for slices of shape (batch, ...); its weights are this layer's weights.

    `training` is passed to the inner layer, and a mask (batch, timesteps, ...) too (merged
    the same way) when the inner layer's `call` takes one. The output mask is the input
    mask, unchanged.
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                "TimeDistributed expects a Layer instance to apply at every time step, e.g. "
                f"TimeDistributed(Dense(8)). Received: {layer!r} (of type "
                f"{type(layer).__name__}).")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if (not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3
                or not all(d is None or isinstance(d, int) for d in input_shape)):
            raise ValueError(
                f"TimeDistributed layer '{self.name}' expects one input of rank >= 3, "
                f"(batch, timesteps, ...). Received input shape: {input_shape}. For a "
                "(batch, timesteps) input, add a feature axis first, e.g. Reshape((T, 1)).")
        return (input_shape[0], *input_shape[2:])

    def _check_inputs(self, args, kwargs):
        x = args[0]
        if not hasattr(x, "shape") or isinstance(x, (list, tuple)):
            raise ValueError(
                f"TimeDistributed layer '{self.name}' expects one array of shape (batch, "
                f"timesteps, ...). Received: {type(x).__name__}.")
        self._child_shape(static_shape(x))
        mask = kwargs.get("mask")
        if mask is not None and hasattr(mask, "shape"):
            ms, xs = static_shape(mask), static_shape(x)
            if len(ms) < 2 or any(a is not None and b is not None and a != b
                                  for a, b in zip(ms[:2], xs[:2])):
                raise ValueError(
                    f"TimeDistributed layer '{self.name}' expects a mask of shape "
                    f"(batch, timesteps, ...) = ({xs[0]}, {xs[1]}, ...), matching its "
                    f"input of shape {xs}. Received mask.shape={ms}.")

    def build(self, input_shape):
        child = self._child_shape(tuple(input_shape))
        if not self.layer.built:
            self.layer.build(child)
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=None, mask=None):
        batch, steps = inputs.shape[0], inputs.shape[1]
        merged = jnp.reshape(inputs, (batch * steps, *inputs.shape[2:]))
        kwargs = {"training": training}
        if mask is not None:
            mask = jnp.asarray(mask)
            kwargs["mask"] = jnp.reshape(mask, (batch * steps, *mask.shape[2:]))
        outputs = self.layer(merged, **kwargs)
        return jax.tree_util.tree_map(
            lambda y: jnp.reshape(y, (batch, steps, *y.shape[1:])), outputs)

    def compute_output_spec(self, inputs, *args, **kwargs):
        shape = static_shape(inputs)
        child = symbolic.KerasTensor(self._child_shape(shape), inputs.dtype)
        inner = self.layer.compute_output_spec(child)
        return jax.tree_util.tree_map(
            lambda s: output_spec((shape[0], shape[1], *tuple(s.shape)[1:]), s.dtype), inner,
            is_leaf=lambda s: hasattr(s, "shape") and hasattr(s, "dtype"))

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)
