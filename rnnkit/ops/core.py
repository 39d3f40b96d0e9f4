"""Core ops of `keras.ops` on JAX: control flow, conversion, slicing and scatter.

Control flow delegates to `jax.lax` with Keras's argument conventions: `cond` takes two
zero-argument functions, `while_loop` unpacks a tuple/list of loop variables into `cond(*vars)`
and `body(*vars)`, `scan` is `jax.lax.scan`. All of them trace their functions, so they run
inside a compiled cell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.ops._build import op


def _convert_to_tensor(x, dtype, sparse, ragged):
    if sparse or ragged:
        raise ValueError("convert_to_tensor: rnnkit arrays are dense; sparse=True and "
                         f"ragged=True are not supported. Received: sparse={sparse}, "
                         f"ragged={ragged}.")
    return jnp.asarray(x, dtype=dtype)


convert_to_tensor = op("convert_to_tensor(x, dtype=None, sparse=None, ragged=None)",
                       _convert_to_tensor,
                       doc="`x` (array, Variable, list, scalar) as a jax array, optionally of "
                           "`dtype`.")
convert_to_numpy = op("convert_to_numpy(x)", np.asarray, doc="`x` as a NumPy array.")
cast = op("cast(x, dtype)", lambda x, dtype: jnp.asarray(x).astype(dtype),
          doc="`x` converted to `dtype` (e.g. \"float32\", \"int32\").")


def _saturate_cast(x, dtype):
    x = jnp.asarray(x)
    dtype = jnp.dtype(dtype)
    info = jnp.iinfo if jnp.issubdtype(dtype, jnp.integer) else jnp.finfo
    src = jnp.iinfo if jnp.issubdtype(x.dtype, jnp.integer) else jnp.finfo
    if x.dtype != jnp.bool_:
        lo = np.maximum(float(info(dtype).min), float(src(x.dtype).min))
        hi = np.minimum(float(info(dtype).max), float(src(x.dtype).max))
        x = jnp.clip(x, jnp.asarray(lo, x.dtype), jnp.asarray(hi, x.dtype))
    return x.astype(dtype)


saturate_cast = op("saturate_cast(x, dtype)", _saturate_cast,
                   doc="`x` cast to `dtype`, clamped to its range first (no wrap-around).")
dtype = op("dtype(x)", lambda x: jnp.asarray(x).dtype.name,
           doc="The dtype of `x` as a string, e.g. \"float32\".")
shape = op("shape(x)", lambda x: tuple(jnp.shape(x)),
           doc="The static shape of `x` as a tuple of ints.")
is_tensor = op("is_tensor(x)", lambda x: isinstance(x, jax.Array), unwrap=False,
               doc="Whether `x` is a JAX array (False for NumPy arrays and Variables, as in "
                   "Keras).")
stop_gradient = op("stop_gradient(variable)", jax.lax.stop_gradient)

# ---- control flow --------------------------------------------------------------------------
scan = op("scan(f, init, xs=None, length=None, reverse=False, unroll=1)", jax.lax.scan)
associative_scan = op("associative_scan(f, elems, reverse=False, axis=0)",
                      lambda f, elems, reverse, axis: jax.lax.associative_scan(
                          f, elems, reverse=reverse, axis=axis))
cond = op("cond(pred, true_fn, false_fn)", jax.lax.cond)
switch = op("switch(index, branches, *operands)", jax.lax.switch)
fori_loop = op("fori_loop(lower, upper, body_fun, init_val)", jax.lax.fori_loop)
map = op("map(f, xs)", jax.lax.map)
vectorized_map = op("vectorized_map(function, elements)",
                    lambda function, elements: jax.vmap(function)(elements))
custom_gradient = op("custom_gradient(f)", jax.custom_gradient,
                     doc="Decorator: `f(*args)` returns `(output, grad_fn)`, and "
                         "`grad_fn(upstream)` gives the gradients of the inputs.")


def _while_loop(cond_fn, body, loop_vars, maximum_iterations):
    packed = isinstance(loop_vars, (tuple, list))
    state = tuple(loop_vars) if packed else (loop_vars,)

    def as_tuple(out):
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    if maximum_iterations is None:
        out = jax.lax.while_loop(lambda s: cond_fn(*s), lambda s: as_tuple(body(*s)), state)
    else:
        def keep_going(s):
            return jnp.logical_and(s[0] < maximum_iterations, cond_fn(*s[1]))

        def step(s):
            return s[0] + 1, as_tuple(body(*s[1]))

        out = jax.lax.while_loop(keep_going, step, (jnp.asarray(0), state))[1]
    if not packed:
        return out[0]
    return type(loop_vars)(out) if isinstance(loop_vars, list) else out


while_loop = op("while_loop(cond, body, loop_vars, maximum_iterations=None)", _while_loop,
                doc="`while cond(*loop_vars): loop_vars = body(*loop_vars)`, at most "
                    "`maximum_iterations` times; a single variable is passed unpacked.")

# ---- slicing, scatter ----------------------------------------------------------------------
slice = op("slice(inputs, start_indices, shape)", jax.lax.dynamic_slice,
           doc="The block of `inputs` of size `shape` starting at `start_indices`.")
slice_update = op("slice_update(inputs, start_indices, updates)",
                  lambda inputs, start, updates: jax.lax.dynamic_update_slice(inputs, updates,
                                                                              start),
                  doc="`inputs` with the block at `start_indices` replaced by `updates`.")


def _index(indices):
    indices = jnp.asarray(indices)
    return tuple(jnp.moveaxis(indices, -1, 0))


def _scatter(indices, values, shape):
    values = jnp.asarray(values)
    return jnp.zeros(shape, values.dtype).at[_index(indices)].add(values)


_REDUCTIONS = {None: "set", "add": "add", "max": "max", "min": "min", "mul": "multiply"}


def _scatter_update(inputs, indices, updates, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"scatter_update: reduction must be one of {list(_REDUCTIONS)}. "
                         f"Received: reduction={reduction!r}.")
    at = jnp.asarray(inputs).at[_index(indices)]
    return getattr(at, _REDUCTIONS[reduction])(jnp.asarray(updates))


scatter = op("scatter(indices, values, shape)", _scatter,
             doc="Zeros of `shape` with `values` added at `indices` (rows of coordinates).")
scatter_update = op("scatter_update(inputs, indices, updates, reduction=None)", _scatter_update,
                    doc="`inputs` with `updates` written (or combined) at `indices`.")


def _unstack(x, num, axis):
    x = jnp.asarray(x)
    n = x.shape[axis]
    if num is not None and num != n:
        raise ValueError(f"unstack: num={num} but axis {axis} has size {n}.")
    return [jnp.take(x, i, axis=axis) for i in range(n)]


unstack = op("unstack(x, num=None, axis=0)", _unstack,
             doc="The slices of `x` along `axis`, as a list.")

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "saturate_cast", "dtype", "shape",
           "is_tensor", "stop_gradient", "scan", "associative_scan", "cond", "switch",
           "fori_loop", "map", "vectorized_map", "custom_gradient", "while_loop", "slice",
           "slice_update", "scatter", "scatter_update", "unstack"]
