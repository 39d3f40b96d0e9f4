"""Array operations for custom cells, named and behaving like `keras.ops`.

Each op is a thin wrapper over `jax.numpy` / `jax.nn` with the Keras 3 signature.
Every array argument may also be an rnnkit Variable (any non-array object with a
`.value` attribute); it is replaced by its current value first, so
`ops.matmul(x, self.kernel)` works inside a cell.

Defaults follow Keras 3, e.g. `concatenate(xs, axis=0)`, `stack(x, axis=0)`,
`softmax(x, axis=-1)`; `zeros`, `ones` and `one_hot` default to float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

FLOATX = "float32"
# Note: `sum`, `max`, `min` and `abs` below shadow the builtins inside this module.


def _unwrap(x):
    """`x.value` for Variable-like objects, `x` itself for everything else."""
    if hasattr(x, "value") and not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return x.value
    return x


def _unary(fn, name, doc):
    def op(x):
        return fn(_unwrap(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _binary(fn, name, doc):
    def op(x1, x2):
        return fn(_unwrap(x1), _unwrap(x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# Element-wise ops (broadcasting like NumPy; NaN/inf propagate as IEEE).
tanh = _unary(jnp.tanh, "tanh", "`tanh(x)`.")
sigmoid = _unary(jax.nn.sigmoid, "sigmoid", "`1 / (1 + exp(-x))`.")
relu = _unary(jax.nn.relu, "relu", "`max(x, 0)`.")
exp = _unary(jnp.exp, "exp", "`e ** x`.")
log = _unary(jnp.log, "log", "Natural logarithm `ln(x)`.")
sqrt = _unary(jnp.sqrt, "sqrt", "Square root.")
square = _unary(jnp.square, "square", "`x * x`.")
abs = _unary(jnp.abs, "abs", "Absolute value `|x|`.")
matmul = _binary(jnp.matmul, "matmul", "Matrix product `x1 @ x2` (batched like numpy).")
dot = _binary(jnp.dot, "dot", "NumPy-style dot product of `x1` and `x2`.")
add = _binary(jnp.add, "add", "`x1 + x2`.")
subtract = _binary(jnp.subtract, "subtract", "`x1 - x2`.")
multiply = _binary(jnp.multiply, "multiply", "`x1 * x2`.")
divide = _binary(jnp.divide, "divide", "True division `x1 / x2` (ints give floats).")
maximum = _binary(jnp.maximum, "maximum", "Element-wise `max(x1, x2)`.")
minimum = _binary(jnp.minimum, "minimum", "Element-wise `min(x1, x2)`.")


def convert_to_tensor(x, dtype=None):
    """`x` (array, Variable, list, scalar) as a jax array, optionally of `dtype`."""
    return jnp.asarray(_unwrap(x), dtype=dtype)


def cast(x, dtype):
    """`x` converted to `dtype` (e.g. "float32", "int32")."""
    return jnp.asarray(_unwrap(x)).astype(dtype)


def shape(x):
    """The static shape of `x` as a tuple of ints."""
    return tuple(jnp.shape(_unwrap(x)))


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x), axis)`, computed stably (max subtracted first)."""
    return jax.nn.softmax(_unwrap(x), axis=axis)


def where(condition, x1=None, x2=None):
    """`x1` where `condition` is true, else `x2`; with one argument, the true indices."""
    if x1 is None and x2 is None:
        return jnp.where(_unwrap(condition))
    return jnp.where(_unwrap(condition), _unwrap(x1), _unwrap(x2))


def clip(x, x_min, x_max):
    """`min(max(x, x_min), x_max)` element-wise."""
    return jnp.clip(_unwrap(x), _unwrap(x_min), _unwrap(x_max))


# ---- shapes and joins ---------------------------------------------------------------


def reshape(x, newshape):
    """`x` with shape `newshape`; one dimension may be -1."""
    return jnp.reshape(_unwrap(x), newshape)


def transpose(x, axes=None):
    """Permutes the axes of `x`; `axes=None` reverses them."""
    return jnp.transpose(_unwrap(x), axes)


def expand_dims(x, axis):
    """Inserts a size-1 axis at `axis`."""
    return jnp.expand_dims(_unwrap(x), axis)


def squeeze(x, axis=None):
    """Removes size-1 axes (all of them when `axis` is None)."""
    return jnp.squeeze(_unwrap(x), axis)


def flip(x, axis=None):
    """Reverses the order of elements along `axis` (all axes when None)."""
    return jnp.flip(_unwrap(x), axis)


def split(x, indices_or_sections, axis=0):
    """Splits `x` into a list of arrays: N equal parts, or at the given indices."""
    return jnp.split(_unwrap(x), indices_or_sections, axis=axis)


def concatenate(xs, axis=0):
    """Joins a sequence of arrays along an existing `axis` (Keras default: 0)."""
    return jnp.concatenate([_unwrap(x) for x in xs], axis=axis)


def stack(x, axis=0):
    """Joins a sequence of same-shape arrays along a new `axis`."""
    return jnp.stack([_unwrap(a) for a in x], axis=axis)


def take(x, indices, axis=None):
    """Elements of `x` at `indices` along `axis` (of the flattened `x` when None)."""
    return jnp.take(_unwrap(x), _unwrap(indices), axis=axis)


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation, e.g. `einsum("bi,ij->bj", x, w)`."""
    return jnp.einsum(subscripts, *[_unwrap(o) for o in operands], **kwargs)


# ---- reductions ---------------------------------------------------------------------


def sum(x, axis=None, keepdims=False):
    """Sum of elements over `axis` (all elements when None)."""
    return jnp.sum(_unwrap(x), axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis`; integer and bool inputs give float32 (as Keras)."""
    x = jnp.asarray(_unwrap(x))
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(FLOATX)
    return jnp.mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over `axis`; `initial` is the value for empty reductions."""
    return jnp.max(_unwrap(x), axis=axis, keepdims=keepdims, initial=initial)


def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over `axis`; `initial` is the value for empty reductions."""
    return jnp.min(_unwrap(x), axis=axis, keepdims=keepdims, initial=initial)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along `axis` (of the flattened `x` when None)."""
    return jnp.argmax(_unwrap(x), axis=axis, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector/matrix norm like `numpy.linalg.norm`; ints are computed in float32."""
    x = jnp.asarray(_unwrap(x))
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(FLOATX)
    return jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


# ---- creation -----------------------------------------------------------------------


def zeros(shape, dtype=None):
    """Array of zeros; `dtype` defaults to float32."""
    return jnp.zeros(shape, dtype=dtype or FLOATX)


def ones(shape, dtype=None):
    """Array of ones; `dtype` defaults to float32."""
    return jnp.ones(shape, dtype=dtype or FLOATX)


def zeros_like(x, dtype=None):
    """Zeros with the shape of `x` (and its dtype unless `dtype` is given)."""
    return jnp.zeros_like(_unwrap(x), dtype=dtype)


def ones_like(x, dtype=None):
    """Ones with the shape of `x` (and its dtype unless `dtype` is given)."""
    return jnp.ones_like(_unwrap(x), dtype=dtype)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot encoding of integer `x` along a new `axis` of size `num_classes`.

    Negative or out-of-range indices give all-zero vectors. `dtype` defaults to float32.
    """
    return jax.nn.one_hot(_unwrap(x), num_classes, axis=axis, dtype=dtype or FLOATX)

