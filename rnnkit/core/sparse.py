"""Keras-on-TensorFlow's per-occurrence gradient squares for embedding tables.

In Keras (TensorFlow backend) an embedding table's gradient is a list of rows, one per
looked-up id, duplicates included. Adam, RMSprop and Adagrad square that gradient row by
row before the duplicates are summed, so their second-moment estimates see
`sum_j g_j**2`, not `(sum_j g_j)**2`. To give the same numbers, a training step passes a
zero "ghost" array per table; the lookup's backward pass returns the per-occurrence squares
as the ghost's gradient, and the optimizer uses them wherever it squares the gradient.
"""

from __future__ import annotations

import threading

import jax
import jax.numpy as jnp

_local = threading.local()


class ghosts:
    """Within this context, `ghost_for(var)` returns the ghost array given for `var`."""

    def __init__(self, mapping):
        self.mapping = mapping

    def __enter__(self):
        self._saved = getattr(_local, "mapping", None)
        _local.mapping = self.mapping
        return self

    def __exit__(self, *exc):
        _local.mapping = self._saved
        return False


def ghost_for(var):
    mapping = getattr(_local, "mapping", None)
    return None if mapping is None else mapping.get(id(var))


@jax.custom_vjp
def take_rows(table, ghost, ids):
    """`table[ids]`; the gradient of `ghost` is the sum of squared per-occurrence grads."""
    del ghost
    return jnp.take(table, ids, axis=0)


def _fwd(table, ghost, ids):
    del ghost
    return jnp.take(table, ids, axis=0), (ids, table)


def _bwd(res, g):
    ids, table = res
    shape, dtype = table.shape, table.dtype
    flat_ids = ids.reshape(-1)
    rows = g.reshape((flat_ids.shape[0],) + tuple(shape[1:]))
    d_table = jnp.zeros(shape, dtype).at[flat_ids].add(rows)
    d_ghost = jnp.zeros(shape, dtype).at[flat_ids].add(rows * rows)
    return d_table, d_ghost, None


take_rows.defvjp(_fwd, _bwd)
