"""Keras 3 `Embedding` and `Masking`: the layers that start masked sequences."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from rnnkit.core import sparse

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.helpers import (check_unsupported, output_spec, serialize_or_none,
                                   set_weight_options, spec_dtype, static_shape)
from rnnkit.layers.validation import check_positive_int
from rnnkit.layers.layer import Layer, in_trace


class Embedding(Layer):
    """Turns non-negative integer ids into dense vectors: (B, ...) -> (B, ..., output_dim).

    The weight `embeddings` has shape `(input_dim, output_dim)` and is initialized with
    "uniform" (RandomUniform(-0.05, 0.05)) by default. Non-integer inputs are cast to int32
    (truncated), as Keras does. With `mask_zero=True` the layer emits the mask `ids != 0`
    (so id 0 is padding and the vocabulary needs `input_dim = size + 1`).

    Ids must lie in `[0, input_dim)`. A direct (eager) call checks this and raises a clear
    error. Inside compiled code (e.g. `model.predict`/`fit`) no check is possible; there
    the lookup is `jnp.take` as in Keras on JAX: a negative id wraps around (-1 = last row)
    and an id >= input_dim yields a row of NaN.

    `input_length` (Keras 2) is accepted and ignored, with a warning.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        input_length = kwargs.pop("input_length", None)
        if input_length is not None:
            warnings.warn("Embedding: the Keras 2 argument `input_length` has no effect in "
                          "Keras 3 and rnnkit; remove it.", stacklevel=2)
        self.input_dim = check_positive_int("Embedding", "input_dim", input_dim,
                                            "Embedding(input_dim=10000, output_dim=64)")
        self.output_dim = check_positive_int("Embedding", "output_dim", output_dim,
                                             "Embedding(input_dim=10000, output_dim=64)")
        check_unsupported("Embedding", lora_rank=lora_rank, lora_alpha=lora_alpha,
                          quantization_config=quantization_config)
        super().__init__(**kwargs)
        set_weight_options(
            self, embeddings=(embeddings_initializer, embeddings_regularizer, embeddings_constraint))
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None
        if weights is not None:
            self.build(None)
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def build(self, input_shape=None):
        if self.embeddings is None:
            self.embeddings = self.add_weight(
                shape=(self.input_dim, self.output_dim),
                initializer=self.embeddings_initializer,
                regularizer=self.embeddings_regularizer,
                constraint=self.embeddings_constraint, name="embeddings")
        self.embeddings.sparse_gradient = True  # see rnnkit.core.sparse
        self.built = True

    def _check_inputs(self, args, kwargs):
        x = args[0]
        if not hasattr(x, "shape") or isinstance(x, (list, tuple)):
            raise ValueError(
                f"Embedding layer '{self.name}' expects one array of integer ids. Received: "
                f"{type(x).__name__}.")
        if (isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)
                and not in_trace() and x.size > 0):
            ids = x if jnp.issubdtype(x.dtype, jnp.integer) else x.astype("int32")
            lo, hi = int(jnp.min(ids)), int(jnp.max(ids))
            if lo < 0 or hi >= self.input_dim:
                raise ValueError(
                    f"Embedding layer '{self.name}' has input_dim={self.input_dim}, so ids "
                    f"must be in [0, {self.input_dim - 1}]. Received ids in [{lo}, {hi}]. "
                    "Increase input_dim to (largest id + 1), or map unknown ids to a "
                    "reserved index.")

    def call(self, inputs):
        if str(inputs.dtype) not in ("int32", "int64"):
            inputs = inputs.astype("int32")
        ghost = sparse.ghost_for(self.embeddings)
        if ghost is None:
            outputs = jnp.take(self.embeddings.value, inputs, axis=0)
        else:  # inside a train step: also report per-occurrence gradient squares
            outputs = sparse.take_rows(self.embeddings.value, ghost, inputs)
        return outputs.astype(self.dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return jnp.not_equal(inputs, 0)

    def compute_output_spec(self, inputs, *args, **kwargs):
        return output_spec(static_shape(inputs) + (self.output_dim,), self.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_dim=self.input_dim, output_dim=self.output_dim,
            embeddings_initializer=serialize_or_none(initializers, self.embeddings_initializer),
            embeddings_regularizer=serialize_or_none(regularizers, self.embeddings_regularizer),
            embeddings_constraint=serialize_or_none(constraints, self.embeddings_constraint),
            mask_zero=self.mask_zero, quantization_config=None,
        )
        return config


class Masking(Layer):
    """Masks time steps whose features all equal `mask_value`.

    The output mask is `any(inputs != mask_value, axis=-1)` (True = use the step), and the
    output is the input with masked steps set to 0, as in Keras 3.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def _check_inputs(self, args, kwargs):
        x = args[0]
        if not hasattr(x, "shape") or isinstance(x, (list, tuple)) or len(static_shape(x)) < 2:
            raise ValueError(
                f"Masking layer '{self.name}' expects one array of shape (batch, timesteps, "
                f"features). Received: {getattr(x, 'shape', type(x).__name__)}.")

    def _keep(self, inputs, keepdims):
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=keepdims)

    def call(self, inputs):
        return inputs * self._keep(inputs, True).astype(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs, False)

    def compute_output_spec(self, inputs, *args, **kwargs):
        dtype = spec_dtype(super().compute_output_spec(inputs, *args, **kwargs))
        return output_spec(static_shape(inputs), dtype)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config

