"""The mesh axis a batch is split over while a model step is traced under a distribution.

The trainer sets it (`batch_split(mesh, "batch")`); `rnnkit.core.fused` then runs each
layer's recurrence under `jax.shard_map` over that axis, so every device (and the native
loops, which XLA cannot partition) works on its own rows only.
"""

from __future__ import annotations

import contextlib
import threading

_local = threading.local()


@contextlib.contextmanager
def batch_split(mesh, axis_name):
    """Within the block, `current()` is `(mesh, axis_name)` (a `jax.sharding.Mesh`)."""
    previous = getattr(_local, "value", None)
    _local.value = (mesh, axis_name)
    try:
        yield
    finally:
        _local.value = previous


def current():
    """`(mesh, axis_name)` inside `batch_split`, else None."""
    return getattr(_local, "value", None)
