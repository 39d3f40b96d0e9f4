"""Seeding and PRNG keys.

`set_random_seed(seed)` makes every later weight initialization and dropout mask
reproducible, like `keras.utils.set_random_seed`. Initializers and layers that are given
an explicit `seed` use it directly; the rest draw fresh keys from one global stream.
"""

from __future__ import annotations

import random as _py_random

import jax
import numpy as np

_global_seed: int | None = None
_counter = 0


def set_random_seed(seed: int) -> None:
    """Seeds rnnkit's global key stream, Python's `random` and NumPy's global RNG."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(
            f"set_random_seed expects an integer seed. Received: seed={seed!r}. "
            "Pass an int, e.g. set_random_seed(42)."
        )
    global _global_seed, _counter
    _global_seed = int(seed)
    _counter = 0
    _py_random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))


def _next_global_seed() -> int:
    global _global_seed, _counter
    if _global_seed is None:
        _global_seed = int(np.random.SeedSequence().entropy % (2**31))
    _counter += 1
    return (_global_seed * 1_000_003 + _counter) % (2**31 - 1)


def make_key(seed: int | None = None) -> jax.Array:
    """A PRNG key: from `seed` when given, else the next key of the global stream."""
    if seed is None:
        seed = _next_global_seed()
    return jax.random.PRNGKey(int(seed))


def draw_seed(seed: int | None = None) -> int:
    """An integer seed: `seed` itself when given, else the next one of the global stream."""
    return _next_global_seed() if seed is None else int(seed)
