"""`keras.ops.numpy` on JAX: the NumPy-style ops (element-wise math, creation, shapes,
indexing, reductions), as in `rnnkit/ops/_np_math.py`, `_np_array.py` and `_np_reduce.py`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from rnnkit.ops._build import op, to_float, unwrap_tree
from rnnkit.ops._np_array import *  # noqa: F401,F403
from rnnkit.ops._np_array import __all__ as _array_names
from rnnkit.ops._np_math import *  # noqa: F401,F403
from rnnkit.ops._np_math import __all__ as _math_names
from rnnkit.ops._np_reduce import *  # noqa: F401,F403
from rnnkit.ops._np_reduce import __all__ as _reduce_names

slogdet = op("slogdet(x)", lambda x: tuple(jnp.linalg.slogdet(to_float(x))),
             doc="`(sign, log|det x|)` of square matrices `x`.")


def _vectorize(pyfunc, *, excluded=None, signature=None):
    vectorized = jnp.vectorize(pyfunc, excluded=excluded or frozenset(), signature=signature)

    @functools.wraps(pyfunc)
    def call(*args, **kwargs):
        with jax.numpy_rank_promotion("allow"):  # broadcasting is the point of vectorize
            return vectorized(*unwrap_tree(args), **unwrap_tree(kwargs))

    return call


vectorize = op("vectorize(pyfunc, *, excluded=None, signature=None)", _vectorize,
               doc="`pyfunc` applied element-wise (or per core shape of `signature`), "
                   "broadcasting like NumPy.")

__all__ = [*_array_names, *_math_names, *_reduce_names, "slogdet", "vectorize"]
