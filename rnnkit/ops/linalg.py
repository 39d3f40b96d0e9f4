"""`keras.ops.linalg` on JAX, delegating to `jax.numpy.linalg` / `jax.scipy.linalg`.

Integer inputs are computed in float32, as Keras does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from rnnkit.ops._build import op, to_float


def _cholesky(x, upper):
    lower = jnp.linalg.cholesky(to_float(x))
    return jnp.swapaxes(lower, -1, -2).conj() if upper else lower


def _cholesky_inverse(x, upper):
    factor = to_float(x)
    lower = jnp.swapaxes(factor, -1, -2).conj() if upper else factor
    eye = jnp.broadcast_to(jnp.eye(factor.shape[-1], dtype=factor.dtype), factor.shape)
    inv_lower = jsl.solve_triangular(lower, eye, lower=True)
    return jnp.swapaxes(inv_lower, -1, -2).conj() @ inv_lower


def _solve_triangular(a, b, lower):
    a, b = to_float(a), to_float(b)
    if b.ndim == a.ndim - 1:  # one right-hand side vector per matrix
        return jsl.solve_triangular(a, b[..., None], lower=lower)[..., 0]
    return jsl.solve_triangular(a, b, lower=lower)


def _lstsq(a, b, rcond):
    return jnp.linalg.lstsq(to_float(a), to_float(b), rcond=rcond)[0]


def _matrix_rank(x, tol):
    return jnp.linalg.matrix_rank(to_float(x), tol=tol)


def _norm(x, ord, axis, keepdims):
    return jnp.linalg.norm(to_float(x), ord=ord, axis=axis, keepdims=keepdims)


def _float(fn):
    def call(x, *rest):
        return fn(to_float(x), *rest)
    call.__name__, call.__module__ = fn.__name__, fn.__module__
    return call


cholesky = op("cholesky(x, upper=False)", _cholesky,
              doc="Cholesky factor of a positive definite `x`: lower (`upper=False`) or upper.")
cholesky_inverse = op("cholesky_inverse(x, upper=False)", _cholesky_inverse,
                      doc="Inverse of `A` given its Cholesky factor `x` (lower or upper).")
det = op("det(x)", _float(jnp.linalg.det))
eig = op("eig(x)", _float(jnp.linalg.eig))
eigh = op("eigh(x)", _float(jnp.linalg.eigh))
inv = op("inv(x)", _float(jnp.linalg.inv))
lu_factor = op("lu_factor(x)", _float(jsl.lu_factor))
pinv = op("pinv(x, rcond=None)",
          lambda x, rcond: jnp.linalg.pinv(to_float(x)) if rcond is None
          else jnp.linalg.pinv(to_float(x), rtol=rcond))
qr = op("qr(x, mode='reduced')", lambda x, mode: jnp.linalg.qr(to_float(x), mode=mode))
solve = op("solve(a, b)", lambda a, b: jnp.linalg.solve(to_float(a), to_float(b)))
solve_triangular = op("solve_triangular(a, b, lower=False)", _solve_triangular)
svd = op("svd(x, full_matrices=True, compute_uv=True)",
         lambda x, full, uv: jnp.linalg.svd(to_float(x), full_matrices=full, compute_uv=uv))
lstsq = op("lstsq(a, b, rcond=None)", _lstsq, doc="Least-squares solution `x` of `a @ x = b`.")
matrix_rank = op("matrix_rank(x, tol=None)", _matrix_rank)
norm = op("norm(x, ord=None, axis=None, keepdims=False)", _norm,
          doc="Vector/matrix norm like `numpy.linalg.norm`; ints are computed in float32.")
jvp = op("jvp(fun, primals, tangents, has_aux=False)", jax.jvp)

__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq",
           "lu_factor", "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]
