"""The call machinery under `Layer`: the structure version that keys the cached variable
lists, the trace context (are we inside a compiled call, in training mode?), the split of call arguments into a hashable static part and array leaves
(the `jax.jit` cache key), and `Spec` (a shape with unknown sizes, for symbolic calls)."""

from __future__ import annotations

import threading

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.variables import Variable

__all__ = ["STRUCTURAL_ATTRS", "bump_structure", "cached", "Tracing", "in_trace", "current_training", "StaticArgs", "split_static",
           "to_arrays", "shape_of", "is_array", "policy_name", "Spec"]

_local = threading.local()

# Bumped by every change that can alter a layer's variable lists (a sub-layer attached, a
# weight added, `trainable` / `built` / the graph changed): the cached lists of
# `variables`, `weights`, `trainable_weights` and `_flatten_layers` are keyed on it, so the
# per-call path does not walk the layer tree (about 20 us per call on a 3-layer model).
# `Variable.trainable` flips are not tracked: they take effect after the next structural
# change (the compiled train step has always fixed its variable split when first built).
_STRUCTURE = [0]
STRUCTURAL_ATTRS = frozenset({"trainable", "built", "_layers", "_graph"})


def bump_structure():
    _STRUCTURE[0] += 1


def cached(layer, key, compute):
    cache = layer.__dict__.get("_struct_cache")
    version = _STRUCTURE[0]
    if cache is None or cache[0] != version:
        cache = (version, {})
        layer.__dict__["_struct_cache"] = cache
    value = cache[1].get(key)
    if value is None:
        value = compute()
        cache[1][key] = value
    return value



def _ctx() -> threading.local:
    if not hasattr(_local, "depth"):
        _local.depth = 0
        _local.training = None
    return _local


class Tracing:
    """Marks that layer code runs inside a compiled (or shape-inference) trace."""

    def __init__(self, training=None):
        self.training = training

    def __enter__(self):
        ctx = _ctx()
        self._saved = ctx.training
        ctx.depth += 1
        if self.training is not None:
            ctx.training = self.training
        return self

    def __exit__(self, *exc):
        ctx = _ctx()
        ctx.depth -= 1
        ctx.training = self._saved
        return False


def in_trace() -> bool:
    return _ctx().depth > 0


def current_training():
    return _ctx().training


class StaticArgs:
    """The hashable (non-array) part of a call's arguments: a jit static argument."""

    def __init__(self, treedef, leaves, is_array):
        self.treedef, self.leaves, self.is_array = treedef, tuple(leaves), tuple(is_array)
        self._hash = hash((treedef, self.leaves, self.is_array))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return (isinstance(other, StaticArgs) and self.treedef == other.treedef
                and self.leaves == other.leaves and self.is_array == other.is_array)

    def rebuild(self, arrays):
        it = iter(arrays)
        leaves = [next(it) if a else s for s, a in zip(self.leaves, self.is_array)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def is_array(x) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic))


def policy_name(dtype):
    """The dtype-policy name of a layer's `dtype` argument (None when not given). Accepts a
    dtype, a policy name ("mixed_bfloat16"), a Keras policy object or its config dict."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", dtype.get("name"))
    elif not isinstance(dtype, str) and hasattr(dtype, "name") and not isinstance(
            dtype, np.dtype):
        dtype = dtype.name
    if dtype == "mixed_bfloat16":
        return dtype
    return np.dtype(dtype).name


def _is_none(x):
    return x is None


def split_static(tree):
    """(hashable non-array part, array leaves). NumPy leaves are passed to `jax.jit` as they
    are: jit converts them in C++, much faster than `jnp.asarray` per call."""
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=_is_none)
    array_mask = [is_array(x) for x in leaves]
    arrays = [x for x, a in zip(leaves, array_mask) if a]
    static = [None if a else x for x, a in zip(leaves, array_mask)]
    return StaticArgs(treedef, static, array_mask), arrays


def _is_variable(x):
    return isinstance(x, Variable)


def to_arrays(tree, numpy=True):
    """Variables become their values and (with `numpy`) numpy arrays become jax arrays;
    Python scalars and None stay as they are. Returns `tree` itself when nothing changes."""
    leaves, treedef = jax.tree_util.tree_flatten(tree, is_leaf=_is_variable)
    changed = False
    out = []
    for x in leaves:
        if isinstance(x, Variable):
            x, changed = x.value, True
        elif numpy and isinstance(x, (np.ndarray, np.generic)):
            x, changed = jnp.asarray(x), True
        out.append(x)
    return jax.tree_util.tree_unflatten(treedef, out) if changed else tree


def shape_of(x):
    if isinstance(x, (list, tuple)):
        return [shape_of(v) for v in x]
    if hasattr(x, "shape"):
        return tuple(x.shape)
    return None


class Spec:
    """A shape with unknown sizes (None) and a dtype; becomes a KerasTensor."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype
