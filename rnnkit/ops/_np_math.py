"""Element-wise NumPy-style ops of `keras.ops.numpy`: one line per op, delegating to `jax.numpy`.

Integer and bool inputs follow Keras's dtype rules on JAX: functions whose result is
fractional (`sqrt`, `exp`, `ceil`, `divide`, ...) compute in float32.
"""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.ops._build import op, to_float

# Same name and parameter order in jax.numpy; the keras.ops argument is `x`.
_UNARY = """abs absolute angle arccos arccosh arcsin arcsinh arctan arctanh cbrt conj conjugate
copy cos cosh deg2rad exp exp2 expm1 fabs i0 imag isfinite isinf isnan isneginf isposinf
isreal log log10 log1p log2 logical_not negative rad2deg ravel real reciprocal sign signbit
sin sinc sinh sqrt square tan tanh trunc""".split()
# Keras computes these in floatx for integer inputs.
_UNARY_FLOAT = "ceil floor".split()
# Same name and parameter order in jax.numpy; the keras.ops arguments are `x1, x2`.
_BINARY = """add arctan2 divide equal floor_divide fmax fmin fmod gcd greater greater_equal
heaviside hypot lcm ldexp less less_equal logaddexp logaddexp2 logical_and logical_or
logical_xor maximum minimum mod multiply nextafter not_equal power subtract true_divide matmul
dot inner outer vdot kron""".split()
# Integer ops whose keras.ops arguments are `x, y`.
_BITWISE = """bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift
left_shift right_shift""".split()

for _name in _UNARY:
    globals()[_name] = op(f"{_name}(x)", getattr(jnp, _name))
for _name in _UNARY_FLOAT:
    _f = getattr(jnp, _name)
    globals()[_name] = op(f"{_name}(x)", lambda x, _f=_f: _f(to_float(x)),
                          doc=f"`keras.ops.{_name}(x)` on JAX: `jax.numpy.{_name}`, ints as float32.")
for _name in _BINARY:
    globals()[_name] = op(f"{_name}(x1, x2)", getattr(jnp, _name))
for _name in _BITWISE:
    globals()[_name] = op(f"{_name}(x, y)", getattr(jnp, _name))
bitwise_invert = op("bitwise_invert(x)", jnp.bitwise_invert)
bitwise_not = op("bitwise_not(x)", jnp.bitwise_not)


def _divide_no_nan(x1, x2):
    safe = jnp.where(x2 == 0, 1, x2)
    return jnp.where(x2 == 0, 0, jnp.true_divide(x1, safe))


divide_no_nan = op("divide_no_nan(x1, x2)", _divide_no_nan,
                   doc="`x1 / x2`, with 0 where `x2 == 0` (also in the gradient).")
round = op("round(x, decimals=0)", jnp.round)
clip = op("clip(x, x_min, x_max)", jnp.clip, doc="`min(max(x, x_min), x_max)` element-wise.")
nan_to_num = op("nan_to_num(x, nan=0.0, posinf=None, neginf=None)",
                lambda x, nan, posinf, neginf: jnp.nan_to_num(x, nan=nan, posinf=posinf,
                                                              neginf=neginf))
allclose = op("allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False)", jnp.allclose)
isclose = op("isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False)", jnp.isclose)
cross = op("cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None)", jnp.cross)
correlate = op("correlate(x1, x2, mode='valid')", jnp.correlate)
tensordot = op("tensordot(x1, x2, axes=2)", jnp.tensordot)
einsum = op("einsum(subscripts, *operands, **kwargs)", jnp.einsum,
            doc="Einstein summation, e.g. `einsum(\"bi,ij->bj\", x, w)`.")
diff = op("diff(a, n=1, axis=-1)", jnp.diff)
trapezoid = op("trapezoid(y, x=None, dx=1.0, axis=-1)", jnp.trapezoid)

__all__ = (_UNARY + _UNARY_FLOAT + _BINARY + _BITWISE
           + ["bitwise_invert", "bitwise_not", "divide_no_nan", "round", "clip", "nan_to_num",
              "allclose", "isclose", "cross", "correlate", "tensordot", "einsum", "diff",
              "trapezoid"])
