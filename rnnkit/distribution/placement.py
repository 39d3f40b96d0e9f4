"""Putting variables and batches where the current distribution says.

Variables go where `get_variable_layout` says (replicated unless a `LayoutMap` splits them);
a batch is split over the batch mesh axis. With several processes, each process passes its
own rows of every batch (`batch_size` rows per process, so the global batch has
`batch_size * num_processes` rows) and they are assembled into one global array without
any process holding the whole batch.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from rnnkit.distribution.processes import to_numpy


def place(value, sharding):
    """`value` (a NumPy or JAX array) laid out by `sharding`; unchanged if it already is."""
    if isinstance(value, jax.Array):
        if value.sharding.is_equivalent_to(sharding, value.ndim):
            return value
        if not value.is_fully_addressable:
            return jax.device_put(value, sharding)
    if jax.process_count() == 1:
        return jax.device_put(value, sharding)
    host = to_numpy(value)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def variable_sharding(dist, variable):
    return dist.get_variable_layout(variable).backend_layout


def place_variables(dist, variables):
    """Lays out each variable's current value as `dist` says (no copy when it already is)."""
    for v in variables:
        v._value = place(v._value, variable_sharding(dist, v))


def replicated(dist):
    return jax.sharding.NamedSharding(dist.device_mesh.backend_mesh,
                                      jax.sharding.PartitionSpec())


def check_batches(dist, n_local, batch_size, where):
    """Raises a ValueError naming the fix when a batch of `n_local` samples split into
    `batch_size` rows per process cannot be split evenly over the batch axis."""
    shards, procs = dist.batch_shards, jax.process_count()
    sizes = [min(batch_size, n_local)]
    if n_local > batch_size and n_local % batch_size:
        sizes.append(n_local % batch_size)
    k = shards // math.gcd(shards, procs)  # each process's rows must be a multiple of k
    per = f" per process ({procs} processes)" if procs > 1 else ""
    for size in sizes:
        if size % k:
            fix = (f"The last batch has {size} of the {n_local} samples{per}: drop or add "
                   f"samples so that it is a multiple of {k} too."
                   if size != sizes[0] else
                   f"Use a batch_size that is a multiple of {k}{per}, e.g. "
                   f"batch_size={_round_up(size, k)}.")
            raise ValueError(
                f"{where}(): a batch of {size * procs} samples cannot be split evenly over "
                f"the {shards} devices of the distribution's {dist.batch_dim_name!r} mesh "
                f"axis. " + fix)


def _round_up(n, k):
    return -(-n // k) * k


def shard_batch(dist, tree):
    """Global arrays from this process's rows (NumPy) of one batch, split over the batch
    axis; None leaves stay None."""
    procs = jax.process_count()

    def put(a):
        a = np.asarray(a)
        sharding = dist.get_data_layout(a.shape).backend_layout
        if procs == 1:
            return jax.device_put(a, sharding)
        return jax.make_array_from_process_local_data(
            sharding, a, (a.shape[0] * procs,) + a.shape[1:])

    return jax.tree_util.tree_map(put, tree)
