"""Reductions, statistics and sorting of `keras.ops.numpy`, delegating to `jax.numpy`.

Averages (`mean`, `std`, `var`, `median`, quantiles, ...) of integer or bool inputs are
computed in float32, as Keras does.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.ops._build import op, to_float

# f(x, axis=None, keepdims=False), same parameter order in jax.numpy.
_REDUCE = """all any amax amin argmax argmin nanargmax nanargmin sum ptp nanmax nanmin
nansum nanprod""".split()
# The same, computed in float32 for integer inputs.
_REDUCE_FLOAT = "mean median std var nanmean nanmedian nanstd nanvar".split()
# f(x, axis=None, dtype=None).
_CUMULATIVE = "cumsum cumprod nancumsum nancumprod".split()
# f(x, q, axis=None, method='linear', keepdims=False).
_QUANTILE = "percentile quantile nanpercentile nanquantile".split()

def _by_keyword(f):
    """`f(x, axis, keepdims)` for a jax.numpy reduction whose 3rd parameter is not keepdims."""
    def call(x, axis, keepdims):
        return f(x, axis=axis, keepdims=keepdims)
    call.__name__, call.__module__ = f.__name__, f.__module__
    return call


for _name in _REDUCE:
    globals()[_name] = op(f"{_name}(x, axis=None, keepdims=False)", _by_keyword(getattr(jnp, _name)))
for _name in _REDUCE_FLOAT:
    _f = getattr(jnp, _name)
    globals()[_name] = op(
        f"{_name}(x, axis=None, keepdims=False)",
        lambda x, axis, keepdims, _f=_f: _f(to_float(x), axis=axis, keepdims=keepdims),
        doc=f"`keras.ops.{_name}` on JAX: `jax.numpy.{_name}`; ints are averaged as float32.")
for _name in _CUMULATIVE:
    globals()[_name] = op(f"{_name}(x, axis=None, dtype=None)", getattr(jnp, _name))
for _name in _QUANTILE:
    _f = getattr(jnp, _name)
    globals()[_name] = op(
        f"{_name}(x, q, axis=None, method='linear', keepdims=False)",
        lambda x, q, axis, method, keepdims, _f=_f: _f(to_float(x), q, axis=axis, method=method,
                                                        keepdims=keepdims))

max = op("max(x, axis=None, keepdims=False, initial=None)",
         lambda x, axis, keepdims, initial: jnp.max(x, axis=axis, keepdims=keepdims,
                                                    initial=initial),
         doc="Maximum over `axis`; `initial` is the value for empty reductions.")
min = op("min(x, axis=None, keepdims=False, initial=None)",
         lambda x, axis, keepdims, initial: jnp.min(x, axis=axis, keepdims=keepdims,
                                                    initial=initial),
         doc="Minimum over `axis`; `initial` is the value for empty reductions.")
prod = op("prod(x, axis=None, keepdims=False, dtype=None)",
          lambda x, axis, keepdims, dtype: jnp.prod(x, axis=axis, keepdims=keepdims, dtype=dtype))
average = op("average(x, axis=None, weights=None)",
             lambda x, axis, weights: jnp.average(to_float(x), axis, weights))
count_nonzero = op("count_nonzero(x, axis=None)", jnp.count_nonzero)
argsort = op("argsort(x, axis=-1)", jnp.argsort)
sort = op("sort(x, axis=-1)", jnp.sort)
corrcoef = op("corrcoef(x)", lambda x: jnp.corrcoef(to_float(x)))
argpartition = op("argpartition(x, kth, axis=-1)", jnp.argpartition)

__all__ = (_REDUCE + _REDUCE_FLOAT + _CUMULATIVE + _QUANTILE
           + ["max", "min", "prod", "average", "count_nonzero", "argsort", "sort", "corrcoef",
              "argpartition"])
