"""Array operations for custom cells: `keras.ops` of Keras 3, on JAX.

`rnnkit.ops.NAME` has the name, signature, defaults and numbers of `keras.ops.NAME` on
JAX, for every public name of `keras.ops` 3.15 (checked against recorded Keras outputs in
tests/ops/test_keras_ops_coverage.py). Each op is a thin delegation to `jax.numpy`, `jax.nn`
or `jax.lax`, built from Keras's signature in one place (`rnnkit/ops/_build.py`). Every array
argument may also be an rnnkit Variable: it is replaced by its current value, so
`ops.matmul(x, self.kernel)` works inside a cell. The submodules `nn`, `linalg`, `numpy`
and `image` hold the same functions, grouped as in Keras. The few names that make no sense
in rnnkit (most of `image`, `conv_transpose`, `stft`, ...) exist and raise
`NotImplementedError` saying what to use instead.
"""

from __future__ import annotations

from rnnkit.ops import image, linalg, nn, numpy  # noqa: F401
from rnnkit.ops._build import FLOATX, _unwrap  # noqa: F401
from rnnkit.ops.core import *  # noqa: F401,F403
from rnnkit.ops.linalg import *  # noqa: F401,F403
from rnnkit.ops.math import *  # noqa: F401,F403
from rnnkit.ops.nn import *  # noqa: F401,F403
from rnnkit.ops.numpy import *  # noqa: F401,F403
