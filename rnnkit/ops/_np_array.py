"""Creation, shape and indexing ops of `keras.ops.numpy`, delegating to `jax.numpy`.

Creation ops without a `dtype` give float32 (Keras's floatx), except `arange`/`array`/
`*_like`, which follow their inputs.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.ops._build import FLOATX, floatx_default, op


def _keras_arange(start, stop, step, dtype):
    if step is None:
        step = 1
    return jnp.arange(start, stop, step, dtype=dtype)


# ---- creation ---------------------------------------------------------------------------
arange = op("arange(start, stop=None, step=None, dtype=None)", _keras_arange)
array = op("array(x, dtype=None)", jnp.array)
zeros = op("zeros(shape, dtype=None)", floatx_default(jnp.zeros),
           doc="Array of zeros; `dtype` defaults to float32.")
ones = op("ones(shape, dtype=None)", floatx_default(jnp.ones),
          doc="Array of ones; `dtype` defaults to float32.")
empty = op("empty(shape, dtype=None)", floatx_default(jnp.empty),
           doc="Array of the given shape (zeros on JAX); `dtype` defaults to float32.")
full = op("full(shape, fill_value, dtype=None)", floatx_default(jnp.full))
zeros_like = op("zeros_like(x, dtype=None)", jnp.zeros_like)
ones_like = op("ones_like(x, dtype=None)", jnp.ones_like)
empty_like = op("empty_like(x, dtype=None)", jnp.empty_like)
full_like = op("full_like(x, fill_value, dtype=None)", jnp.full_like)
eye = op("eye(N, M=None, k=0, dtype=None)", floatx_default(jnp.eye))
identity = op("identity(n, dtype=None)", floatx_default(jnp.identity))
tri = op("tri(N, M=None, k=0, dtype=None)", floatx_default(jnp.tri))
linspace = op("linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0)",
              jnp.linspace)
logspace = op("logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0)",
              jnp.logspace)
geomspace = op("geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0)",
               jnp.geomspace)
bartlett = op("bartlett(x)", jnp.bartlett)
blackman = op("blackman(x)", jnp.blackman)
hamming = op("hamming(x)", jnp.hamming)
hanning = op("hanning(x)", jnp.hanning)
kaiser = op("kaiser(x, beta)", jnp.kaiser)
vander = op("vander(x, N=None, increasing=False)", jnp.vander)
meshgrid = op("meshgrid(*x, indexing='xy')", jnp.meshgrid)
diag = op("diag(x, k=0)", jnp.diag)
diagflat = op("diagflat(x, k=0)", jnp.diagflat)
diagonal = op("diagonal(x, offset=0, axis1=0, axis2=1)", jnp.diagonal)
tril = op("tril(x, k=0)", jnp.tril)
triu = op("triu(x, k=0)", jnp.triu)
trace = op("trace(x, offset=0, axis1=0, axis2=1)", jnp.trace)

# ---- shapes and joins -------------------------------------------------------------------
append = op("append(x1, x2, axis=None)", jnp.append)
array_split = op("array_split(x, indices_or_sections, axis=0)", jnp.array_split)
broadcast_to = op("broadcast_to(x, shape)", jnp.broadcast_to)
concatenate = op("concatenate(xs, axis=0)", jnp.concatenate,
                 doc="Joins a sequence of arrays along an existing `axis` (Keras default: 0).")
stack = op("stack(x, axis=0)", jnp.stack,
           doc="Joins a sequence of same-shape arrays along a new `axis`.")
dstack = op("dstack(xs)", jnp.dstack)
hstack = op("hstack(xs)", jnp.hstack)
vstack = op("vstack(xs)", jnp.vstack)
split = op("split(x, indices_or_sections, axis=0)", jnp.split,
           doc="Splits `x` into a list of arrays: N equal parts, or at the given indices.")
dsplit = op("dsplit(x, indices_or_sections)", jnp.dsplit)
hsplit = op("hsplit(x, indices_or_sections)", jnp.hsplit)
vsplit = op("vsplit(x, indices_or_sections)", jnp.vsplit)
expand_dims = op("expand_dims(x, axis)", jnp.expand_dims)
squeeze = op("squeeze(x, axis=None)", jnp.squeeze)
reshape = op("reshape(x, newshape)", jnp.reshape)
transpose = op("transpose(x, axes=None)", jnp.transpose)
swapaxes = op("swapaxes(x, axis1, axis2)", jnp.swapaxes)
moveaxis = op("moveaxis(x, source, destination)", jnp.moveaxis)
flip = op("flip(x, axis=None)", jnp.flip)
fliplr = op("fliplr(x)", jnp.fliplr)
flipud = op("flipud(x)", jnp.flipud)
roll = op("roll(x, shift, axis=None)", jnp.roll)
rot90 = op("rot90(array, k=1, axes=(0, 1))", jnp.rot90)
tile = op("tile(x, repeats)", jnp.tile)
repeat = op("repeat(x, repeats, axis=None)", jnp.repeat)


def _pad(x, pad_width, mode, constant_values):
    if mode == "constant":
        return jnp.pad(x, pad_width, mode, constant_values=constant_values or 0)
    if constant_values is not None:
        raise ValueError(f"pad: `constant_values` is only used with mode='constant'. "
                         f"Received: mode={mode!r}, constant_values={constant_values!r}.")
    return jnp.pad(x, pad_width, mode)


pad = op("pad(x, pad_width, mode='constant', constant_values=None)", _pad)

# ---- indexing and search ----------------------------------------------------------------
take = op("take(x, indices, axis=None)", jnp.take)
take_along_axis = op("take_along_axis(x, indices, axis=None)", jnp.take_along_axis)
get_item = op("get_item(x, key)", lambda x, key: jnp.asarray(x)[key], doc="`x[key]`.")


def _where(condition, x1, x2):
    if x1 is None and x2 is None:
        return jnp.where(condition)
    if x1 is None or x2 is None:
        raise ValueError("where: give both `x1` and `x2`, or neither (then the indices where "
                         f"`condition` is true are returned). Received: x1={x1!r}, x2={x2!r}.")
    return jnp.where(condition, x1, x2)


where = op("where(condition, x1=None, x2=None)", _where,
           doc="`x1` where `condition` is true, else `x2`; with one argument, the true indices.")
select = op("select(condlist, choicelist, default=0)", jnp.select)
nonzero = op("nonzero(x)", jnp.nonzero)
unravel_index = op("unravel_index(indices, shape)", jnp.unravel_index)
searchsorted = op("searchsorted(sorted_sequence, values, side='left')", jnp.searchsorted)
digitize = op("digitize(x, bins)", jnp.digitize)
isin = op("isin(x1, x2, assume_unique=False, invert=False)", jnp.isin)


def _unique(x, sorted, return_index, return_inverse, return_counts, axis, size, fill_value):
    if not sorted:
        raise ValueError("unique: only sorted=True is supported on JAX (as in Keras).")
    return jnp.unique(x, return_index=return_index, return_inverse=return_inverse,
                      return_counts=return_counts, axis=axis, size=size, fill_value=fill_value)


unique = op("unique(x, sorted=True, return_index=False, return_inverse=False, "
            "return_counts=False, axis=None, size=None, fill_value=None)", _unique)


def _bincount(x, weights, minlength, sparse):
    if sparse:
        raise ValueError("bincount: sparse=True is not supported; rnnkit arrays are dense.")
    return jnp.bincount(x, weights, minlength)


bincount = op("bincount(x, weights=None, minlength=0, sparse=False)", _bincount)
histogram = op("histogram(x, bins=10, range=None)", jnp.histogram)
view = op("view(x, dtype=None)", lambda x, dtype: jnp.asarray(x).view(dtype))
ndim = op("ndim(x)", jnp.ndim)
size = op("size(x)", jnp.size)

__all__ = [n for n in dir() if not n.startswith("_") and n not in
           ("FLOATX", "floatx_default", "op", "jnp", "annotations")]
