"""Small helpers the Keras-shaped layers share: output specs of symbolic calls, shapes,
serialization of optional sub-objects, weight options, broadcasting weights and autocasting
inputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit import constraints, initializers, regularizers
from rnnkit.layers.tracing import Spec


def serialize_or_none(module, obj):
    return None if obj is None else module.serialize(obj)


def set_weight_options(layer, **weights):
    """Keras' per-weight options: for each `name=(initializer, regularizer, constraint)` sets
    `layer.<name>_initializer`, `<name>_regularizer` and `<name>_constraint`, each through
    its module's `get` (names, config dicts, objects or None)."""
    for name, (initializer, regularizer, constraint) in weights.items():
        setattr(layer, f"{name}_initializer", initializers.get(initializer))
        setattr(layer, f"{name}_regularizer", regularizers.get(regularizer))
        setattr(layer, f"{name}_constraint", constraints.get(constraint))


def static_shape(x):
    """Shape of an array, KerasTensor or Variable as a tuple (None for unknown sizes)."""
    return tuple(x.shape)


def output_spec(shape, dtype):
    """An output spec for `compute_output_spec` with an exact (possibly partly None) shape."""
    return Spec(tuple(None if d is None else int(d) for d in shape), np.dtype(dtype))


def spec_dtype(spec_tree):
    leaves = jax.tree_util.tree_leaves(spec_tree, is_leaf=lambda s: isinstance(s, Spec))
    return leaves[0].dtype


def check_unsupported(layer_name: str, **kwargs):
    """Keras options rnnkit accepts only at their defaults (LoRA, quantization)."""
    for key, value in kwargs.items():
        if value is not None:
            raise ValueError(
                f"{layer_name}: `{key}` is not supported by rnnkit (received {key}={value!r}). "
                f"Leave it at its default None."
            )


def expand_to(v, ndim: int, axes=None):
    """Reshapes a weight so it broadcasts against a rank-`ndim` array without implicit
    rank promotion: `axes` (default: the last `v.ndim` axes) keep their sizes, others 1."""
    v = jnp.asarray(v)
    if v.ndim == ndim:
        return v
    if axes is None:
        axes = list(range(ndim - v.ndim, ndim))
    shape = [1] * ndim
    for a, d in zip(axes, v.shape):
        shape[a] = d
    return jnp.reshape(v, shape)


def as_float(x, dtype):
    """`x` as an array of the layer's float dtype (Keras autocasts layer inputs)."""
    x = jnp.asarray(x)
    return x if x.dtype == np.dtype(dtype) else x.astype(dtype)
